"""Migration to copier-mlops 0.4.0: the template's plumbing moves into the package's core/,
and the golden fingerprint hashes definitions, not modules.

From 0.4.0 the team's modules (schema.py, features.py, model.py, network.py) stay at the
top of the package and every template-owned module moves into `core/` (cli.py, config.py,
contract.py, pipeline.py, engines/, golden/, monitoring/, serve.py and the rest, in
MOVED_MODULES). `copier update` writes the new files and removes the old ones. The team's
files are never updated, so the `after` stage rewrites their imports of a moved module
(`from .contract import ...` becomes `from .core.contract import ...`, and
`<package>.pipeline` becomes `<package>.core.pipeline`) in every Python file of the
project outside core/: the team's modules, tests and scripts. Nothing else in them changes,
so their golden digests stay the same (imports are not hashed). A moved module the team
changed since the last update (git log after the last change of the answers file, or
uncommitted) would be removed by the update with the change: `before` keeps it as
`core/<module>.before-v0.4.0`, beside the new version, and `after` prints how to carry
the change over.

From 0.4.0 the template moves code between modules (golden.py is the golden/ package),
and the "code" part of a golden fingerprint hashes each top-level definition of the model
code by name (`golden/code.py`), so a move changes nothing. A baseline recorded by 0.3.0
holds one digest per module instead, which no longer compares. The baseline is the
team's, so `copier update` never writes it; Copier runs this script from `_migrations` in
copier.yml, in the project's root, ahead of an update that crosses 0.4.0:

    python migrate_0_4_0_layout.py before ANSWERS_FILE TEMPLATE_DIR
    python migrate_0_4_0_layout.py after ANSWERS_FILE TEMPLATE_DIR

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
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from migration import MigrationError, read_answers, run

VERSION = "0.4.0"
# The template-owned modules and sub-packages of src/<package>/ that 0.4.0 moves to core/.
MOVED_MODULES = (
    "adopt",
    "cli",
    "config",
    "contract",
    "data",
    "distributed",
    "engines",
    "golden",
    "log",
    "monitoring",
    "pipeline",
    "serve",
    "synthetic",
    "torch_model",
    "tracking",
)
CORE = "core"
BACKUP_SUFFIX = ".before-v0.4.0"
ANSWERS_FILE = ".copier-answers.yml"
RELATIVE_IMPORT = re.compile(
    r"^(?P<indent>\s*)from (?P<dots>\.+)(?P<module>[\w.]*) import (?P<names>.*)$"
)
BASELINE = Path("tests/golden/baseline/fingerprint.json")
CODE_MODULE = Path("template/src/{{ package_name }}/core/golden/code.py")
# Definitions this release changes without changing what training computes, by name:
# (digest in 0.3.0, digest in 0.4.0). A baseline that recorded the first gets the second,
# as if recorded by this release; tests/test_migrations.py checks both against the code.
SCORE_NEUTRAL = {
    # Contract.records_frame and Contract._request_field, which read and type service
    # requests only: ISO 8601 datetimes of any precision in one batch; JSON numbers and
    # booleans only (strict fields).
    "Contract": (
        "349f00fc0b9ee686a5a59d682f3c631f41e63e586dcfe79a29a19f4f57521992",
        "6e1f6f80c92a0b245f78a2216f3db19ea8a87e4860a590c991846c348bdce9b8",
    ),
    # torch_model.py moves into core/: the reference a saved model holds to its network
    # stays relative to the project's package (".network:MLP"), not to core/.
    "_reference": (
        "671c6da04c3dc880c75849a0cb4eaabbf6181fedf2c8065aeb68c8ced21977ba",
        "a596c69ea2620b43124552ba20f48a9226fa320485c560a1ad69cdefdc453df9",
    ),
    "_resolve": (
        "d38530ad3b2e395328b9b2908323014618f4c230ea3914a97870cae0fc1ca9db",
        "94ad66d35ee0c4ca9e0a73128a7d989663fa60a8cc42ce8d7545d127f15ff14e",
    ),
}
# How 0.3.0 hashed each module: its whole syntax tree, without docstrings.
V0_3_0_HASHING = "syntax tree without docstrings"
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


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


# -- the move into core/ ------------------------------------------------------------------


def git(*arguments: str) -> str:
    completed = subprocess.run(["git", *arguments], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise MigrationError(f"git {' '.join(arguments)} failed: {completed.stderr.strip()}")
    return completed.stdout


def moved_paths(package: Path) -> list[Path]:
    """The files of the moved modules still at their old place in the package."""
    found = []
    for name in MOVED_MODULES:
        module, folder = package / f"{name}.py", package / name
        if module.is_file():
            found.append(module)
        elif folder.is_dir():
            found += sorted(path for path in folder.rglob("*.py") if path.is_file())
    return found


def changed_since_last_update(paths: list[Path]) -> list[Path]:
    """The paths committed since the answers file last changed (the last `copier copy` or
    `copier update`), or changed and not committed."""
    if not paths:
        return []
    last = git("log", "-1", "--format=%H", "--", ANSWERS_FILE).strip()
    names = [path.as_posix() for path in paths]
    changed = set(git("status", "--porcelain", "--", *names).splitlines())
    changed = {line[3:] for line in changed}
    if last:
        changed |= set(git("diff", "--name-only", last, "HEAD", "--", *names).splitlines())
    return [path for path in paths if path.as_posix() in changed]


def backup_of(package: Path, path: Path) -> Path:
    """Where a changed moved module is kept: beside its new version in core/."""
    target = package / CORE / path.relative_to(package)
    return target.with_name(target.name + BACKUP_SUFFIX)


def keep_changed_modules(package: Path) -> list[str]:
    kept = []
    for path in changed_since_last_update(moved_paths(package)):
        backup = backup_of(package, path)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, backup)
        git("add", "--", backup.as_posix())
        kept.append(f"{path} (changed by the team) is kept as {backup}")
    return kept


def rewrite_relative(line: str, location: list[str]) -> str:
    """A `from .x import y` line of a module in the package's folder `location` (parts
    below the package), with a moved module's new place."""
    match = RELATIVE_IMPORT.match(line)
    if not match:
        return line
    level = len(match["dots"])
    if level - 1 > len(location):
        return line
    base = location[: len(location) - (level - 1)]
    target = base + [part for part in match["module"].split(".") if part]
    names = match["names"]
    if len(target) == len(base) == 0:
        # `from . import config, golden`: the package's own modules, by name.
        imported = [name.split(" as ")[0].strip(" ()") for name in names.split(",")]
        if not imported or any(name not in MOVED_MODULES for name in imported):
            return line
        target = [CORE]
    elif base or target[0] not in MOVED_MODULES:
        return line
    else:
        target = [CORE, *target]
    common = 0
    while common < min(len(location), len(target)) and location[common] == target[common]:
        common += 1
    dots = "." * (len(location) - common + 1)
    return f"{match['indent']}from {dots}{'.'.join(target[common:])} import {names}"


