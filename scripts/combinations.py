"""Answer combinations the scripts render: the defaults and the one that generates most.

Used by scripts/bench_template.py and scripts/examples.py. Renders run in a process pool:
each `copier copy` is a separate, CPU-bound job.
"""

import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import pairwise_answers
from tests.helpers import generate


def project_files(project: Path) -> list[str]:
    """Every file of a generated project, relative and sorted, outside .git."""
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    )


def file_count(project: Path) -> int:
    return len(project_files(project))


class Rendered(NamedTuple):
    """What a generated project holds: its files and every answer it recorded."""

    given: dict[str, str]
    files: list[str]
    answers: dict[str, object]


def render(given: dict[str, str]) -> Rendered:
    """Generate a project with `given` answers in a scratch folder and list it."""
    with tempfile.TemporaryDirectory(prefix="copier-mlops-") as scratch:
        project = generate(Path(scratch) / "project", **given)
        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
        answers = {key: value for key, value in recorded.items() if not key.startswith("_")}
        return Rendered(given, project_files(project), answers)


def render_many(answer_sets: list[dict[str, str]]) -> list[Rendered]:
    """render() of each answer set, in parallel."""
    with ProcessPoolExecutor() as pool:
        return list(pool.map(render, answer_sets))


def largest(rendered: list[Rendered]) -> Rendered:
    """The rendering with the most files (the last one on a tie)."""
    return max(reversed(rendered), key=lambda project: len(project.files))


def largest_answers() -> dict[str, str]:
    """The pairwise answer set (tests/conftest.py) that generates the most files."""
    return largest(render_many(pairwise_answers())).given
