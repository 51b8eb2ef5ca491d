"""Who owns which generated file: the one list docs/ownership.md, copier.yml and the
owner note at the top of every generated file follow.

    python3 -m uv run scripts/ownership.py [--check]

The team's files are listed once, here. The script writes their table into
docs/ownership.md (between the `ownership:begin` and `ownership:end` markers), writes the
one-line owner note at the top of every file in template/ whose format has comments
(NOTES), and checks that copier.yml declares exactly the team's files: `_exclude` while
updating for the files an update never touches, `_skip_if_exists` for the ones written
again when missing. `--check` writes nothing and exits 1, naming each difference, while
any of them is out of step. Everything else a project holds is the template's.
"""

import argparse
import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
PAGE = ROOT / "docs" / "ownership.md"
COPIER_YML = ROOT / "copier.yml"
COMMAND = "python3 -m uv run scripts/ownership.py"
BEGIN, END = "<!-- ownership:begin -->", "<!-- ownership:end -->"
PACKAGE = "<package>"  # the package directory, as the docs write it


@dataclass(frozen=True)
class TeamFiles:
    """Files (paths relative to the project root) a team owns once they are written."""

    paths: tuple[str, ...]
    why: str
    # "exclude": an update never writes them, nor brings one back once deleted;
    # "skip_if_exists": written again when missing (the pipeline calls them), else kept.
    kind: str = "exclude"


TEAM_FILES = (
    TeamFiles(("README.md",), "your project's story; a template section would go stale"),
    TeamFiles(("params.yml",), "your hyper-parameters"),
    TeamFiles(
        (f"src/{PACKAGE}/schema.py", f"src/{PACKAGE}/features.py"),
        "your data contract and features",
    ),
    TeamFiles(
        (f"src/{PACKAGE}/model.py", f"src/{PACKAGE}/network.py"),
        "your model: `build_model(seed, **params)` (`network.py`: a PyTorch model's network)",
        kind="skip_if_exists",
    ),
    TeamFiles(
        ("data/golden/*.csv", "data/golden/*.csv.dvc", "data/golden/manifest.json"),
        "your golden data (and, with DVC, its pointer)",
    ),
    TeamFiles(
        ("tests/golden/baseline/", "tests/golden/tolerances.yml"),
        "your baseline and your reproducibility bounds",
    ),
    TeamFiles(("monitoring/thresholds.yml",), "your alerting bounds"),
    TeamFiles(
        ("security/audit-ignore.txt", "security/secrets.baseline"),
        "your security allow-lists: the vulnerabilities and secret-scan findings you accepted",
        kind="skip_if_exists",
    ),
)
ON_UPDATE = {
    "exclude": "never touched, stays deleted",
    "skip_if_exists": "never touched; written again if missing (the pipeline or CI reads it)",
}


# The owner note: one line at the top of each generated file, by who owns it.
NOTES = {
    "template": "Template file (copier-mlops): `copier update` merges new versions into it.",
    "exclude": "Your file: `copier update` never changes it (copier-mlops ownership).",
    "skip_if_exists": "Your file: `copier update` never changes it, and writes it again "
    "only if deleted.",
}
NOTE_START = re.compile(r"^(#|<!--) (Template file \(copier-mlops\)|Your file): ")
# Comment syntax by file name or suffix (after .jinja); other formats have no comments
# (JSON, CSV, the licence, .python-version) or are written by a tool (Copier's answers,
# DVC's pointers, the baseline, and the alert rules `make monitoring-rules` regenerates,
# whose header says so).
HASH_COMMENTS = {".py", ".yml", ".yaml", ".toml", ".tf", ".gitignore", ".dockerignore",
                 "Makefile", "Dockerfile", "config"}  # fmt: skip
GENERATED = (
    "monitoring/prometheus/alerts.yml",
    "monitoring/prometheus/alerts.test.yml",
    "deploy/kubernetes/base/prometheusrule-model.yaml",
)
# A Jinja tag that strips the whitespace before it (`{%-`): below the note, it would
# take the note's line break; on the first line it strips nothing, so it loses its `-`.
LEFT_TRIM = re.compile(r"^(\{[%{#])-")


def destination(source: Path) -> str:
    """Where a template file lands in a project, as the docs write it."""
    relative = source.relative_to(TEMPLATE).as_posix().removesuffix(".jinja")
    relative = relative.replace("{{ package_name }}", PACKAGE)
    return re.sub(r"\{% if \w+ %\}([\w.]+)\{% endif %\}", r"\1", relative)


def matches(path: str, pattern: str) -> bool:
    """Whether a project path is one of TEAM_FILES' patterns (a folder ends with /)."""
    return path.startswith(pattern) if pattern.endswith("/") else fnmatch.fnmatch(path, pattern)


def owner(path: str) -> str:
    """Who owns a project path: "template", or the kind of the team's files it is one of."""
    for files in TEAM_FILES:
        if any(matches(path, pattern) for pattern in files.paths):
            return files.kind
    return "template"


def comment(path: str) -> tuple[str, str] | None:
    """The comment markers of a file's format, or None where it has none or a tool writes it."""
    name = path.rsplit("/", 1)[-1]
    suffix = name[name.rfind(".") :] if "." in name else name
    answers = path == ".copier-answers.yml" or "_copier_conf" in path  # Copier writes it
    if path in GENERATED or answers or path.startswith("tests/golden/baseline/"):
        return None
    if suffix == ".md":
        return "<!-- ", " -->"
    if suffix in HASH_COMMENTS or name in HASH_COMMENTS:
        return "# ", ""
    return None


