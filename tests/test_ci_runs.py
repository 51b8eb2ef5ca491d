"""Slow tier: a generated project's CI jobs run for real, so "CI passes" is proven.

GitLab: gitlab-ci-local (npm; .ci/run installs it) runs the lint, security, test, golden
and docs jobs of `.gitlab-ci.yml` with its shell executor, each in its own copy of the
committed project (`--shell-isolation`), as GitLab would; a project pushed without uv.lock
fails in seconds, saying what to do. GitHub: the same jobs of `.github/workflows/ci.yml`
(the same make targets) have their `run:` steps run in order, with bash as a runner runs
them, in a fresh clone of the committed project with the workflow's, the job's and the
step's `env`. Its `uses:` steps (checkout and setup-uv, stood in for by the clone and uv on
PATH) are not run here: tests/deploy/test_github.py checks them against the workflow
schema (check-jsonschema), audits them with zizmor and checks each is pinned by commit SHA.

The dependency audit runs as `pip-audit --dry-run` (PIP_AUDIT): it reads what uv.lock pins
but does not ask the PyPA advisory service, which this machine cannot reach; only a real
runner gives its verdict, as only a real runner runs Trivy (a vulnerability database), the
image jobs (a Docker engine and a registry) and the deploy jobs (the platform).
"""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import (
    MISSING_LOCK_ADVICE,
    PIP_AUDIT_DRY_RUN,
    SHARES_DEFAULT_PROJECT,
    generate,
    git_commit_all,
    interpreter,
    require_root,
    require_tool,
    run,
    set_up,
)

pytestmark = pytest.mark.slow

# The jobs both providers define on the project's make targets, and what each prints once
# it has done its work (its exit code says whether it passed).
EVIDENCE = {
    "lint": "All checks passed!",
    "security": "would have audited",
    "test": " passed",
    "golden": "Golden check passed",
    "docs": "Documentation built",
}
# The jobs that install Debian packages with apt-get (promtool; git and make), as root on
# GitLab's image and through passwordless sudo on GitHub's runner.
INSTALL_PACKAGES = {"test", "security"}
APT_WHY = "the job installs Debian packages with apt-get (CI runs as root)"
OFFLINE = {"PIP_AUDIT": PIP_AUDIT_DRY_RUN}


def outcome(completed: subprocess.CompletedProcess) -> str:
    return f"exit {completed.returncode}\n{completed.stdout[-8000:]}"


# GitLab


def link_tree(source: Path, destination: Path) -> None:
    """Hard-link every file of `source` into `destination`, symbolic links copied as
    links, passing over what vanishes meanwhile (uv renames files into a cache other tests
    are using) and its `.lock` files (a hard link would share the lock with `source`)."""
    for root, directories, files in os.walk(source):
        here = destination / os.path.relpath(root, source)
        here.mkdir(exist_ok=True)
        for name in directories + files:
            path = Path(root, name)
            with contextlib.suppress(FileNotFoundError):
                if path.is_symlink():
                    (here / name).symlink_to(os.readlink(path))
                elif name in files and name != ".lock":
                    os.link(path, here / name)


