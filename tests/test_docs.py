"""The documentation keeps up with copier.yml: every question and every choice."""

import re

import pytest
import yaml

from tests.helpers import QUESTIONS, ROOT, choices, script_check

DOCS = ROOT / "docs"
REFERENCE = (DOCS / "questions.md").read_text()
ASKED = [name for name, spec in QUESTIONS.items() if spec.get("when") is not False]


def section(name: str) -> str:
    match = re.search(rf"^## `{name}`\n(.*?)(?=^## |\Z)", REFERENCE, re.MULTILINE | re.DOTALL)
    assert match, f"docs/questions.md has no '## `{name}`' section: document the question"
    return match.group(1)


@pytest.mark.parametrize("name", ASKED)
def test_every_question_is_documented(name):
    text = section(name)
    if "choices" in QUESTIONS[name]:
        for choice in choices(name):
            assert f"`{choice}`" in text, f"choice {choice!r} of {name} is not documented"


@pytest.mark.parametrize("name", ASKED)
def test_every_question_names_the_tests_that_prove_it(name):
    """Each section's "Proved by" line names tests that exist, as `tests/<file>.py::<test>`."""
    lines = [line for line in section(name).splitlines() if line.startswith("**Proved by:**")]
    assert len(lines) == 1, f"docs/questions.md: give `{name}` one '**Proved by:**' line"
    named = re.findall(r"`(tests/\w+\.py)::(\w+)`", lines[0])
    assert named, f"the '**Proved by:**' line of `{name}` names no test"
    for path, test in named:
        source = ROOT / path
        assert source.is_file(), f"`{name}` is proved by {path}, which does not exist"
        assert re.search(rf"^def {test}\(", source.read_text(), re.MULTILINE), (
            f"`{name}` is proved by {path}::{test}, which is not a test there"
        )


def test_docs_only_document_real_questions():
    documented = re.findall(r"^## `(\w+)`", REFERENCE, re.MULTILINE)
    assert set(documented) == set(ASKED)
    assert documented == ASKED, "keep docs/questions.md in the order copier asks"


def test_relative_links_resolve():
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.relative_to(ROOT)} -> {target}"


def test_examples_page_is_up_to_date():
    result = script_check("examples.py")
    assert result.returncode == 0, result.stderr[-2000:]


def test_home_page_links_every_nav_page():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    pages = set(re.findall(r"[\w/.-]+\.md", str(config["nav"]))) - {"index.md"}
    # Each decision record is linked from decisions/index.md, which the home page links.
    pages = {page for page in pages if not re.fullmatch(r"decisions/\d{4}-.*", page)}
    linked = set(re.findall(r"\]\(([^)#]+\.md)", (DOCS / "index.md").read_text()))
    assert pages - linked == set(), "docs/index.md does not link these nav pages"


def test_ownership_page_and_copier_yml_follow_the_one_list():
    result = script_check("ownership.py")
    assert result.returncode == 0, result.stderr[-2000:]


def test_ownership_check_names_a_file_copier_yml_forgets_or_adds():
    from scripts import ownership

    text = (ROOT / "copier.yml").read_text()
    assert ownership.copier_differences(text) == []
    forgot = text.replace("    /monitoring/thresholds.yml\n", "")
    assert ownership.copier_differences(forgot) == [
        "copier.yml _exclude (update) lacks /monitoring/thresholds.yml"
    ]
    added = text.replace("  - src/*/network.py\n", "  - src/*/network.py\n  - src/*/serve.py\n")
    (found,) = ownership.copier_differences(added)
    assert found.startswith("copier.yml _skip_if_exists lists src/*/serve.py")
    page = (ROOT / "docs" / "ownership.md").read_text()
    assert ownership.page_is_current(page)
    assert not ownership.page_is_current(page.replace("your alerting bounds", "bounds"))
