"""Prompt tier: drive `copier copy` through its real interactive prompts, as a person would,
including a wrong answer that a validator rejects and its correction."""

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.helpers import QUESTIONS, ROOT, choices

COPIER = str(Path(sys.executable).parent / "copier")
DOWN, CLEAR_LINE = "\x1b[B", "\x15"  # arrow down, Ctrl-U
PICKS = {"license": "MIT", "ci_provider": "none"}  # non-default choices, picked with arrows


def prompt_of(name: str) -> str:
    """The start of the help text copier shows as the question's prompt."""
    return " ".join(QUESTIONS[name]["help"].split())[:40]


def test_interactive_copy_with_a_correction(tmp_path):
    destination = tmp_path / "cellar-sorter"
    child = pexpect.spawn(
        COPIER,
        ["copy", "--vcs-ref", "HEAD", str(ROOT), str(destination)],
        env={**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 250),
    )
    asked = []
    expected = {name: re.escape(prompt_of(name)) for name in QUESTIONS if "help" in QUESTIONS[name]}
    names = list(expected)
    try:
        while True:
            index = child.expect([*expected.values(), pexpect.EOF])
            if index == len(names):
                break
            name = names[index]
            if asked and name == asked[-1]:
                continue  # copier redraws a prompt once it is answered
            asked.append(name)
            if name == "project_name":
                child.send("Cellar Sorter\r")
            elif name == "package_name":
                # The default follows the earlier answer; a keyword is refused with a reason.
                child.expect("cellar_sorter")
                child.send(CLEAR_LINE + "class\r")
                child.expect("class_model")  # the validator: a keyword, and what to use
                child.send(CLEAR_LINE + "sorter\r")
            elif name in PICKS:
                child.send(DOWN * choices(name).index(PICKS[name]) + "\r")
            else:
                child.send("\r")  # accept the default, as most people do
    finally:
        child.close()
    assert child.exitstatus == 0, child.before

    assert asked[:3] == ["project_name", "package_name", "description"]
    assert asked == [name for name in QUESTIONS if name in asked], "asked out of order"
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Cellar Sorter"
    assert answers["package_name"] == "sorter"
    assert answers["license"] == "MIT"
    assert answers["ci_provider"] == "none"
    assert (destination / "src" / "sorter" / "core" / "cli.py").is_file()
    assert not (destination / ".github").exists()
    assert "MIT License" in (destination / "LICENSE").read_text()


@pytest.mark.parametrize("name", [n for n in QUESTIONS if "help" in QUESTIONS[n]])
def test_prompts_are_distinguishable(name):
    others = [
        prompt_of(other) for other in QUESTIONS if other != name and "help" in QUESTIONS[other]
    ]
    assert prompt_of(name) not in others, f"{name}'s prompt starts like another question's"
