"""The lock file (docs/decisions/0014-the-lock-file.md): no lock ships; `make setup` writes
it and the team commits it. Both CI providers then install exactly what it pins and fail
on a stale one, and a project pushed without it fails in its first step, saying what to do."""

import os
import subprocess

import pytest
import yaml

from tests.deploy.projects import answers_of, check_schema
from tests.helpers import MISSING_LOCK_ADVICE

# A PATH with make and a shell but not uv: the missing lock is caught before uv runs.
NO_UV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}


def github_jobs(project) -> dict[str, list[str]]:
    """Each job of ci.yml that sets up uv, with its `run:` commands in order."""
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    assert workflow["env"]["UV_LOCKED"] == "1"
    return {
        name: [step["run"] for step in job["steps"] if "run" in step]
        for name, job in workflow["jobs"].items()
        if any(step.get("uses", "").startswith("astral-sh/setup-uv@") for step in job["steps"])
    }


def test_every_ci_job_installs_from_the_committed_lock(project):
    answers = answers_of(project)
    if answers["ci_provider"] == "github":
        jobs = github_jobs(project)
        assert {"lint", "test", "golden", "docs"} <= set(jobs)
        for name, runs in jobs.items():
            if name == "deploy-lint":  # Terraform and checkov only, no project environment
                assert not any("uv run" in command for command in runs), runs
                continue
            # `make audit` reads uv.lock without installing it, after the same check.
            first = "make audit" if name == "security" else "make locked"
            assert runs[0] == first, f"{name} runs {runs[0]!r} before installing"
    elif answers["ci_provider"] == "gitlab":
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        assert pipeline["variables"]["UV_LOCKED"] == "1"
        check, install, *_ = pipeline[".uv"]["before_script"]
        assert check.startswith("test -f uv.lock ||")
        assert install == "uv sync --locked"
        for name, job in pipeline.items():
            if isinstance(job, dict) and "uv run" in " ".join(job.get("script", [])):
                assert job.get("extends") == ".uv", f"{name} runs uv without the lock check"
                assert "before_script" not in job, f"{name} replaces the lock check"
    else:
        assert not (project / ".github").exists()
        assert not (project / ".gitlab-ci.yml").exists()


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_a_project_pushed_without_its_lock_fails_at_the_first_step(render, ci):
    project = render("local", ci)
    assert not (project / "uv.lock").exists()
    if ci == "github":
        command = ["make", "locked"]
    else:
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        command = ["sh", "-c", pipeline[".uv"]["before_script"][0]]
    result = subprocess.run(command, cwd=project, env=NO_UV, capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    assert result.returncode != 0
    for words in MISSING_LOCK_ADVICE:
        assert words in result.stderr, result.stderr
    assert "uv: not found" not in result.stderr + result.stdout


def test_renovate_keeps_a_gitlab_projects_lock_current(project):
    answers = answers_of(project)
    path = project / "renovate.json"
    assert path.exists() == (answers["ci_provider"] == "gitlab")
    if path.exists():
        check_schema("vendor.renovate", path, cwd=project)
        config = yaml.safe_load(path.read_text())
        assert config["lockFileMaintenance"]["enabled"] is True
        assert config["minimumReleaseAge"] == "7 days"
