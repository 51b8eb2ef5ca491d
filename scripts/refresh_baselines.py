"""Recompute the golden baselines that ship with the template, one per variant.

A variant is a combination of the answers that change what training computes (the data
engine and the model framework). For each one this generates a project, runs its own
`golden update`, and copies the baseline back into the variant's conditional folder in
template/, so every freshly generated project compares its scores with numbers produced
on another machine. The golden manifest depends on the data only and is copied once.

    uv run python scripts/refresh_baselines.py                  # every variant
    uv run python scripts/refresh_baselines.py --variant medium-sklearn
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
MANIFEST = "data/golden/manifest.json"
BASELINE = "tests/golden/baseline"
# Every combination of the answers that decide the scores, with a stored baseline.
VARIANTS = tuple(
    {"data_size": data_size, "framework": framework, "task": task}
    for task in ("classification", "regression")
    for framework in ("sklearn", "pytorch")
    for data_size in ("small", "medium", "large")
)


def variant_id(variant: dict[str, str]) -> str:
    return f"{variant['data_size']}-{variant['framework']}-{variant['task']}"


def baseline_dir(variant: dict[str, str]) -> Path:
    """The template folder that becomes tests/golden/baseline/ for this variant only."""
    flag = "baseline_" + variant_id(variant).replace("-", "_")  # derived in copier.yml
    return TEMPLATE / "tests" / "golden" / f"{{% if {flag} %}}baseline{{% endif %}}"


def refresh(variant: dict[str, str], workdir: Path, *, manifest: bool) -> None:
    project = workdir / variant_id(variant)
    run_copy(
        str(ROOT),
        project,
        data={"project_name": "Baseline", **variant},
        defaults=True,
        unsafe=False,
        vcs_ref="HEAD",
        quiet=True,
    )
    shutil.rmtree(project / BASELINE, ignore_errors=True)
    (project / MANIFEST).unlink()
    # Threads instead of worker processes: the large variant's results do not depend on it.
    # Every golden run trains on the CPU; PyTorch installs from the local CPU wheel the
    # tests use (tests/torch_wheels.py).
    env = {**os.environ, "BASELINE_DASK__PROCESSES": "false", "BASELINE_DEVICE": "cpu"}
    if variant["framework"] == "pytorch":
        wheel = torch_wheels.find_wheel()
        if wheel is None:
            sys.exit(f"no torch wheel for {torch_wheels.PYTHON_TAG} in {torch_wheels.WHEELS_DIR}")
        env |= torch_wheels.uv_config(workdir, wheel)
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, check=True, env=env)
    subprocess.run(
        ["uv", "run", "baseline", "--console-logs", "golden", "update", "--yes", "--force"],
        cwd=project,
        env=env,
        check=True,
    )
    destination = baseline_dir(variant)
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(project / BASELINE, destination)
    print(f"updated {destination.relative_to(ROOT)}")
    if manifest:
        shutil.copy2(project / MANIFEST, TEMPLATE / MANIFEST)
        print(f"updated template/{MANIFEST}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant",
        action="append",
        choices=[variant_id(variant) for variant in VARIANTS],
        help="Refresh only this variant (repeatable); default: every variant.",
    )
    chosen = parser.parse_args().variant
    variants = [v for v in VARIANTS if chosen is None or variant_id(v) in chosen]
    with tempfile.TemporaryDirectory(prefix="copier-mlops-baseline-") as workdir:
        for index, variant in enumerate(variants):
            refresh(variant, Path(workdir), manifest=index == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