@pytest.fixture
def uv_cache(tmp_path) -> Iterator[Path]:
    """A copy of the shared uv cache (hard links: a second or two) for one GitLab job.

    Every job's after_script runs `uv cache prune --ci`, which empties the cache it is
    given of everything quick to download again (what GitLab's cache should keep): on the
    shared cache that would make every later job and test download all again. Without any
    cache, each job would download every package. The copy sits beside the shared cache:
    hard links need one file system."""
    require_tool("uv")
    shared = Path(run("uv", "cache", "dir", cwd=tmp_path).stdout.strip())
    shared.mkdir(parents=True, exist_ok=True)
    copy = Path(tempfile.mkdtemp(prefix=f"{shared.name}-ci-job-", dir=shared.parent))
    try:
        link_tree(shared, copy)
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def gitlab_ci_local(
    project: Path, job: str, env: dict[str, str], cache: Path | None
) -> subprocess.CompletedProcess:
    """One job of the project's .gitlab-ci.yml with gitlab-ci-local's shell executor, in
    its own copy of the committed files (--shell-isolation); uv comes from PATH instead of
    the job's image. With `cache`, the pipeline's UV_CACHE_DIR is pointed at it, and its
    UV_LINK_MODE (copy, for GitLab's cache in the checkout) is hardlink: a job's venv then
    links each package's files instead of copying them (the same files either way)."""
    command = [
        require_tool("gitlab-ci-local"), "--force-shell-executor", "--shell-isolation",
        "--no-color", *(f"--variable={name}={value}" for name, value in OFFLINE.items()),
    ]  # fmt: skip
    if cache is not None:
        command += [f"--variable=UV_CACHE_DIR={cache}", "--variable=UV_LINK_MODE=hardlink"]
    require_tool("rsync")  # what --shell-isolation copies the project with
    # The job's stderr into its stdout: one log, in the order the job printed it.
    return subprocess.run(
        [*command, job], cwd=project, env={**os.environ, **env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def gitlab_project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    project = generate(tmp_path_factory.mktemp("gitlab") / "wine-quality", ci_provider="gitlab")
    return project, set_up(project)


@pytest.mark.parametrize(
    "job", [pytest.param(job, marks=pytest.mark.xdist_group("gitlab-jobs")) for job in EVIDENCE]
)
def test_gitlab_job_passes_under_gitlab_ci_local(gitlab_project, request, job):
    """The uv jobs (`extends: .uv`) share a copy of this machine's uv cache; the security
    job, which has no cache, starts with none in its checkout, as on GitLab."""
    project, env = gitlab_project
    if job in INSTALL_PACKAGES:
        require_root(APT_WHY)
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    cached = pipeline[job].get("extends") == ".uv"
    result = gitlab_ci_local(
        project, job, env, request.getfixturevalue("uv_cache") if cached else None
    )
    assert result.returncode == 0, outcome(result)
    assert re.search(rf"^ PASS +{job}$", result.stdout, re.MULTILINE), outcome(result)
    assert EVIDENCE[job] in result.stdout, outcome(result)
    install = "$ uv sync --locked" if cached else "uv export --locked"
    assert install in result.stdout, "the job did not read the lock"


def test_gitlab_pipeline_pushed_without_its_lock_stops_in_seconds(tmp_path):
    """Pushed right after `copier copy`: the first job's first command stops it, before
    uv installs anything, with the one step to take."""
    project = generate(tmp_path / "wine-quality", ci_provider="gitlab")
    git_commit_all(project, "Generated by copier-mlops")
    started = time.monotonic()
    result = gitlab_ci_local(project, "lint", {}, cache=None)
    elapsed = time.monotonic() - started
    assert result.returncode != 0, outcome(result)
    assert re.search(r"^ FAIL +lint", result.stdout, re.MULTILINE), outcome(result)
    for words in MISSING_LOCK_ADVICE:
        assert words in result.stdout, outcome(result)
    assert "$ uv sync" not in result.stdout, outcome(result)
    assert elapsed < 30, f"the job took {elapsed:.0f} s to fail"


# GitHub

# The actions the jobs run use, and what stands in for each here.
STOOD_IN = {
    "actions/checkout": "a fresh `git clone` of the committed project",
    "astral-sh/setup-uv": "uv on PATH, with the shared uv cache",
}
STEP_KEYS = {"name", "run", "env", "working-directory", "shell"}


def actions_value(value) -> str:
    """An `env` value as a runner passes it (YAML true is the string "true")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def actions_env(mapping: dict | None) -> dict[str, str]:
    values = {name: actions_value(value) for name, value in (mapping or {}).items()}
    for name, value in values.items():
        assert "${{" not in value, f"{name}: an expression only a runner can evaluate"
    return values


@pytest.fixture(scope="module")
def runner_bin(tmp_path_factory) -> Path:
    """A `sudo` that runs its arguments: GitHub's runners give passwordless sudo; here the
    tests run as root (require_root), where sudo may not be installed."""
    directory = tmp_path_factory.mktemp("runner-bin")
    shim = directory / "sudo"
    shim.write_text('#!/bin/sh\nexec "$@"\n')
    shim.chmod(0o755)
    return directory


def run_github_job(
    project: Path, job: str, env: dict[str, str], workspace: Path, bin_dir: Path
) -> tuple[Path, str, Path]:
    """Run the `run:` steps of `job` in ci.yml in order, in a fresh clone of `project`, as
    a runner does: `bash -e -o pipefail`, the workflow's, job's and step's env, and the
    runner's GITHUB_WORKSPACE, RUNNER_TEMP and GITHUB_STEP_SUMMARY. The clone, everything
    the steps printed, and the job summary."""
    clone = workspace / "checkout"
    run("git", "clone", "--quiet", str(project), str(clone), cwd=workspace)
    workflow = yaml.safe_load((clone / ".github/workflows/ci.yml").read_text())
    spec = workflow["jobs"][job]
    summary = workspace / "step-summary.md"
    summary.touch()
    (workspace / "runner-temp").mkdir()
    job_env = {**actions_env(workflow.get("env")), **actions_env(spec.get("env"))}
    # What setup-uv's uv finds or downloads for UV_PYTHON: this machine's interpreter.
    job_env["UV_PYTHON"] = interpreter(job_env["UV_PYTHON"])
    runner = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(clone),
        "RUNNER_TEMP": str(workspace / "runner-temp"),
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    printed = []
    for step in spec["steps"]:
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in STOOD_IN, f"{job}: nothing here stands in for {action}"
            continue
        assert set(step) <= STEP_KEYS, f"{job}: step keys {set(step) - STEP_KEYS} not run here"
        assert step.get("shell", "bash") == "bash", f"{job}: only bash steps run here"
        command = step["run"]
        assert "${{" not in command, f"{job}: an expression only a runner can evaluate"
        completed = run(
            "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", command,
            cwd=clone / step.get("working-directory", "."),
            env={**env, **OFFLINE, **job_env, **actions_env(step.get("env")), **runner},
        )  # fmt: skip
        printed.append(f"$ {command}\n{completed.stdout}{completed.stderr}")
    return clone, "\n".join(printed), summary


@pytest.mark.parametrize("job", EVIDENCE)
@SHARES_DEFAULT_PROJECT
def test_github_job_run_steps_pass_in_a_clean_clone(default_project, runner_bin, tmp_path, job):
    """The default project's CI jobs pass as a runner runs them, once it is set up as its
    first red job asks (conftest.py's default_project: `make setup`, uv.lock committed)."""
    project, env = default_project
    if job in INSTALL_PACKAGES:
        require_root(APT_WHY)
    clone, printed, summary = run_github_job(project, job, env, tmp_path, runner_bin)
    assert printed.startswith("$ make "), "the job's first step is not a make target"
    assert EVIDENCE[job] in printed, printed[-6000:]
    if job == "golden":
        assert "### Golden check passed" in summary.read_text()
    if job == "docs":
        assert (clone / "build/site/plan/index.html").is_file()
    assert run("git", "status", "--porcelain", cwd=clone).stdout == "", "a CI step wrote"
