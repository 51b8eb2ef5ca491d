"""Update tier: real git history, real copier. A project copied at an older template
release, edited as a team would, is updated without losing any of its work; answers
changed through the update migrate it; the previous release of this repository updates
to the working tree.

The team's edits append or insert rather than rewrite lines of the generated code, so
the checks hold while the template's own code changes from release to release."""

import inspect
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update
from copier.errors import UnsafeTemplateError
from packaging.version import InvalidVersion, Version

from scripts import ownership
from tests.helpers import (
    IN_CI,
    ROOT,
    TEMPLATE,
    alert_generator,
    answered_task,
    choices,
    conflicts,
    generate,
    git_commit_all,
    publish,
    release,
    release_repo,
    require_tool,
    run,
    uv_env,
)

PACKAGE = "wine_quality"
# The release this working tree becomes.
CURRENT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def copy_at(repo: Path, destination: Path, version: str, **answers: str) -> Path:
    run_copy(str(repo), destination, data={"project_name": "Wine quality", **answers},
             defaults=True, unsafe=False, vcs_ref=version, quiet=True)  # fmt: skip
    git_commit_all(destination, f"Generated from copier-mlops {version}")
    return destination


def update_to(project: Path, version: str, trust: bool = False, **answers: str) -> None:
    run_update(project, data=answers, defaults=True, overwrite=True, unsafe=trust,
               vcs_ref=version, conflict="inline", quiet=True)  # fmt: skip


def template_source(name: str) -> str:
    """The template's source of src/<package>/<name>, rendered (.jinja) or not."""
    directory = TEMPLATE / "src" / "{{ package_name }}"
    (path,) = [path for path in (directory / name, directory / f"{name}.jinja") if path.is_file()]
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """Releases v1.0.0 (this working tree) and v1.1.0 (template changes a team pulls in)."""
    repo = release_repo(tmp_path_factory.mktemp("template-repo"))
    release(
        repo,
        "1.1.0",
        {
            "template/.gitignore": "\n# Profiles written by py-spy\n*.speedscope.json\n",
            "template/Makefile.jinja": "\ncheck: lint test ## Lint and test\n",
            template_source("core/log.py"): "\n\n# template v1.1.0: template-owned change\n",
            template_source("features.py"): "\n# template v1.1.0: never reaches a project\n",
        },
    )
    return repo


# --- what a team does to its project ----------------------------------------------------

TEAM_FEATURE = '''

def ash_alcalinity(alcalinity_of_ash, ash):
    """Team feature: alkalinity per unit of ash, which our chemists read together."""
    return alcalinity_of_ash / ash
'''
TEAM_TEST = f"""from {PACKAGE}.features import ash_alcalinity


def test_ash_alcalinity_is_a_ratio():
    assert ash_alcalinity(20.0, 2.5) == 8.0
"""
TEAM_SCHEMA = """

# Team: the cellar team signs off every change to the ranges below.
DATA_OWNER = "cellar team"
"""
TEAM_MODEL_CODE = '''

def model_card() -> str:
    """One line for the team's model registry."""
    return "wine cultivar classifier; the seed in params.yml is the team's"
'''
# The extension points of docs/ownership.md: files of the team's own beside template-owned ones.
TEAM_MAKE = "report-to-cellar: ## Mail the monitoring report to the cellar team\n\t@echo sent\n"
TEAM_COMPOSE = """services:
  notebook:
    image: quay.io/jupyter/minimal-notebook:2025-06-02
    profiles: [notebook]
"""
TEAM_NOTES = "## Our notes\n\nThe cellar team owns the golden data; ask them before a refresh.\n"


def edit(path: Path, pattern: str, replacement: str) -> None:
    """Replace exactly one match of a line pattern: a vanished anchor fails loudly."""
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    assert count == 1, f"{pattern!r} not found in {path}"
    path.write_text(text)


