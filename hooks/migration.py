"""What every migration script in hooks/ shares: its error, the answers it reads, its command line.

Copier runs each script as `python hooks/<script>.py before|after ANSWERS_FILE [TEMPLATE_DIR]`
in the project's root (`_migrations` in copier.yml). Python puts the script's folder first on
the import path, so the scripts import this module by its plain name.
"""

import sys
from collections.abc import Callable
from pathlib import Path

import yaml

STAGES = ("before", "after")


class MigrationError(Exception):
    """Something the team must sort out before the update can go on."""


def read_answers(answers_file: Path, *required: str) -> dict:
    """The answers Copier recorded, with a valid package_name and each required answer a string."""
    if not answers_file.is_file():
        raise MigrationError(
            f"{answers_file} is missing: run the update from the project's root, where "
            "copier recorded its answers"
        )
    answers = yaml.safe_load(answers_file.read_text()) or {}
    if not isinstance(answers, dict):
        raise MigrationError(f"{answers_file} is not a mapping of answers")
    name = answers.get("package_name")
    if not isinstance(name, str) or not name.isidentifier():
        raise MigrationError(f"{answers_file} records no valid package_name (found {name!r})")
    for question in required:
        if not isinstance(answers.get(question), str):
            raise MigrationError(
                f"{answers_file} records no {question} (found {answers.get(question)!r}): "
                "it is needed to tell what the project was generated with"
            )
    return answers


def run(
    version: str, script: str, argv: list[str], stage: Callable[..., str], *arguments: str
) -> int:
    """Run `stage(name, *paths)` for `before|after PATH...`; print what it returns.

    The exit status is Copier's: 2 for a wrong command line, 1 (with the reason on stderr)
    for a MigrationError, which stops the update before anything else changes.
    """
    if len(argv) != 1 + len(arguments) or argv[0] not in STAGES:
        print(f"usage: {script} before|after {' '.join(arguments)}", file=sys.stderr)
        return 2
    try:
        message = stage(argv[0], *map(Path, argv[1:]))
    except MigrationError as error:
        print(f"copier-mlops {version} migration: {error}", file=sys.stderr)
        return 1
    print(f"copier-mlops {version} migration ({argv[0]}): {message}")
    return 0
