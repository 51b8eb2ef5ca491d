import itertools
import os
from pathlib import Path

import pytest

from tests.helpers import QUESTIONS, choices, generate, set_up

# Copier reads a user's settings (defaults for answers, trusted templates) from
# COPIER_SETTINGS_PATH or the platform's config folder. Point it at the tests' own empty
# settings, in this process and every command it starts, so no developer's settings
# change what the tests generate or trust.
os.environ["COPIER_SETTINGS_PATH"] = str(Path(__file__).parent / "copier-settings.yml")

# Questions whose answers change what is generated; derived ones follow from these.
VARIED = [name for name, spec in QUESTIONS.items() if "choices" in spec and name != "framework"]


def pairwise_answers() -> list[dict[str, str]]:
    """A small set of answer combinations that covers every pair of choices (greedy)."""
    options = {name: choices(name) for name in VARIED}
    names = list(options)
    uncovered = {
        ((a, x), (b, y))
        for a, b in itertools.combinations(names, 2)
        for x in options[a]
        for y in options[b]
    }
    combos: list[dict[str, str]] = []
    candidates = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]
    while uncovered:
        best = max(
            candidates,
            key=lambda combo: sum(
                ((a, combo[a]), (b, combo[b])) in uncovered
                for a, b in itertools.combinations(names, 2)
            ),
        )
        combos.append(best)
        uncovered -= {((a, best[a]), (b, best[b])) for a, b in itertools.combinations(names, 2)}
    return combos


def combo_id(answers: dict[str, str]) -> str:
    defaults = {name: str(QUESTIONS[name].get("default")) for name in answers}
    changed = [f"{name}={value}" for name, value in answers.items() if value != defaults[name]]
    return ",".join(changed) or "defaults"


def pytest_generate_tests(metafunc):
    if "answers" in metafunc.fixturenames:
        combos = pairwise_answers()
        metafunc.parametrize("answers", combos, ids=[combo_id(c) for c in combos], scope="module")


@pytest.fixture(scope="session")
def default_project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The default project (GitHub CI), generated and set up once: `make setup`, uv.lock
    committed. The slow tests that read it, or restore what they change, are in the
    `default-project` xdist group (helpers.SHARES_DEFAULT_PROJECT), so one worker sets it
    up once for all of them."""
    project = generate(tmp_path_factory.mktemp("default") / "wine-quality")
    return project, set_up(project)