def user_edits(project: Path, lock: bool = False) -> None:
    """Model code, a new feature and its test, a parameter, a tuned threshold with its
    regenerated alert rules, a dependency, README notes, a Make target and a compose
    service of its own; committed."""
    package = project / "src" / PACKAGE
    (package / "model.py").write_text((package / "model.py").read_text() + TEAM_MODEL_CODE)
    (package / "features.py").write_text((package / "features.py").read_text() + TEAM_FEATURE)
    (project / "tests" / "test_team_features.py").write_text(TEAM_TEST)
    edit(project / "params.yml", r"^seed: \d+$", "seed: 7")
    edit(project / "monitoring/thresholds.yml", r"^max_error_rate: .*$", "max_error_rate: 0.02")
    alerts, thresholds = alert_generator(project, PACKAGE)
    limits = thresholds.Thresholds.load(project / "monitoring/thresholds.yml")
    # What `make monitoring-rules` does; v0.2.0's generator has no task to take.
    arguments = [limits, project / "monitoring/prometheus"]
    if "task" in inspect.signature(alerts.write).parameters:
        arguments.append(answered_task(project))
    alerts.write(*arguments)
    edit(project / "README.md", r"^(# .*\n)", rf"\1\n{TEAM_NOTES}")  # below the title
    (project / "local.mk").write_text(TEAM_MAKE)
    (project / "compose.override.yaml").write_text(TEAM_COMPOSE)
    add = ["uv", "add", "--quiet", "tabulate>=0.9"] + ([] if lock else ["--frozen"])
    run(*add, cwd=project, env=uv_env())
    git_commit_all(project, "Team edits")


def assert_user_edits_kept(project: Path) -> None:
    package = project / "src" / PACKAGE
    assert (package / "model.py").read_text().endswith(TEAM_MODEL_CODE)
    assert (package / "features.py").read_text().endswith(TEAM_FEATURE)
    assert (project / "tests" / "test_team_features.py").read_text() == TEAM_TEST
    assert re.search(r"^seed: 7$", (project / "params.yml").read_text(), re.M)
    assert "max_error_rate: 0.02" in (project / "monitoring/thresholds.yml").read_text()
    assert TEAM_NOTES in (project / "README.md").read_text()
    assert '"tabulate>=0.9"' in (project / "pyproject.toml").read_text()
    assert (project / "local.mk").read_text() == TEAM_MAKE
    assert (project / "compose.override.yaml").read_text() == TEAM_COMPOSE


def stale_alert_rules(project: Path) -> list[str]:
    """Alert rule files that differ from what the project's thresholds.yml gives."""
    alerts, thresholds = alert_generator(project, PACKAGE)
    limits = thresholds.Thresholds.load(project / "monitoring/thresholds.yml")
    return alerts.stale_files(limits, project / "monitoring/prometheus", answered_task(project))


# --- a new release, the same answers ----------------------------------------------------


def test_update_keeps_every_user_edit_and_applies_template_changes(repo, tmp_path):
    project = copy_at(repo, tmp_path / "project", "v1.0.0")
    user_edits(project)
    update_to(project, "v1.1.0")

    assert conflicts(project) == []
    assert_user_edits_kept(project)
    assert stale_alert_rules(project) == []
    assert "*.speedscope.json" in (project / ".gitignore").read_text()
    assert "check: lint test" in (project / "Makefile").read_text()
    package = project / "src" / PACKAGE
    assert "template v1.1.0: template-owned change" in (package / "core/log.py").read_text()
    assert "template v1.1.0" not in (package / "features.py").read_text()
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()
    listing = run(require_tool("make"), "help", cwd=project).stdout
    assert re.search(r"^\s+report-to-cellar\s+Mail the monitoring report", listing, re.M)


def test_deleted_files_stay_deleted(repo, tmp_path):
    """User-owned files and optional template files the team deleted are not forced back;
    model.py, which the template's pipeline calls, is written again when missing."""
    project = copy_at(repo, tmp_path / "project", "v1.0.0")
    gone = ["README.md", "tests/golden/tolerances.yml", "monitoring/thresholds.yml",
            ".pre-commit-config.yaml", "params.yml"]  # fmt: skip
    for name in [*gone, f"src/{PACKAGE}/model.py"]:
        (project / name).unlink()
    git_commit_all(project, "We do not want these")
    update_to(project, "v1.1.0")
    assert conflicts(project) == []
    for name in gone:
        assert not (project / name).exists(), f"{name} was forced back"
    assert "def build_model(" in (project / f"src/{PACKAGE}/model.py").read_text()


