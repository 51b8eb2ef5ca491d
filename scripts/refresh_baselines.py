"""Recompute the golden baseline that ships with the template.

Generates a project with the default answers, runs its own `golden update`, and
copies the manifest and baseline back into template/, so every freshly generated
project compares its scores with numbers produced on another machine.

    uv run python scripts/refresh_baselines.py
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
# What `golden update` writes, relative to a generated project and to template/.
OUTPUTS = ("data/golden/manifest.json", "tests/golden/baseline")


def refresh(workdir: Path) -> None:
    project = workdir / "project"
    run_copy(
        str(ROOT),
        project,
        data={"project_name": "Baseline"},
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
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, check=True)
    subprocess.run(
        ["uv", "run", "baseline", "--console-logs", "golden", "update", "--yes", "--force"],
        cwd=project,
        check=True,
    )
    for target in OUTPUTS:
        source, destination = project / target, TEMPLATE / target
        if source.is_dir():
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(source, destination)
        else:
            shutil.copy2(source, destination)
        print(f"updated template/{target}")


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory(prefix="copier-mlops-baseline-") as workdir:
        refresh(Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