def rewrite_imports(text: str, package: str, location: list[str] | None) -> str:
    """`text` with its imports of moved modules pointed at core/; `location` is the
    folder of the file inside the package (None: a file outside it, such as a test)."""
    moved = "|".join(MOVED_MODULES)
    text = re.sub(rf"\b{package}\.({moved})\b", rf"{package}.{CORE}.\1", text)
    text = re.sub(
        rf"^(\s*)from {package} import ((?:{moved})(?:\s*,\s*(?:{moved}))*)\s*$",
        rf"\1from {package}.{CORE} import \2",
        text,
        flags=re.M,
    )
    lines = text.split("\n")
    if location is not None:
        lines = [rewrite_relative(line, location) for line in lines]
    return "\n".join(sorted_import_runs(lines, package))


def import_key(line: str, package: str) -> tuple | None:
    """How ruff's isort orders a one-line `from X import y` among its neighbours: relative
    imports furthest first, then by module; None for any other line."""
    match = re.match(r"^from (\.*)([\w.]*) import [^()]*$", line)
    if not match or not (match[1] or match[2] == package or match[2].startswith(package + ".")):
        return None
    return (bool(match[1]), -len(match[1]), match[2].lower())


def sorted_import_runs(lines: list[str], package: str) -> list[str]:
    """Runs of consecutive one-line imports of the package sorted again, so a file whose
    imports the rewrite changed stays as `ruff check` (isort) wants it."""
    result: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if import_key(line, package) is not None:
            run.append(line)
            continue
        result += sorted(run, key=lambda item: import_key(item, package))
        run = []
        result.append(line)
    return result[:-1]


def team_python_files(package: Path) -> list[Path]:
    """The project's Python files outside core/ (tracked or not, but not ignored)."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "--", "*.py")
    core = package / CORE
    return [
        path
        for path in map(Path, sorted(set(listed.splitlines())))
        if path.is_file() and core not in path.parents
    ]


def rewrite_team_imports(package: Path) -> list[Path]:
    rewritten = []
    for path in team_python_files(package):
        inside = package in path.parents
        location = list(path.parent.relative_to(package).parts) if inside else None
        text = path.read_text(encoding="utf-8")
        new = rewrite_imports(text, package.name, location)
        if new != text:
            path.write_text(new, encoding="utf-8")
            rewritten.append(path)
    return rewritten


def after(package: Path) -> str:
    lines = []
    rewritten = rewrite_team_imports(package)
    if rewritten:
        lines.append("imports of the modules now in core/ rewritten in:")
        lines += [f"  {path}" for path in rewritten]
    else:
        lines.append("no file of yours imports a module that moved into core/")
    backups = sorted((package / CORE).rglob(f"*{BACKUP_SUFFIX}"))
    if backups:
        lines.append("Modules you had changed are kept beside their new versions in core/:")
        for number, backup in enumerate(backups, 1):
            new = backup.with_name(backup.name.removesuffix(BACKUP_SUFFIX))
            lines.append(f"  {number}. git diff --no-index {backup} {new}")
        lines += [
            "  Carry what you need into your own files (model.py, features.py, a module of",
            "  yours) or an extension point (docs/ownership.md): core/ is the template's and",
            "  later updates change it. Then delete the .before-v0.4.0 copies.",
        ]
    return "\n".join(lines)


def migrate(stage: str, answers_file: Path, template_dir: Path) -> str:
    package = Path("src") / read_answers(answers_file)["package_name"]
    if stage == "after":
        return after(package)
    return "\n".join([before(package, template_dir), *keep_changed_modules(package)])


if __name__ == "__main__":
    arguments = ("ANSWERS_FILE", "TEMPLATE_DIR")
    sys.exit(run(VERSION, Path(__file__).name, sys.argv[1:], migrate, *arguments))