# --- answers changed through an update, on an edited project ----------------------------


@pytest.mark.parametrize(
    ("before", "after", "gone", "appears"),
    [
        pytest.param({"ci_provider": "github"}, {"ci_provider": "none"},
                     [".github/workflows/ci.yml", ".github/workflows/template-update.yml"], [],
                     id="github-to-none"),
        pytest.param({"ci_provider": "none"}, {"ci_provider": "github"}, [],
                     [".github/workflows/ci.yml", ".github/workflows/template-update.yml"],
                     id="none-to-github"),
        pytest.param({"ci_provider": "github"}, {"ci_provider": "gitlab"},
                     [".github/workflows/ci.yml"], [".gitlab-ci.yml"], id="github-to-gitlab"),
        pytest.param({"experiment_tracking": "mlflow"}, {"experiment_tracking": "none"},
                     [f"src/{PACKAGE}/core/tracking.py"], [], id="mlflow-to-none"),
        pytest.param({"deploy_target": "local"}, {"deploy_target": "kubernetes"}, [],
                     ["deploy/kubernetes/base/kustomization.yaml", ".github/workflows/cd.yml"],
                     id="local-to-kubernetes"),
    ],
)  # fmt: skip
def test_changing_an_answer_through_update_keeps_user_edits(
    repo, tmp_path, before, after, gone, appears
):
    project = copy_at(repo, tmp_path / "project", "v1.0.0", **before)
    user_edits(project)
    update_to(project, "v1.1.0", **after)
    assert conflicts(project) == []
    for name in gone:
        assert not (project / name).exists(), f"{name} is still there"
    for name in appears:
        assert (project / name).is_file(), f"{name} did not appear"
    assert_user_edits_kept(project)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    for name, value in after.items():
        assert recorded[name] == value
    # Rules that appear with the new answer are rendered from the template's default
    # thresholds; `make monitoring-rules`, the update message's next step, brings them in
    # line with the team's thresholds.yml.
    new_rules = ["deploy/kubernetes/base/prometheusrule-model.yaml"]
    assert stale_alert_rules(project) == (new_rules if "kubernetes" in after.values() else [])


@pytest.mark.parametrize(
    ("question", "before", "after"),
    [
        pytest.param("data_size", "small", "large", id="small-to-large"),
        pytest.param("compute", "cpu", "gpu", id="cpu-to-gpu"),
    ],
)
def test_growing_data_or_compute_through_update_keeps_user_edits(
    repo, tmp_path, question, before, after
):
    if after not in choices(question):
        pytest.skip(
            f"copier.yml offers no {question} {after!r} yet: it comes with the "
            f"{'data engines' if question == 'data_size' else 'PyTorch'} branch"
        )
    project = copy_at(repo, tmp_path / "project", "v1.0.0", **{question: before})
    assert not (project / f"src/{PACKAGE}/network.py").exists()
    user_edits(project)
    # scikit-learn trains on CPUs only: more compute comes with PyTorch.
    extra = {"framework": "pytorch"} if question == "compute" else {}
    update_to(project, "v1.1.0", **{question: after}, **extra)
    assert conflicts(project) == []
    assert_user_edits_kept(project)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded[question] == after
    pyproject = (project / "pyproject.toml").read_text()
    if question == "compute":
        assert recorded["framework"] == "pytorch"
        assert '"torch' in pyproject
        assert (project / f"src/{PACKAGE}/network.py").is_file()
    else:
        assert '"dask' in pyproject


