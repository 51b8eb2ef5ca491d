"""Migration to copier-mlops 0.4.0: the golden fingerprint hashes definitions, not modules.

From 0.4.0 the template moves code between modules (golden.py is the golden/ package),
and the "code" part of a golden fingerprint hashes each top-level definition of the model
code by name (`golden/code.py`), so a move changes nothing. A baseline recorded by 0.3.0
holds one digest per module instead, which no longer compares. The baseline is the
team's, so `copier update` never writes it; Copier runs this script from `_migrations` in
copier.yml, in the project's root, ahead of an update that crosses 0.4.0:

    python migrate_0_4_0_layout.py before ANSWERS_FILE TEMPLATE_DIR

A baseline (tests/golden/baseline/fingerprint.json) hashed as 0.3.0 does, whose digests
match the model code as it is, is current: its code part is hashed again, the 0.4.0 way,
from that same code, before the update changes any of it; a definition this release
changes without changing what training computes (SCORE_NEUTRAL, each with why) gets
its new digest. Nothing else in the baseline changes (metrics, predictions, model, data,
parameters, libraries). After the update the
golden tests compare it with the updated code: where the update only moved code they
pass, with no new baseline; where it changed what a definition does, they name it. A
baseline that is not current, or that 0.2.0 recorded (it hashed bytes), is left as it
is: its golden tests ask for `make golden-update` as before. The hashing is loaded from
TEMPLATE_DIR's golden/code.py, the very code the updated project runs. A second run
changes nothing.
"""

import ast
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import yaml

VERSION = "0.4.0"
STAGES = ("before",)
BASELINE = Path("tests/golden/baseline/fingerprint.json")
CODE_MODULE = Path("template/src/{{ package_name }}/golden/code.py")
# Definitions this release changes without changing what training computes, by name:
# (digest in 0.3.0, digest in 0.4.0). A baseline that recorded the first gets the second,
# as if recorded by this release; tests/test_migrations.py checks both against the code.
SCORE_NEUTRAL = {
    # Contract.records_frame, which reads service requests only, takes ISO 8601 datetimes
    # of any precision in one batch.
    "Contract": (
        "349f00fc0b9ee686a5a59d682f3c631f41e63e586dcfe79a29a19f4f57521992",
        "cc909d82e241ac63ae1a0d6da2d80998e3ad4e2bcca4789477d4937b331f13db",
    ),
}
# How 0.3.0 hashed each module: its whole syntax tree, without docstrings.
V0_3_0_HASHING = "syntax tree without docstrings"
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class MigrationError(Exception):
    """Something the team must sort out before the update can go on."""


def package_name(answers_file: Path) -> str:
    if not answers_file.is_file():
        raise MigrationError(
            f"{answers_file} is missing: run the update from the project's root, where "
            "copier recorded its answers"
        )
    answers = yaml.safe_load(answers_file.read_text()) or {}
    name = answers.get("package_name") if isinstance(answers, dict) else None
    if not isinstance(name, str) or not name.isidentifier():
        raise MigrationError(f"{answers_file} records no valid package_name (found {name!r})")
    return name


def load_hashing(template_dir: Path) -> ModuleType:
    """The new release's golden/code.py (standard library only), loaded on its own."""
    path = template_dir / CODE_MODULE
    if not path.is_file():
        raise MigrationError(f"{path} is missing: TEMPLATE_DIR is not copier-mlops {VERSION}")
    spec = importlib.util.spec_from_file_location("copier_mlops_golden_code", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def v0_3_0_digest(source: str) -> str:
    """sha256 of a module as 0.3.0 fingerprinted it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(json.dumps(canonical(tree)).encode()).hexdigest()


def canonical(node: object) -> object:
    if isinstance(node, ast.AST):
        fields = {
            name: canonical(value)
            for name, value in ast.iter_fields(node)
            if value is not None and not (isinstance(value, list) and not value)
        }
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [canonical(item) for item in node]
    return repr(node)


def read_baseline() -> dict | None:
    if not BASELINE.is_file():
        return None
    try:
        recorded = json.loads(BASELINE.read_text())
    except json.JSONDecodeError as error:
        message = f"{BASELINE} is not valid JSON ({error}): restore it from git"
        raise MigrationError(message) from None
    return recorded if isinstance(recorded, dict) else None


def read_modules(package: Path, names: list[str]) -> dict[str, str | None]:
    """The text of each module of a 0.3.0 code part, None where it is gone."""
    paths = {name: package / name for name in sorted(names)}
    return {
        name: path.read_text(encoding="utf-8") if path.is_file() else None
        for name, path in paths.items()
    }


def stale_modules(sources: dict[str, str | None], digests: dict) -> list[str]:
    """The modules of a 0.3.0 code part that no longer hash to what it recorded."""
    return [
        name
        for name, digest in sorted(digests.items())
        if sources[name] is None or v0_3_0_digest(sources[name]) != digest
    ]


def before(package: Path, template_dir: Path) -> str:
    recorded = read_baseline()
    if recorded is None:
        return f"{BASELINE}: no baseline, nothing to migrate"
    hashing = load_hashing(template_dir)
    if recorded.get("code_hashing") == hashing.HASHING:
        return f"{BASELINE}: already hashed the {VERSION} way"
    if recorded.get("code_hashing") != V0_3_0_HASHING or not isinstance(recorded.get("code"), dict):
        return (
            f"{BASELINE} was recorded before 0.3.0 (it hashed the bytes of each file): left "
            "as it is; after the update, record a new baseline with `make golden-update`"
        )
    sources = read_modules(package, list(recorded["code"]))
    stale = stale_modules(sources, recorded["code"])
    if stale:
        return (
            f"{BASELINE} does not match the code as it is ({', '.join(stale)} changed since "
            "it was recorded): left as it is; after the update, check with `make "
            "golden-check` and record a new baseline with `make golden-update`"
        )
    digests = hashing.definition_digests(sources.values())
    for name, (before_digest, after_digest) in SCORE_NEUTRAL.items():
        if digests.get(name) == before_digest:
            digests[name] = after_digest
    recorded["code"] = digests
    recorded["code_hashing"] = hashing.HASHING
    BASELINE.write_text(json.dumps(recorded, indent=2) + "\n")
    return (
        f"{BASELINE}: the code it was recorded with is hashed again, by definition; its "
        "scores, predictions and model are unchanged. The golden tests compare it with the "
        "updated code (`make golden-check`)."
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in STAGES:
        print(f"usage: {Path(__file__).name} before ANSWERS_FILE TEMPLATE_DIR", file=sys.stderr)
        return 2
    _, answers_file, template_dir = argv
    try:
        package = Path("src") / package_name(Path(answers_file))
        message = before(package, Path(template_dir))
    except MigrationError as error:
        print(f"copier-mlops {VERSION} migration: {error}", file=sys.stderr)
        return 1
    print(f"copier-mlops {VERSION} migration: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
