"""Update tier: real git history, real copier. A project copied at an older template
release, edited as a team would, is updated without losing any of its work."""

import re
from pathlib import Path

import pytest
from copier import run_copy, run_update

from tests.helpers import ROOT, git_commit_all, release, release_repo, run, uv_env

PACKAGE = "wine_quality"


def copy_at(repo: Path, destination: Path, version: str, **answers: str) -> Path:
    run_copy(str(repo), destination, data={"project_name": "Wine quality", **answers},
             defaults=True, unsafe=False, vcs_ref=version, quiet=True)  # fmt: skip
    git_commit_all(destination, f"Generated from copier-mlops {version}")
    return destination


def update_to(project: Path, version: str, **answers: str) -> None:
    run_update(project, data=answers, defaults=True, overwrite=True, unsafe=False,
               vcs_ref=version, conflict="inline", quiet=True)  # fmt: skip


def conflicts(project: Path) -> list[str]:
    found = [str(path.relative_to(project)) for path in project.rglob("*.rej")]
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.suffix in (".joblib", ".csv"):
            continue
        if "<<<<<<< " in path.read_text(errors="ignore"):
            found.append(str(path.relative_to(project)))
    return found


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = release_repo(tmp_path_factory.mktemp("template-repo"))
    release(
        repo,
        "1.1.0",
        {
            "template/.gitignore": "\n# Profiles written by py-spy\n*.speedscope.json\n",
            "template/Makefile.jinja": "\ncheck: lint test ## Lint and test\n",
            "template/src/{{ package_name }}/features.py": "\n# template v1.1.0 change\n",
        },
    )
    return repo


def user_edits(project: Path) -> None:
    features = project / "src" / PACKAGE / "features.py"
    features.write_text(
        features.read_text().replace(
            '        nw.col("proline").log().alias("log_proline"),\n',
            '        nw.col("proline").log().alias("log_proline"),\n'
            '        (nw.col("alcalinity_of_ash") * nw.col("ash")).alias("ash_alcalinity"),\n',
        )
    )
    params = project / "params.yml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
    tolerances = project / "tests/golden/tolerances.yml"
    tolerances.write_text(tolerances.read_text().replace("label_changes: 0", "label_changes: 1"))
    readme = project / "README.md"
    readme.write_text(
        readme.read_text().replace("## Quick start", "## Our notes\n\n## Quick start")
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            '    "fastapi>=0.115",\n', '    "fastapi>=0.115",\n    "tabulate>=0.9",\n'
        )
    )
    if (project / "uv.lock").exists():
        run("uv", "lock", "--quiet", cwd=project, env=uv_env())
    git_commit_all(project, "Team edits")


def test_update_keeps_every_user_edit_and_applies_template_changes(repo, tmp_path):
    project = copy_at(repo, tmp_path / "project", "v1.0.0")
    user_edits(project)
    update_to(project, "v1.1.0")

    assert conflicts(project) == []
    assert "ash_alcalinity" in (project / "src" / PACKAGE / "features.py").read_text()
    assert "template v1.1.0 change" not in (project / "src" / PACKAGE / "features.py").read_text()
    assert "C: 0.5" in (project / "params.yml").read_text()
    assert "label_changes: 1" in (project / "tests/golden/tolerances.yml").read_text()
    assert "## Our notes" in (project / "README.md").read_text()
    assert '"tabulate>=0.9"' in (project / "pyproject.toml").read_text()
    assert "*.speedscope.json" in (project / ".gitignore").read_text()
    assert "check: lint test" in (project / "Makefile").read_text()
    assert "_commit: v1.1.0" in (project / ".copier-answers.yml").read_text()


def test_deleted_files_stay_deleted(repo, tmp_path):
    project = copy_at(repo, tmp_path / "project", "v1.0.0")
    (project / "README.md").unlink()
    (project / "tests" / "golden" / "tolerances.yml").unlink()
    (project / ".pre-commit-config.yaml").unlink()
    git_commit_all(project, "We do not want these")
    update_to(project, "v1.1.0")
    assert conflicts(project) == []
    for name in ("README.md", "tests/golden/tolerances.yml", ".pre-commit-config.yaml"):
        assert not (project / name).exists(), f"{name} was forced back"


@pytest.mark.parametrize(
    ("before", "after", "gone", "appears"),
    [
        ({"ci_provider": "github"}, {"ci_provider": "none"}, [".github/workflows/ci.yml"], []),
        ({"ci_provider": "none"}, {"ci_provider": "github"}, [], [".github/workflows/ci.yml"]),
        (
            {"experiment_tracking": "mlflow"},
            {"experiment_tracking": "none"},
            [f"src/{PACKAGE}/tracking.py"],
            [],
        ),
    ],
    ids=["github-to-none", "none-to-github", "mlflow-to-none"],
)
def test_changing_an_answer_through_update_keeps_user_edits(
    repo, tmp_path, before, after, gone, appears
):
    project = copy_at(repo, tmp_path / "project", "v1.0.0", **before)
    user_edits(project)
    update_to(project, "v1.1.0", **after)
    assert conflicts(project) == []
    for name in gone:
        assert not (project / name).exists()
    for name in appears:
        assert (project / name).is_file()
    assert "ash_alcalinity" in (project / "src" / PACKAGE / "features.py").read_text()
    assert "## Our notes" in (project / "README.md").read_text()
    assert '"tabulate>=0.9"' in (project / "pyproject.toml").read_text()
    recorded = (project / ".copier-answers.yml").read_text()
    for name, value in after.items():
        assert f"{name}: {value}" in recorded


@pytest.mark.slow
def test_project_with_user_edits_passes_its_own_tests_after_an_answer_change(repo, tmp_path):
    project = copy_at(repo, tmp_path / "project", "v1.0.0")
    env = uv_env()
    run("make", "setup", cwd=project, env=env)
    user_edits(project)
    run("uv", "run", PACKAGE, "golden", "update", "--yes", cwd=project, env=env)
    git_commit_all(project, "New feature and regularisation, baseline refreshed")

    update_to(project, "v1.1.0", experiment_tracking="none", ci_provider="none")
    assert conflicts(project) == []
    git_commit_all(project, "Update to copier-mlops 1.1.0 without MLflow")
    run("make", "setup", "lint", "test", "check", cwd=project, env=env)
    assert "mlflow" not in (project / "pyproject.toml").read_text()
    assert "ash_alcalinity" in (project / "src" / PACKAGE / "features.py").read_text()


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


def previous_releases(count: int = 2) -> list[str]:
    """The newest release tags in this repository's own history."""
    tags = run("git", "tag", "--list", "v*", "--sort=-v:refname", cwd=ROOT).stdout.split()
    return tags[:count]


@pytest.mark.parametrize("tag", previous_releases() or [None])
def test_update_from_each_previous_release_keeps_user_edits(tag, tmp_path):
    if tag is None:
        pytest.skip("this repository has no release tag yet (vX.Y.Z): nothing to update from")
    project = copy_at(ROOT, tmp_path / "project", tag)
    user_edits(project)
    update_to(project, "HEAD")
    assert conflicts(project) == []
    assert "ash_alcalinity" in (project / "src" / PACKAGE / "features.py").read_text()
    assert "C: 0.5" in (project / "params.yml").read_text()
    assert "## Our notes" in (project / "README.md").read_text()
    assert '"tabulate>=0.9"' in (project / "pyproject.toml").read_text()
