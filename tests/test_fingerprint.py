"""The golden fingerprint hashes what decides the results, not the bytes of the code.

The generated `golden/code.py` has no package imports and no Jinja, so it is loaded here
straight from the template, without generating or installing a project.
"""

import ast
import importlib.util
import json
import textwrap

import pytest

from tests.helpers import TEMPLATE

CODE = TEMPLATE / "src" / "{{ package_name }}" / "core" / "golden" / "code.py"


def load_code_hashing():
    """golden/code.py as a module of its own (the update migrations load it the same way)."""
    spec = importlib.util.spec_from_file_location("golden_code", CODE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


code = load_code_hashing()


def source_digest(source: str) -> dict[str, str]:
    """The digests of one module's definitions."""
    return code.definition_digests([source])


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
        edited("import math\n", "import math\nimport os\n"),
        edited("import math\n", ""),
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
        "import-added",
        "import-removed",
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
    text = json.dumps(code._canonical(tree))
    for absent in ("lineno", "col_offset", "type_params", "decorator_list", "null", "[]"):
        assert absent not in text
    assert text.startswith('["Module", {"body": [["FunctionDef", {"name": "\'f\'"')


def test_a_definition_moved_to_another_module_keeps_its_digest():
    """Moving `clipped` (and its import lines) to another module changes no digest; the
    report names what changed by definition, not by file."""
    tree = ast.parse(MODULE)
    moved = next(node for node in tree.body if getattr(node, "name", "") == "clipped")
    tree.body.remove(moved)
    other = "from .numbers import LIMIT\n\n\n" + ast.unparse(moved) + "\n"
    before = code.definition_digests([MODULE])
    assert code.definition_digests([ast.unparse(tree), other]) == before
    assert sorted(before) == ["LIMIT", "Scaler", "clipped", "fetch"]


def test_a_name_bound_in_two_modules_counts_each_definition():
    twice = code.definition_digests(["LIMIT = 3\n", "LIMIT = 4\n"])
    assert twice != code.definition_digests(["LIMIT = 3\n"])
    assert twice == code.definition_digests(["LIMIT = 4\n", "LIMIT = 3\n"])
    assert list(twice) == ["LIMIT"]


def test_a_statement_that_binds_no_name_is_listed_by_its_digest():
    digests = code.definition_digests(["import os\nif os.sep:\n    import sys\n"])
    (name,) = digests
    assert name.startswith("statement ")
    assert code.definition_digests(["if os.sep:\n    pass\n"]) == digests


def test_the_code_section_covers_the_model_modules_a_package_has(tmp_path):
    (tmp_path / "schema.py").write_text("CONTRACT = 1\n")
    (tmp_path / "model.py").write_text("def build_model():\n    return None\n")
    (tmp_path / "serve.py").write_text("app = None\n")
    assert [path.name for path in code.model_code(tmp_path)] == ["schema.py", "model.py"]
    assert sorted(code.code_digests(tmp_path)) == ["CONTRACT", "build_model"]
