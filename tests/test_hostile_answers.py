"""Any text a person can type into a free-text question: refused with a message and nothing
written, or rendered into a project whose files all parse as their type says.

Property-based (hypothesis): printable and hostile strings (quotes, backslashes, line
breaks and other control characters, Jinja and shell syntax, YAML and TOML syntax, long
and non-ASCII text) go to each free-text question. Each example either raises Copier's
validation error, with nothing at the destination, or renders a project whose Python
compiles, whose YAML, TOML and JSON parse and whose Dockerfile passes hadolint. CI runs
HOSTILE_EXAMPLES examples per question (default 12); set it higher for a longer run.
"""

import json
import os
import shutil
import tomllib
import uuid
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.helpers import generate, require_tool, run
from tests.test_render import BIN

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "12"))
FREE_TEXT = ("project_name", "description", "author_name", "author_email", "package_name")
NASTY = (
    'a "quoted" name', "back\\slash", "two\nlines", "tab\there", "nul\x00byte", "bell\x07",
    "line\u2028separator", "{{ 7 * 7 }}", "{% raw %}x", "$(touch /tmp/pwned)", "`id`",
    "key: value", "- item", "# comment", "&anchor *alias", "!!python/object", "'single'",
    '"""', "a' b\" c", "[table]", "x = 1", "${HOME}", "$HOME", "100%", "ünïcödé 名前",
    "   ", "", "x" * 300, "name@example.com", "a@b", "ml@team.example.org", "wine quality",
    "9lives", "class", "_private", "CamelCase",
)  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=120),
    st.text(st.characters(codec="ascii"), max_size=60),
)


def sound_project_problems(project: Path) -> list[str]:
    """Files that do not parse as their type says (and the Dockerfile's hadolint findings)."""
    problems = []
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(project)
        try:
            if path.suffix == ".py":
                compile(path.read_text(), str(relative), "exec")
            elif path.suffix in (".yml", ".yaml"):
                list(yaml.safe_load_all(path.read_text()))
            elif path.suffix == ".toml":
                tomllib.loads(path.read_text())
            elif path.suffix == ".json":
                json.loads(path.read_text())
        except (SyntaxError, ValueError, yaml.YAMLError) as error:
            problems.append(f"{relative}: {type(error).__name__}: {error}")
    return problems


@pytest.mark.parametrize("question", FREE_TEXT)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the repository
    # No shrinking: one render takes about a second; a failure reports its example as drawn.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=TEXT)
def test_free_text_answer_is_refused_or_renders_a_sound_project(question, value, tmp_path):
    hadolint = require_tool(str(BIN / "hadolint"))
    destination = tmp_path / uuid.uuid4().hex / "project"
    refused = ""
    try:
        generate(destination, **{question: value})
    except ValueError as error:
        refused = str(error).strip() or "(no message)"
    if refused:
        assert refused != "(no message)", f"{question}={value!r} was refused without a message"
        assert not destination.exists(), f"{question}={value!r} was refused but wrote files"
        return
    try:
        assert sound_project_problems(destination) == [], f"{question}={value!r}"
        run(hadolint, "Dockerfile", cwd=destination)
    finally:
        shutil.rmtree(destination.parent)