def test_fleet_reports_and_updates_projects_that_are_behind(repo, tmp_path, capsys):
    from scripts.fleet import main

    old = copy_at(repo, tmp_path / "old", "v1.0.0")
    current = copy_at(repo, tmp_path / "current", "v1.1.0")
    stray = tmp_path / "stray"
    stray.mkdir()

    assert main([str(old), str(current), str(stray)]) == 1
    report = capsys.readouterr().out
    assert re.search(r"old\s+v1\.0\.0\s+v1\.1\.0\s+behind", report)
    assert re.search(r"current\s+v1\.1\.0\s+v1\.1\.0\s+current", report)
    assert "not generated by copier" in report

    assert main(["--update", str(old), str(current)]) == 0
    assert "updated cleanly" in capsys.readouterr().out
    assert "_commit: v1.1.0" in (old / ".copier-answers.yml").read_text()
    assert "check: lint test" in (old / "Makefile").read_text()


# --- the previous release of this repository --------------------------------------------


# Releases made before this repository pushed tags, by version: the commit of each.
UNTAGGED_RELEASES = {"0.1.0": "c4e5207", "0.2.0": "7a28afc", "0.3.0": "4958ce0"}


def earlier_releases() -> list[tuple[str, str]]:
    """(version, ref) of every release before this working tree's version, oldest first.

    Its tag where the clone has one; otherwise the commit UNTAGGED_RELEASES records (v0.1.0
    to v0.3.0 were released before tags were pushed), where the clone holds it."""
    current = Version(CURRENT)
    found = {}
    for tag in run("git", "tag", "--list", "v*", cwd=ROOT).stdout.split():
        try:
            version = Version(tag.removeprefix("v"))
        except InvalidVersion:
            continue
        if version < current:
            found[version] = tag
    for version, commit in UNTAGGED_RELEASES.items():
        present = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT,
                                 capture_output=True, check=False).returncode == 0  # fmt: skip
        if present and Version(version) < current:
            found.setdefault(Version(version), commit)
    return [(str(version), found[version]) for version in sorted(found)]


