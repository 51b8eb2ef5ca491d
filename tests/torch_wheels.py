"""PyTorch for the template's tests: a local CPU wheel, never PyPI's multi-GB CUDA builds.

A generated PyTorch project resolves torch from PyTorch's own index (tool.uv.sources in
its pyproject.toml). Here that index is out of reach and PyPI's Linux wheels are CUDA
builds, so the tests hand uv a config file (UV_CONFIG_FILE) that takes torch from a
directory of wheels instead: find-links there, the index source ignored for torch, and
every registry's torch hidden by an upload-date filter (find-links wheels carry no date,
so only they remain).

Where no wheel for the interpreter is found, PyTorch tests skip and say why; in CI
(CI=true) they fail instead, unless .ci/run declares the skip with a reason in
COPIER_MLOPS_SKIP_TORCH. `python -m tests.torch_wheels` prints the wheel the tests use.
"""

import os
import sys
from pathlib import Path

import pytest

from tests.helpers import IN_CI

WHEELS_DIR = Path(os.environ.get("COPIER_MLOPS_TORCH_WHEELS", "/opt/wheels"))
SKIP_REASON = os.environ.get("COPIER_MLOPS_SKIP_TORCH", "")
PYTHON_TAG = "cp311"  # generated projects' tests run on Python 3.11 (helpers.uv_env)


def find_wheel(directory: Path = WHEELS_DIR, python_tag: str = PYTHON_TAG) -> Path | None:
    """The newest torch wheel for `python_tag` on Linux x86-64 in `directory`, if any."""
    if not directory.is_dir():
        return None
    wheels = sorted(directory.glob(f"torch-*-{python_tag}-{python_tag}-*linux*_x86_64.whl"))
    return wheels[-1] if wheels else None


def require_wheel() -> Path:
    """The wheel, or a skip that says why (a failure in CI unless the skip is declared)."""
    wheel = find_wheel()
    if wheel is not None:
        return wheel
    message = (
        f"no torch wheel for {PYTHON_TAG} in {WHEELS_DIR}: the generated PyTorch projects' "
        "own tests cannot install torch here (point COPIER_MLOPS_TORCH_WHEELS at a directory "
        "holding one)"
    )
    if IN_CI and not SKIP_REASON:
        pytest.fail(f"{message}; CI must provide it, or .ci/run must declare the skip in "
                    "COPIER_MLOPS_SKIP_TORCH")  # fmt: skip
    pytest.skip(f"{message}; declared: {SKIP_REASON}" if SKIP_REASON else message)


def uv_config(directory: Path, wheel: Path) -> dict[str, str]:
    """Environment for uv that installs torch from `wheel`'s directory (config in `directory`)."""
    config = directory / "uv-torch.toml"
    config.write_text(
        f'find-links = ["{wheel.parent}"]\n'
        'no-sources-package = ["torch"]\n'
        "[exclude-newer-package]\n"
        'torch = "2000-01-01T00:00:00Z"\n'
    )
    return {"UV_CONFIG_FILE": str(config)}


def main() -> int:
    wheel = find_wheel()
    if wheel is None:
        declared = SKIP_REASON or "skip not declared"
        print(f"torch wheel: none for {PYTHON_TAG} in {WHEELS_DIR} ({declared})")
    else:
        print(f"torch wheel: {wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
