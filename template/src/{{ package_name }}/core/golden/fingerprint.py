# Template file (copier-mlops): `copier update` merges new versions into it.
"""The fingerprint of a run: hashes of the data, the parameters and the model code
(golden/code.py), and the library versions, and what differs between two of them."""

import hashlib
import json
import platform
import re
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from ..config import Settings
from ..data import sha256_of
from .code import HASHING, code_digests

PACKAGE_DIR = Path(__file__).resolve().parents[2]
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(settings: Settings, data_path: Path | None = None) -> dict:
    """Hashes of the data, parameters and model code, and the library versions used."""
    data_path = data_path or settings.golden_path
    params = json.dumps(settings.params(), sort_keys=True).encode()
    return {
        "data": {data_path.name: sha256_of(data_path)},
        "params": _digest(params),
        "code": code_digests(PACKAGE_DIR),
        "code_hashing": HASHING,
        "libraries": {"python": platform.python_version()}
        | {name: _installed_version(name) for name in declared_libraries()},
    }


def declared_libraries() -> list[str]:
    """The libraries this package depends on, as pyproject.toml declares them."""
    try:
        requirements = requires(__package__.partition(".")[0]) or []
    except PackageNotFoundError:
        return []
    return sorted(
        {
            REQUIREMENT_NAME.match(requirement).group()
            for requirement in requirements
            if "extra ==" not in requirement
        }
    )


def _installed_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def fingerprint_changes(baseline: dict, current: dict) -> tuple[list[str], list[str]]:
    """What differs between two fingerprints: (inputs that changed, library versions)."""
    inputs = [f"data: {name}" for name in _changed(baseline.get("data"), current["data"])]
    if baseline.get("code_hashing") == current.get("code_hashing"):
        inputs += [f"code: {name}" for name in _changed(baseline.get("code"), current["code"])]
    else:
        inputs.append(
            "code: the baseline was recorded by an older template, which hashed the code "
            "another way (record a new baseline once; edits to docstrings and comments, and "
            "moves between modules, no longer count afterwards)"
        )
    if baseline.get("params") != current["params"]:
        inputs.append("params: params.yml or its environment overrides")
    before, after = baseline.get("libraries", {}), current["libraries"]
    libraries = [
        f"{name} {before.get(name, '-')} -> {after.get(name, '-')}"
        for name in _changed(before, after)
    ]
    return inputs, libraries


def _changed(before: dict | None, after: dict) -> list[str]:
    before = before or {}
    return [
        name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
    ]
