# Template file (copier-mlops): `copier update` merges new versions into it.
"""The "code" part of a golden fingerprint: what the model code does, not where it lives.

Each top-level definition of the modules that decide the scores is hashed by the name it
binds, as its syntax tree without docstrings and without imports. Rewording a docstring
or a comment, reformatting, or moving a function to another module (and the import lines
that follow it) leaves every digest as it was; changing what a definition does changes
its own.

Standard library only and no package imports: copier-mlops' update migrations load this
file on its own to re-key the baseline of a project whose files moved.
"""

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

# Recorded in the fingerprint beside the digests. A baseline with another value was
# hashed another way: "syntax tree without docstrings" (v0.3.0) kept one digest per
# module, and a baseline without the key was recorded by v0.2.0, which hashed bytes.
HASHING = "definitions without docstrings or imports"

# The modules, relative to the package, whose code decides the scores; those a project
# has (its own data engine's; a PyTorch project adds its network and estimator) are
# hashed.
MODEL_CODE = (
    "schema.py",
    "features.py",
    "model.py",
    "network.py",
    "core/contract.py",
    "core/pipeline.py",
    "core/engines/common.py",
    "core/engines/small.py",
    "core/engines/medium.py",
    "core/engines/large.py",
    "core/engines/batched.py",
    "core/engines/incremental.py",
    "core/torch_model.py",
    "core/torch_estimator.py",
    "core/torch_device.py",
)

DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
IMPORTS = (ast.Import, ast.ImportFrom)
BODIES = ("body", "orelse", "finalbody")


def model_code(package: Path) -> list[Path]:
    """The model code modules this package has."""
    return [package / name for name in MODEL_CODE if (package / name).is_file()]


def code_digests(package: Path) -> dict[str, str]:
    """The "code" section of the fingerprint of the package in `package`."""
    return definition_digests(path.read_text(encoding="utf-8") for path in model_code(package))


def definition_digests(sources: Iterable[str]) -> dict[str, str]:
    """sha256 of each top-level definition in `sources`, by the name it binds.

    A name bound in several modules gets one digest of all its definitions; a statement
    that binds no name (a module-level `if`) is listed by its own digest."""
    found: dict[str, list[str]] = {}
    for source in sources:
        for node in _stripped(ast.parse(source)).body:
            digest = _sha256(json.dumps(_canonical(node)))
            for name in _bound_names(node) or [f"statement {digest[:12]}"]:
                found.setdefault(name, []).append(digest)
    return {name: _sha256(" ".join(sorted(digests))) for name, digests in sorted(found.items())}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _stripped(tree: ast.Module) -> ast.Module:
    """The tree without docstrings and import statements (an emptied body becomes `pass`)."""
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:]
        for field in BODIES:
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            kept = [statement for statement in body if not isinstance(statement, IMPORTS)]
            emptied = not kept and (bool(body) or field == "body") and node is not tree
            setattr(node, field, [ast.Pass()] if emptied else kept)
    return tree


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    else:
        return []
    return [
        name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)
    ]


def _canonical(node: object) -> object:
    """A syntax tree as plain data, without positions, and without the empty fields that
    some Python versions add and others leave out, so every version gives the same."""
    if isinstance(node, ast.AST):
        fields = {
            name: _canonical(value)
            for name, value in ast.iter_fields(node)
            if value is not None and not (isinstance(value, list) and not value)
        }
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    return repr(node)