def migrations_between(previous: str, current: str) -> list[str]:
    """The versions of the `_migrations` an update from `previous` to `current` runs."""
    steps = yaml.safe_load((ROOT / "copier.yml").read_text()).get("_migrations", [])
    crossed = {step["version"] for step in steps
               if Version(previous) < Version(step["version"]) <= Version(current)}  # fmt: skip
    return sorted(crossed, key=Version)


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> tuple[Path, list[str]]:
    """A template repo with every earlier release of this repository (tag, or the commit
    UNTAGGED_RELEASES names) and this working tree as the current release; the earlier
    versions, oldest first."""
    found = earlier_releases()
    if not found:
        message = (
            f"no release before {CURRENT} in this clone: no older vX.Y.Z tag and none of the "
            "commits in UNTAGGED_RELEASES (a shallow clone? fetch the history)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    repo = tmp_path_factory.mktemp("template-history")
    for version, commit in found:
        publish(repo, version, commit)
    publish(repo, CURRENT)
    return repo, [version for version, _ in found]


@pytest.fixture(scope="module")
def history(releases) -> tuple[Path, str]:
    """The template repo of `releases`, and the newest release before this working tree."""
    repo, versions = releases
    return repo, versions[-1]


@pytest.fixture(scope="module")
def fresh(history, tmp_path_factory) -> Path:
    """A project generated by the current release, to compare updated projects with."""
    repo, _ = history
    return copy_at(repo, tmp_path_factory.mktemp("fresh") / "project", f"v{CURRENT}")


def test_update_from_the_previous_release_keeps_user_edits(history, fresh, tmp_path, capsys):
    from scripts.fleet import main

    repo, previous = history
    project = copy_at(repo, tmp_path / "project", f"v{previous}")
    user_edits(project)
    if migrations_between(previous, CURRENT):
        # A migration is trusted code: without --trust nothing changes and the report says why.
        assert main(["--update", str(project)]) == 1
        assert "rerun with --trust" in capsys.readouterr().out
        assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    assert main(["--update", "--trust", str(project)]) == 0
    assert "updated cleanly" in capsys.readouterr().out

    assert conflicts(project) == []
    assert_user_edits_kept(project)
    assert stale_alert_rules(project) == []
    assert f"_commit: v{CURRENT}" in (project / ".copier-answers.yml").read_text()
    for name in ("Makefile", ".github/workflows/ci.yml", f"src/{PACKAGE}/core/pipeline.py",
                 f"src/{PACKAGE}/core/golden/__init__.py"):  # fmt: skip
        assert (project / name).read_bytes() == (fresh / name).read_bytes(), (
            f"{name} is not what {CURRENT} generates"
        )
    if "v0.3.0" in migrations_between(previous, CURRENT):
        # The team changed features.py and model.py: kept (and made to work), with this
        # release's version beside them; schema.py was not changed: replaced.
        package = f"src/{PACKAGE}"
        for name in ("features.py", "model.py"):
            beside = (project / package / f"{name}.v0.3.0").read_text()
            assert beside == (fresh / package / name).read_text()
        assert not (project / package / "schema.py.v0.3.0").exists()
        schema = (project / package / "schema.py").read_text()
        assert schema == (fresh / package / "schema.py").read_text()


def test_a_pipeline_the_team_changed_is_kept_beside_the_new_one(releases, fresh, tmp_path):
    repo, versions = releases
    older = [version for version in versions if "v0.2.0" in migrations_between(version, CURRENT)]
    if not older:
        pytest.skip(f"the pipeline.py migration runs on updates across 0.2.0, not {versions}")
    previous = older[0]
    project = copy_at(repo, tmp_path / "project", f"v{previous}")
    pipeline = project / "src" / PACKAGE / "pipeline.py"
    ours = pipeline.read_text() + "\n\n# Team: evaluation reads our holdout split\n"
    pipeline.write_text(ours)
    git_commit_all(project, "Team edit to the pipeline")

    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update_to(project, f"v{CURRENT}")
    update_to(project, f"v{CURRENT}", trust=True)

    assert conflicts(project) == []
    backup = pipeline.with_name("pipeline.py.before-v0.2.0")
    assert backup.read_text() == ours
    # From 0.4.0 the template's pipeline is in core/.
    assert not pipeline.exists()
    new = f"src/{PACKAGE}/core/pipeline.py"
    assert (project / new).read_bytes() == (fresh / new).read_bytes()
    changes = run("git", "status", "--porcelain", cwd=project).stdout.splitlines()
    moved = f"R  src/{PACKAGE}/pipeline.py -> src/{PACKAGE}/pipeline.py.before-v0.2.0"
    assert moved in changes


BASELINE = Path("tests/golden/baseline")


@pytest.mark.parametrize("given", [{}, {"framework": "pytorch", "task": "regression"}],
                         ids=["defaults", "pytorch-regression"])  # fmt: skip
def test_a_current_0_3_0_baseline_needs_no_new_recording(releases, tmp_path, capfd, given):
    """0.4.0 moves code and fingerprints definitions: the migration hashes a current 0.3.0
    baseline's code again, from the code it was recorded with; the updated code then
    fingerprints to the same, and the baseline's results are untouched."""
    from tests.test_fingerprint import code

    repo, versions = releases
    if "0.3.0" not in versions or "v0.4.0" not in migrations_between("0.3.0", CURRENT):
        pytest.skip(f"the re-keying migration runs on updates from 0.3.0, not {versions}")
    project = copy_at(repo, tmp_path / "project", "v0.3.0", **given)
    edit(project / "params.yml", r"^seed: \d+$", "seed: 7")  # team edits outside the code
    git_commit_all(project, "Team parameters")
    recorded = {path.name: path.read_bytes() for path in (project / BASELINE).iterdir()}
    assert b"syntax tree without docstrings" in recorded["fingerprint.json"]

    update_to(project, f"v{CURRENT}", trust=True)

    assert conflicts(project) == []
    fingerprint = json.loads((project / BASELINE / "fingerprint.json").read_text())
    assert fingerprint["code_hashing"] == code.HASHING
    assert fingerprint["code"] == code.code_digests(project / "src" / PACKAGE)
    old = json.loads(recorded.pop("fingerprint.json"))
    assert {key: old[key] for key in ("data", "params", "libraries")} == {
        key: fingerprint[key] for key in ("data", "params", "libraries")
    }
    for name, content in recorded.items():
        assert (project / BASELINE / name).read_bytes() == content, name
    # The team's own code changed since a baseline was recorded: it is not re-keyed.
    stale = copy_at(repo, tmp_path / "stale", "v0.3.0", **given)
    model = stale / "src" / PACKAGE / "model.py"
    model.write_text(model.read_text() + TEAM_MODEL_CODE)
    git_commit_all(stale, "Team model code, baseline not recorded again")
    before = (stale / BASELINE / "fingerprint.json").read_bytes()
    capfd.readouterr()
    update_to(stale, f"v{CURRENT}", trust=True)
    assert (stale / BASELINE / "fingerprint.json").read_bytes() == before
    assert "does not match the code as it is (model.py changed" in capfd.readouterr().out


def test_a_template_module_the_team_changed_is_kept_when_it_moves_into_core(
    releases, fresh, tmp_path, capfd
):
    """0.4.0 moves the template's modules into core/ and the update removes the old files:
    one the team changed is kept beside its new version, and the team's own code imports
    the moved modules from core/."""
    repo, versions = releases
    if "0.3.0" not in versions or "v0.4.0" not in migrations_between("0.3.0", CURRENT):
        pytest.skip(f"the move into core/ is migrated on updates from 0.3.0, not {versions}")
    project = copy_at(repo, tmp_path / "project", "v0.3.0")
    package = project / "src" / PACKAGE
    ours = (package / "log.py").read_text() + "\n\n# Team: our log shipper reads this\n"
    (package / "log.py").write_text(ours)
    user_edits(project)  # commits, with a team test importing the package
    capfd.readouterr()

    update_to(project, f"v{CURRENT}", trust=True)

    assert conflicts(project) == []
    assert not (package / "log.py").exists()
    assert (package / "core/log.py").read_bytes() == (
        fresh / f"src/{PACKAGE}/core/log.py"
    ).read_bytes()
    assert (package / "core/log.py.before-v0.4.0").read_text() == ours
    printed = capfd.readouterr().out
    assert f"git diff --no-index src/{PACKAGE}/core/log.py.before-v0.4.0" in printed
    assert_user_edits_kept(project)
    schema = (package / "schema.py").read_text()
    assert "from .core.contract import " in schema
    assert sorted(path.name for path in package.glob("*.py")) == [
        "__init__.py", "__main__.py", "features.py", "model.py", "schema.py"
    ]  # fmt: skip


def without_owner_note(path: Path) -> str:
    """A file's text without the owner note line scripts/ownership.py writes."""
    lines = path.read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not ownership.NOTE_START.match(line))


