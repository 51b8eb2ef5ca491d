"""The golden fingerprint hashes what decides the results, not the bytes of the code.

`source_digest` in the generated golden.py is loaded straight from the template (the
file is not a Jinja template): its functions and constants only, without the package
imports, so it runs here without generating or installing a project.
"""

import ast
import hashlib
import json
import textwrap
from collections.abc import Callable

import pytest

from tests.helpers import TEMPLATE

GOLDEN = TEMPLATE / "src" / "{{ package_name }}" / "golden.py"
NEEDED = {"DOCUMENTED", "_digest", "source_digest", "_canonical"}


def load_golden_hashing() -> dict:
    """The hashing functions and constants of golden.py, compiled on their own."""
    tree = ast.parse(GOLDEN.read_text(encoding="utf-8"))
    kept = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in NEEDED)
        or (isinstance(node, ast.Assign) and {getattr(t, "id", "") for t in node.targets} & NEEDED)
    ]
    assert len(kept) == len(NEEDED), f"golden.py no longer defines all of {sorted(NEEDED)}"
    namespace = {"ast": ast, "hashlib": hashlib, "json": json}
    exec(compile(ast.Module(kept, type_ignores=[]), str(GOLDEN), "exec"), namespace)
    return namespace


HASHING = load_golden_hashing()
source_digest: Callable[[str], str] = HASHING["source_digest"]

MODULE = '''\
"""A module."""

import math

LIMIT = 3


class Scaler:
    """Scales numbers."""

    factor: float = 2.0

    def apply(self, value: float) -> float:
        """Scale one value."""
        return value * self.factor


def clipped(values: list[float]) -> list[float]:
    """Values up to LIMIT."""
    return [min(value, LIMIT) for value in values]


async def fetch(url: str) -> str:
    """Fetch a page."""
    return url
'''


def digest(source: str) -> str:
    return source_digest(textwrap.dedent(source))


def edited(old: str, new: str) -> str:
    assert old in MODULE, old
    return MODULE.replace(old, new, 1)


@pytest.mark.parametrize(
    "source",
    [
        edited('"""A module."""', '"""The module, described at length.\n\nMore words.\n"""'),
        edited('"""A module."""\n', ""),
        edited('    """Scales numbers."""', "    '''Makes numbers larger.'''"),
        edited('        """Scale one value."""\n', ""),
        edited('    """Values up to LIMIT."""', '    """Values, capped."""'),
        edited('    """Fetch a page."""', '    """Get a page."""'),
        edited("LIMIT = 3\n", "LIMIT = 3  # the largest value kept\n# a note\n"),
        edited(
            "    return [min(value, LIMIT) for value in values]",
            "    return [\n        min(value, LIMIT)\n        for value in values\n    ]",
        ),
        edited("factor: float = 2.0", "factor: float = (2.0)"),
        "\n\n\n" + MODULE.replace("\n", "\r\n"),
        ast.unparse(ast.parse(MODULE)),
    ],
    ids=[
        "module-docstring",
        "module-docstring-removed",
        "class-docstring",
        "method-docstring-removed",
        "function-docstring",
        "async-docstring",
        "comments",
        "line-breaks",
        "parentheses",
        "blank-lines-and-crlf",
        "reformatted",
    ],
)
def test_what_cannot_change_results_leaves_the_digest(source):
    assert source_digest(source) == source_digest(MODULE)


@pytest.mark.parametrize(
    "source",
    [
        edited("LIMIT = 3", "LIMIT = 4"),
        edited("LIMIT = 3", "LIMIT = 3.0"),
        edited("factor: float = 2.0", "factor: float = 2.5"),
        edited("value * self.factor", "value / self.factor"),
        edited("min(value, LIMIT)", "max(value, LIMIT)"),
        edited("import math\n", "import math\nimport os\n"),
        edited("return url", "return url.strip()"),
        edited("async def fetch", "def fetch"),
        MODULE + "\nclipped = sorted\n",
    ],
    ids=[
        "constant",
        "constant-type",
        "class-attribute",
        "operator",
        "call",
        "import",
        "return-value",
        "async",
        "appended-statement",
    ],
)
def test_a_behaviour_change_moves_the_digest(source):
    assert source_digest(source) != source_digest(MODULE)


def test_a_string_that_is_not_a_docstring_counts():
    with_string = MODULE.replace("LIMIT = 3", 'LIMIT = 3\nNAME = "scaler"')
    renamed = with_string.replace('"scaler"', '"other"')
    assert source_digest(with_string) != source_digest(renamed)
    # A string after the first statement of a body is a value, not a docstring.
    assert digest('x = 1\n"note"\n') != digest("x = 1\n")


def test_a_body_of_only_a_docstring_hashes_like_pass():
    assert digest('def f():\n    """Nothing."""\n') == digest("def f():\n    pass\n")
    assert digest('def f():\n    """Nothing."""\n') != digest("def f():\n    return 1\n")


def test_the_digest_holds_no_positions_or_empty_fields():
    """Positions and empty fields differ between Python versions; they are left out of
    what is hashed, so a Python upgrade alone does not look like a code change."""
    tree = ast.parse("def f(x):\n    return x\n")
    text = json.dumps(HASHING["_canonical"](tree))
    for absent in ("lineno", "col_offset", "type_params", "decorator_list", "null", "[]"):
        assert absent not in text
    assert text.startswith('["Module", {"body": [["FunctionDef", {"name": "\'f\'"')
