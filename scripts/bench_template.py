"""Template benchmarks, measured side by side in one run; results go to docs/performance.md.

    python3 -m uv run scripts/bench_template.py [--repeat 5] [--write]

1. `copier copy` wall time of the default project and of the largest answer combination,
   against a trivial template with the same number of files rendered by the same copier
   (what our template logic adds on top of copier itself).
2. Time to green of a freshly generated default project with a warm package cache:
   `make setup lint test train`, and its test suite alone.
3. `copier update` wall time between two adjacent releases.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from copier import run_copy, run_update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.combinations import file_count, largest_answers
from tests.helpers import ROOT, generate, git_commit_all, release, release_repo

PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- template-benchmarks:start -->", "<!-- template-benchmarks:end -->"
ENV = {**os.environ, "VIRTUAL_ENV": "", "PYTHONDONTWRITEBYTECODE": ""}


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `action` over `repeat` runs, in seconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def trivial_template(destination: Path, files: int) -> Path:
    """A template of `files` plain files, one variable each, in a git repo like ours."""
    (destination / "template").mkdir(parents=True)
    (destination / "copier.yml").write_text("_subdirectory: template\nname:\n  default: x\n")
    for index in range(files - 1):
        (destination / "template" / f"file{index}.txt.jinja").write_text("{{ name }}\n")
    (destination / "template" / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml }}"
    )
    git_commit_all(destination, "trivial")
    return destination


def sh(command: str, cwd: Path) -> None:
    subprocess.run(command, shell=True, cwd=cwd, env=ENV, check=True, capture_output=True)


def measure(repeat: int) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="copier-mlops-bench-") as scratch:
        work = Path(scratch)
        counter = iter(range(10_000))

        def copy_default() -> Path:
            return generate(work / f"default{next(counter)}")

        largest = largest_answers()
        default_files = file_count(copy_default())
        largest_files = file_count(generate(work / "largest", **largest))
        trivial = {
            size: trivial_template(work / f"trivial{size}", size)
            for size in {default_files, largest_files}
        }

        def copy_trivial(size: int) -> Callable[[], object]:
            return lambda: run_copy(str(trivial[size]), work / f"t{next(counter)}",
                                    defaults=True, vcs_ref="HEAD", quiet=True)  # fmt: skip

        ours_default = timed(copy_default, repeat)
        base_default = timed(copy_trivial(default_files), repeat)
        ours_largest = timed(lambda: generate(work / f"l{next(counter)}", **largest), repeat)
        base_largest = timed(copy_trivial(largest_files), repeat)
        rows += [
            ("`copier copy`, default project "
             f"({default_files} files)", f"{ours_default:.2f} s"),
            (f"`copier copy`, trivial template ({default_files} files)", f"{base_default:.2f} s"),
            ("ratio default / trivial", f"{ours_default / base_default:.2f}x"),
            ("`copier copy`, largest combination "
             f"({largest_files} files: {', '.join(f'{k}={v}' for k, v in largest.items())})",
             f"{ours_largest:.2f} s"),
            (f"`copier copy`, trivial template ({largest_files} files)", f"{base_largest:.2f} s"),
            ("ratio largest / trivial", f"{ours_largest / base_largest:.2f}x"),
        ]  # fmt: skip

        project = generate(work / "green")
        git_commit_all(project, "generated")
        sh("uv sync --quiet", project)  # warm the package cache for this project
        sh("rm -rf .venv", project)
        green = timed(lambda: sh("make setup lint test train", project), 1)
        suite = timed(lambda: sh("uv run pytest -q", project), 1)
        rows += [
            ("time to green: `make setup lint test train` (warm uv cache)", f"{green:.1f} s"),
            ("generated test suite alone (`uv run pytest`)", f"{suite:.1f} s"),
        ]

        repo = release_repo(work / "releases")
        release(repo, "1.1.0", {"template/.gitignore": "\n*.speedscope.json\n"})
        old = work / "old"

        def update_once() -> None:
            sh(f"rm -rf {old}", work)
            run_copy(str(repo), old, data={"project_name": "Wine quality"}, defaults=True,
                     vcs_ref="v1.0.0", quiet=True)  # fmt: skip
            git_commit_all(old, "generated")
            started = time.perf_counter()
            run_update(old, defaults=True, overwrite=True, vcs_ref="v1.1.0", quiet=True)
            update_times.append(time.perf_counter() - started)

        update_times: list[float] = []
        for _ in range(repeat):
            update_once()
        rows.append(("`copier update` v1.0.0 -> v1.1.0 (adjacent releases)",
                     f"{statistics.median(update_times):.2f} s"))  # fmt: skip
    return rows


def render(rows: list[tuple[str, str]], repeat: int) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        START,
        f"Measured by `python3 -m uv run scripts/bench_template.py --repeat {repeat} --write` "
        f"({machine}; copy and update times are medians of {repeat} runs).",
        "",
        "| measurement | result |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in rows),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"update {PERFORMANCE.name}")
    arguments = parser.parse_args()
    table = render(measure(arguments.repeat), arguments.repeat)
    print(table)
    if arguments.write:
        text = PERFORMANCE.read_text() if PERFORMANCE.exists() else "# Performance\n"
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: table, text,
                          flags=re.DOTALL)  # fmt: skip
        else:
            text = text.rstrip() + "\n\n## Template\n\n" + table + "\n"
        PERFORMANCE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