def chains(versions: list[str]) -> list[list[str]]:
    """Update paths to this release: from each earlier release in one step, and through
    every release in between."""
    paths = [[version, CURRENT] for version in versions]
    if len(versions) > 1:
        paths.append([*versions, CURRENT])
    return paths


def test_team_files_of_every_earlier_release_become_this_releases(releases, fresh, tmp_path):
    """Migrations chain: a project that kept the team files as generated ends, by any update
    path, with what this release generates (and no leftover to carry over)."""
    repo, versions = releases
    for number, path in enumerate(chains(versions)):
        project = copy_at(repo, tmp_path / f"project-{number}", f"v{path[0]}")
        for version in path[1:]:
            update_to(project, f"v{version}", trust=True)
            git_commit_all(project, f"Update to {version}")
        route = " -> ".join(path)
        assert conflicts(project) == [], route
        package = f"src/{PACKAGE}"
        for name in ("schema.py", "features.py", "model.py", "core/config.py", "core/pipeline.py"):
            ours, theirs = (project / package / name), (fresh / package / name)
            # The owner note reaches the team's own files in new projects only.
            assert without_owner_note(ours) == without_owner_note(theirs), f"{name} after {route}"
        assert sorted(path.name for path in (project / package).glob("*.v*")) == [], route
        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert recorded["task"] == "classification", route


