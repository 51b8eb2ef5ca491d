"""One way to generate a project in every test: real copier, no --trust, HEAD of this repo."""

import importlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from copier import run_copy

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((ROOT / "copier.yml").read_text()).items()
    if not name.startswith("_")
}
DEFAULT_NAME = "Wine quality"
IN_CI = os.environ.get("CI", "").lower() == "true"


def generate(destination: Path, **answers: str) -> Path:
    """Copy the template (without --trust) with the default answers plus `answers`."""
    run_copy(
        str(ROOT),
        destination,
        data={"project_name": DEFAULT_NAME, **answers},
        defaults=True,
        unsafe=False,
        vcs_ref="HEAD",
        quiet=True,
    )
    return destination


def choices(question: str) -> list[str]:
    """The values a question offers, whatever form copier.yml lists them in."""
    spec = QUESTIONS[question]["choices"]
    return list(spec.values()) if isinstance(spec, dict) else list(spec)


def require_tool(name: str) -> str:
    """Path of a command-line tool; in CI a missing tool fails, elsewhere it skips with why."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*command: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900):
    """Run a command as a user would, failing with its output when it fails."""
    completed = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` exited {completed.returncode} in {cwd}\n"
            f"--- stdout ---\n{completed.stdout[-6000:]}\n"
            f"--- stderr ---\n{completed.stderr[-6000:]}"
        )
    return completed


def interpreter(version: str) -> str:
    """An interpreter for `version` that uv can use (it cannot download one here)."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run([str(candidate), "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return str(candidate)
    message = f"no Python {version} interpreter on this machine"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def uv_env(version: str = "3.11") -> dict[str, str]:
    """Environment for running a generated project's own commands with its own venv."""
    env = {"UV_PYTHON": interpreter(version), "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    env["VIRTUAL_ENV"] = ""
    # Let the generated project cache its bytecode even where the CI image disables it;
    # otherwise every `uv run` recompiles scikit-learn, pandas and MLflow from source.
    env["PYTHONDONTWRITEBYTECODE"] = ""
    return env


def git_commit_all(project: Path, message: str) -> None:
    """Commit everything as a user would (git init first if needed)."""
    if not (project / ".git").exists():
        run("git", "init", "--quiet", "--initial-branch=main", cwd=project)
    run("git", "add", "--all", cwd=project)
    run(
        "git", "-c", "user.name=Test User", "-c", "user.email=test@example.com",
        "commit", "--quiet", "--allow-empty", "-m", message, cwd=project,
    )  # fmt: skip


def release_repo(destination: Path, version: str = "1.0.0", commit: str | None = None) -> Path:
    """A throwaway template repo holding this working tree as release v<version>.

    With `commit`, the release is this repository as it was at that commit instead.
    """
    publish(destination, version, commit)
    return destination


def publish(repo: Path, version: str, commit: str | None = None) -> None:
    """Replace the files of a throwaway template repo with this working tree (or this
    repository at `commit`), commit them and tag them as release v<version>."""
    for path in repo.iterdir() if repo.exists() else ():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    repo.mkdir(parents=True, exist_ok=True)
    if commit is None:
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split("\0")  # fmt: skip
        for name in filter(None, files):
            source = ROOT / name
            if source.is_file():
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, repo / name)
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git_commit_all(repo, f"copier-mlops {version}")
    run("git", "tag", f"v{version}", cwd=repo)


def release(repo: Path, version: str, edits: dict[str, str]) -> None:
    """Commit template edits ({path: text appended}) and tag them as a new release."""
    for name, text in edits.items():
        path = repo / name
        path.write_text(path.read_text() + text)
    git_commit_all(repo, f"copier-mlops {version}")
    run("git", "tag", f"v{version}", cwd=repo)


def alert_generator(project: Path, package: str):
    """A generated project's own monitoring.alerts and monitoring.thresholds modules (what
    its `make monitoring-rules` runs), imported from its source without installing the
    project: they need only pydantic and PyYAML, which Copier brings."""
    directory = project / "src" / package / "monitoring"
    name = f"generated_{package}_monitoring"
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        alerts = importlib.import_module(f"{name}.alerts")
        thresholds = importlib.import_module(f"{name}.thresholds")
    finally:
        for loaded in [key for key in sys.modules if key.startswith(name)]:
            del sys.modules[loaded]
    return alerts, thresholds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a server started by a test: terminate, then kill if it does not exit."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
