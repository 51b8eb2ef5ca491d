"""The `_migrations` scripts in hooks/, run as Copier runs them: the template's Python, in
the project's root, with the stage and the answers file. Real git, no copier (the update
tier in test_update.py runs them through a real `copier update --trust`)."""

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, git_commit_all, run

HOOK = ROOT / "hooks" / "migrate_0_2_0_pipeline.py"
V0_1_0 = "c4e5207"
PIPELINE = Path("src/churn/pipeline.py")
BACKUP = Path("src/churn/pipeline.py.before-v0.2.0")


def v0_1_0_pipeline() -> str:
    """pipeline.py as copier-mlops 0.1.0 generated it, from this repository's history."""
    completed = subprocess.run(
        ["git", "show", f"{V0_1_0}:template/src/{{{{ package_name }}}}/pipeline.py"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        pytest.skip(f"commit {V0_1_0} (release 0.1.0) is not in this clone's history")
    return completed.stdout


def migrate(project: Path, stage: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HOOK), stage, ".copier-answers.yml"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip


def status(project: Path) -> list[str]:
    return run("git", "status", "--porcelain", cwd=project).stdout.splitlines()


@pytest.fixture
def project(tmp_path) -> Path:
    """A project at 0.1.0 as committed by a team: answers file and the generated pipeline."""
    (tmp_path / ".copier-answers.yml").write_text(
        yaml.safe_dump({"_commit": "v0.1.0", "package_name": "churn"})
    )
    (tmp_path / PIPELINE).parent.mkdir(parents=True)
    (tmp_path / PIPELINE).write_text(v0_1_0_pipeline())
    git_commit_all(tmp_path, "Generated from copier-mlops 0.1.0")
    return tmp_path


def update_writes_pipeline(project: Path, text: str) -> None:
    """What copier does between the two stages: the new release's pipeline.py is written."""
    (project / PIPELINE).write_text(text)


def test_the_recorded_hash_is_the_0_1_0_pipeline():
    spec = importlib.util.spec_from_file_location("migrate_0_2_0_pipeline", HOOK)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hashlib.sha256(v0_1_0_pipeline().encode()).hexdigest() == hook.V0_1_0_SHA256


def test_unchanged_pipeline_is_replaced_without_a_trace(project):
    before = migrate(project, "before")
    assert before.returncode == 0, before.stderr
    assert "unchanged since 0.1.0" in before.stdout
    assert not (project / PIPELINE).exists()

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    after = migrate(project, "after")
    assert after.returncode == 0, after.stderr
    assert status(project) == [f" M {PIPELINE}"]
    assert not (project / BACKUP).exists()
    assert "now owned by the template" in after.stdout


def test_changed_pipeline_is_kept_beside_the_new_one_with_steps(project):
    changed = (project / PIPELINE).read_text() + "\n\nTEAM_CONSTANT = 42\n"
    (project / PIPELINE).write_text(changed)
    git_commit_all(project, "Team edit to the pipeline")

    before = migrate(project, "before")
    assert before.returncode == 0, before.stderr
    assert f"kept as {BACKUP}" in before.stdout
    assert (project / BACKUP).read_text() == changed

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    after = migrate(project, "after")
    assert after.returncode == 0, after.stderr
    assert sorted(status(project)) == [f" M {PIPELINE}", f"A  {BACKUP}"]
    for step in (f"git diff --no-index {BACKUP} {PIPELINE}", f"git rm -f {BACKUP}",
                 "make golden-update"):  # fmt: skip
        assert step in after.stdout


def test_windows_line_endings_count_as_unchanged(project):
    (project / PIPELINE).write_bytes(v0_1_0_pipeline().replace("\n", "\r\n").encode())
    git_commit_all(project, "Checked out on Windows")
    assert "unchanged since 0.1.0" in migrate(project, "before").stdout
    assert not (project / PIPELINE).exists()


@pytest.mark.parametrize("edited", [False, True], ids=["unchanged", "changed"])
def test_running_a_stage_twice_changes_nothing_more(project, edited):
    if edited:
        (project / PIPELINE).write_text("TEAM_PIPELINE = True\n")
        git_commit_all(project, "Team pipeline")
    assert migrate(project, "before").returncode == 0
    state = status(project)
    again = migrate(project, "before")
    assert again.returncode == 0, again.stderr
    assert "nothing to migrate" in again.stdout
    assert status(project) == state

    update_writes_pipeline(project, '"""The 0.2.0 pipeline."""\n')
    assert migrate(project, "after").returncode == 0
    state = status(project)
    assert migrate(project, "after").returncode == 0
    assert status(project) == state


def test_a_different_leftover_copy_is_never_overwritten(project):
    (project / PIPELINE).write_text("TEAM_PIPELINE = 2\n")
    (project / BACKUP).write_text("TEAM_PIPELINE = 1\n")
    git_commit_all(project, "An old copy is still around")
    result = migrate(project, "before")
    assert result.returncode == 1
    assert f"{BACKUP} already exists and differs from {PIPELINE}" in result.stderr
    assert (project / BACKUP).read_text() == "TEAM_PIPELINE = 1\n"
    assert (project / PIPELINE).read_text() == "TEAM_PIPELINE = 2\n"


def test_project_without_a_pipeline_is_left_alone(project):
    run("git", "rm", "--quiet", str(PIPELINE), cwd=project)
    git_commit_all(project, "We replaced the pipeline with our own module")
    for stage in ("before", "after"):
        result = migrate(project, stage)
        assert result.returncode == 0, result.stderr
    assert status(project) == []


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (None, ".copier-answers.yml is missing"),
        ({"_commit": "v0.1.0"}, "records no valid package_name (found None)"),
    ],
    ids=["no-answers-file", "no-package-name"],
)
def test_unusable_answers_are_reported_by_name(project, recorded, message):
    if recorded is None:
        (project / ".copier-answers.yml").unlink()
    else:
        (project / ".copier-answers.yml").write_text(yaml.safe_dump(recorded))
    result = migrate(project, "before")
    assert result.returncode == 1
    assert message in result.stderr
    assert (project / PIPELINE).is_file()


def test_wrong_arguments_print_the_usage(project):
    result = migrate(project, "during")
    assert result.returncode == 2
    assert "usage: migrate_0_2_0_pipeline.py before|after ANSWERS_FILE" in result.stderr