@pytest.mark.slow
def test_project_with_user_edits_passes_its_own_tests_after_an_answer_change(history, tmp_path):
    """The whole path a team walks: a project of the previous release with its edits and a
    refreshed baseline, updated to this release with an answer changed, then the update
    message's steps; the project passes its own lint and tests."""
    repo, previous = history
    project = copy_at(repo, tmp_path / "project", f"v{previous}", ci_provider="none")
    env = uv_env()
    run("uv", "sync", "--quiet", cwd=project, env=env)
    schema = project / "src" / PACKAGE / "schema.py"
    schema.write_text(schema.read_text() + TEAM_SCHEMA)
    user_edits(project, lock=True)
    # The seed and the code changed: the team records a new baseline on purpose.
    run("uv", "run", PACKAGE, "golden", "update", "--yes", cwd=project, env=env)
    git_commit_all(project, "Own seed, a feature and a dependency; baseline refreshed")

    update_to(project, f"v{CURRENT}", trust=True, experiment_tracking="none")
    assert conflicts(project) == []
    assert_user_edits_kept(project)
    assert TEAM_SCHEMA in schema.read_text()
    assert "mlflow" not in (project / "pyproject.toml").read_text()
    # The next steps Copier prints: setup, alert rules, and a new baseline when the
    # update changed code the model runs (the release did: the pipeline).
    run("make", "setup", "monitoring-rules", cwd=project, env=env)
    git_commit_all(project, f"Update to copier-mlops {CURRENT} without MLflow")
    run("uv", "run", PACKAGE, "golden", "update", "--yes", cwd=project, env=env)
    git_commit_all(project, "Baseline for the updated pipeline")
    run("make", "lint", "test", cwd=project, env=env)


# --- the scheduled template-update jobs ----------------------------------------------------

FAKE_UVX = """#!/bin/sh
# Stands in for `uvx --from copier copier ...`: records its arguments; an update across a
# migration fails without --trust, as copier does.
echo "$@" >> "$UVX_CALLS"
case "$*" in
  *"copier update"*"--trust"*) exit 0 ;;
  *"copier update"*) echo "Template uses potentially unsafe feature: migrations." >&2; exit 1 ;;
esac
"""


def update_script(project: Path, ci_provider: str) -> tuple[str, str]:
    """The shell of the job step that runs `copier update`, and the shell that runs it."""
    if ci_provider == "github":
        workflow = yaml.safe_load((project / ".github/workflows/template-update.yml").read_text())
        steps = workflow["jobs"]["update"]["steps"]
        (step,) = [step for step in steps if step.get("name") == "Update the project"]
        assert step["env"] == {"TEMPLATE_UPDATE_TRUST": "${{ vars.TEMPLATE_UPDATE_TRUST }}"}
        return step["run"], "bash"
    job = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["template-update"]
    (script,) = [line for line in job["script"] if "copier update" in line]
    return script, "sh"


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_scheduled_update_passes_trust_only_when_the_repository_allows_it(ci_provider, tmp_path):
    project = generate(tmp_path / "project", ci_provider=ci_provider)
    script, shell = update_script(project, ci_provider)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uvx").write_text(FAKE_UVX)
    (bin_dir / "uvx").chmod(0o755)
    git_commit_all(project, "Generated")
    for trust, succeeds in (("true", True), ("", False), ("yes", False)):
        calls = tmp_path / f"calls-{trust or 'unset'}"
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "UVX_CALLS": str(calls),
               "TEMPLATE_UPDATE_TRUST": trust, "RUNNER_TEMP": str(tmp_path),
               "GITHUB_OUTPUT": str(tmp_path / "output")}  # fmt: skip
        result = subprocess.run([shell, "-e", "-c", script], cwd=project, env=env,
                                capture_output=True, text=True, check=False)  # fmt: skip
        assert (result.returncode == 0) is succeeds, result.stdout + result.stderr
        (call,) = calls.read_text().splitlines()
        assert ("--trust" in call.split()) is succeeds, call
        if not succeeds:
            assert "TEMPLATE_UPDATE_TRUST to true" in result.stdout
            assert "uvx copier update --trust --defaults" in result.stdout
        assert run("git", "status", "--porcelain", cwd=project).stdout == ""
