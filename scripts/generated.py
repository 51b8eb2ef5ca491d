"""The command line every generator script here shares: write a file, or `--check` it.

A script that writes one file from a source of truth (docs/examples.md, the Jinja copies of
the thresholds model and the alert rules) calls `write_or_check`; the tests run each with
`--check`, which writes nothing and exits 1 while the file differs from what it would write.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_or_check(description: str, target: Path, fresh: Callable[[str], str],
                   source: str, command: str) -> int:  # fmt: skip
    """Write `fresh(current text)` to `target`; with --check, exit 1 while they differ."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    check = parser.parse_args().check
    name = target.relative_to(ROOT)
    current = target.read_text() if target.is_file() else ""
    text = fresh(current)
    if text == current:
        print(f"{name} is up to date")
        return 0
    if check:
        print(f"{name} differs from {source}: run `{command}`", file=sys.stderr)
        return 1
    target.write_text(text)
    print(f"wrote {name}")
    return 0