def with_note(text: str, path: str) -> str:
    """The file's text with its owner note (replacing an older one) on its first line, or
    below a Dockerfile's parser directive, or in a Markdown file's front matter (as a YAML
    comment there). The file renders exactly as before, after the note's line."""
    markers = comment(path)
    if markers is None:
        return text
    lines = [line for line in text.splitlines(keepends=True) if not NOTE_START.match(line)]
    start, end = markers
    at = 0
    if lines and (lines[0].startswith("# syntax=") or lines[0] == "---\n"):
        at = 1
        if lines[0] == "---\n":
            start, end = "# ", ""
    if at < len(lines):
        lines[at] = LEFT_TRIM.sub(r"\1", lines[at])
    note = f"{start}{NOTES[owner(path)]}{end}\n"
    return "".join([*lines[:at], note, *lines[at:]])


def template_sources() -> list[Path]:
    """The files of template/ that Copier renders: tracked or not ignored (no caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
        cwd=TEMPLATE, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    return sorted(path for name in listed.split("\0") if (path := TEMPLATE / name).is_file())


def stale_notes(write: bool) -> list[str]:
    """Template files whose owner note is missing or out of date (written when `write`)."""
    stale = []
    for source in template_sources():
        path = destination(source)
        if comment(path) is None:
            continue
        text = source.read_text(encoding="utf-8")
        expected = with_note(text, path)
        if expected != text:
            stale.append(str(source.relative_to(ROOT)))
            if write:
                source.write_text(expected, encoding="utf-8")
    return stale


def table() -> str:
    """The Markdown table of the team's files."""
    rows = ["| file | why it is yours | on update |", "|---|---|---|"]
    for files in TEAM_FILES:
        paths = ", ".join(f"`{path}`" for path in files.paths)
        rows.append(f"| {paths} | {files.why} | {ON_UPDATE[files.kind]} |")
    return "\n".join(rows)


def expected_copier_lists() -> dict[str, list[str]]:
    """What copier.yml must list for the team's files, in its own pattern syntax: the
    update-time `_exclude` block renders the package name, `_skip_if_exists` is a glob."""
    exclude = [
        "/" + path.replace(PACKAGE, "{{ package_name }}")
        for files in TEAM_FILES
        if files.kind == "exclude"
        for path in files.paths
    ]
    skip = [
        path.replace(PACKAGE, "*")
        for files in TEAM_FILES
        if files.kind == "skip_if_exists"
        for path in files.paths
    ]
    return {"_exclude (update)": exclude, "_skip_if_exists": skip}


def copier_lists(text: str) -> dict[str, list[str]]:
    """What copier.yml lists: the paths of its update-only `_exclude` entry, and
    `_skip_if_exists`."""
    settings = yaml.safe_load(text)
    update_only = [
        entry for entry in settings.get("_exclude", []) if '_copier_operation == "update"' in entry
    ]
    if len(update_only) != 1:
        raise SystemExit(
            "copier.yml: expected one `_exclude` entry for updates "
            '(`{%- if _copier_operation == "update" %}` ...)'
        )
    exclude = [line.strip() for line in update_only[0].splitlines() if line.strip()[:1] == "/"]
    return {"_exclude (update)": exclude, "_skip_if_exists": settings.get("_skip_if_exists", [])}


def page_is_current(page: str) -> bool:
    """Whether docs/ownership.md holds the current table between its markers."""
    if BEGIN not in page or END not in page:
        raise SystemExit(f"docs/ownership.md: put {BEGIN} and {END} where the table goes")
    return page[page.index(BEGIN) + len(BEGIN) : page.index(END)].strip("\n") == table()


def copier_differences(copier_yml: str) -> list[str]:
    """How copier.yml's lists differ from TEAM_FILES; empty when in step."""
    found = []
    declared, expected = copier_lists(copier_yml), expected_copier_lists()
    for name, paths in expected.items():
        missing = [path for path in paths if path not in declared[name]]
        extra = [path for path in declared[name] if path not in paths]
        if missing:
            found.append(f"copier.yml {name} lacks {', '.join(missing)}")
        if extra:
            found.append(
                f"copier.yml {name} lists {', '.join(extra)}, which scripts/ownership.py's "
                "TEAM_FILES does not: add it there (with why it is the team's) or remove it"
            )
    return found


def written(page: str) -> str:
    """docs/ownership.md with the current table between the markers."""
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return f"{page[:start]}\n{table()}\n{page[end:]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    check = parser.parse_args().check
    found = copier_differences(COPIER_YML.read_text())
    notes = stale_notes(write=not check)
    if notes and check:
        found += [f"{name}: its owner note is missing or stale; run {COMMAND}" for name in notes]
    elif notes:
        print(f"wrote the owner note of {len(notes)} template files")
    page = PAGE.read_text()
    if not page_is_current(page):
        if check:
            found.append(f"docs/ownership.md: the team files' table is stale; run {COMMAND}")
        else:
            PAGE.write_text(written(page))
            print(f"wrote {PAGE.relative_to(ROOT)}")
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
