# Template file (copier-mlops): `copier update` merges new versions into it.
"""What must be committed before a baseline is recorded: the model code, the parameters
and the golden data (with DVC, the data files their pointers record)."""

import hashlib
import subprocess
from pathlib import Path

import yaml

from ..config import Settings
from .code import model_code
from .fingerprint import PACKAGE_DIR


def guarded_paths(settings: Settings) -> list[Path]:
    """Model code, parameters and golden data: uncommitted edits to them block an update."""
    return [*model_code(PACKAGE_DIR), settings.golden_path.parent, settings.params_file]


def uncommitted_changes(paths: list[Path], root: Path) -> list[str] | None:
    """Uncommitted changes under the given paths, or None when root is not a git work tree."""
    try:
        completed = subprocess.run(
            ["git", "status", "--porcelain", "--", *map(str, paths)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    changes = [line[3:] for line in completed.stdout.splitlines()]
    return changes + unrecorded_dvc_files(paths)


def unrecorded_dvc_files(paths: list[Path]) -> list[str]:
    """Data files that DVC tracks (so git ignores them) whose bytes differ from the md5
    their committed `.dvc` pointer records: edited, but not recorded with `dvc add`."""
    changed = []
    for pointer in (p for path in paths if path.is_dir() for p in sorted(path.glob("*.dvc"))):
        data = pointer.with_suffix("")
        outs = yaml.safe_load(pointer.read_text()).get("outs", [])
        if data.is_file() and outs and md5_of(data) != outs[0].get("md5"):
            changed.append(f"{data.name} (not recorded: run `make golden-push`)")
    return changed


def md5_of(path: Path) -> str:
    """The md5 DVC records for a file (an identifier there, not a security measure)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
