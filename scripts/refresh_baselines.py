"""Recompute the golden baselines that ship with the template, one per model framework.

Generates a project with each framework's answers, runs its own `golden update`, and
copies the manifest and baseline back into template/, so every freshly generated
project compares its scores with numbers produced on another machine. PyTorch
installs from the local CPU wheel the tests use (tests/torch_wheels.py) and trains on
the CPU, as every golden run does.

    uv run python scripts/refresh_baselines.py [--framework sklearn|pytorch]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import torch_wheels  # the repository root is on the path just above

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
# What `golden update` writes, relative to a generated project.
OUTPUTS = ("data/golden/manifest.json", "tests/golden/baseline")
FRAMEWORKS = ("sklearn", "pytorch")


def template_path(target: str, framework: str) -> str:
    """Where an output lives in template/: each framework has its own baseline directory."""
    if target == "tests/golden/baseline":
        condition = f"data_size == 'small' and framework == '{framework}'"
        return f"tests/golden/{{% if {condition} %}}baseline{{% endif %}}"
    return target


def refresh(workdir: Path, framework: str) -> None:
    project = workdir / "project"
    env = {**os.environ, "BASELINE_DEVICE": "cpu"}
    if framework == "pytorch":
        wheel = torch_wheels.find_wheel()
        if wheel is None:
            sys.exit(f"no torch wheel for {torch_wheels.PYTHON_TAG} in {torch_wheels.WHEELS_DIR}")
        env |= torch_wheels.uv_config(workdir, wheel)
    run_copy(
        str(ROOT),
        project,
        data={"project_name": "Baseline", "framework": framework},
        defaults=True,
        unsafe=False,
        vcs_ref="HEAD",
        quiet=True,
    )
    for target in OUTPUTS:
        path = project / target
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=env, check=True)
    subprocess.run(
        ["uv", "run", "baseline", "--console-logs", "golden", "update", "--yes", "--force"],
        cwd=project,
        env=env,
        check=True,
    )
    for target in OUTPUTS:
        source, destination = project / target, TEMPLATE / template_path(target, framework)
        if source.is_dir():
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(source, destination)
        else:
            shutil.copy2(source, destination)
        print(f"updated template/{template_path(target, framework)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, action="append")
    for framework in parser.parse_args().framework or FRAMEWORKS:
        with tempfile.TemporaryDirectory(prefix="copier-mlops-baseline-") as workdir:
            refresh(Path(workdir), framework)
    return 0


if __name__ == "__main__":
    sys.exit(main())
