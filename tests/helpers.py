"""One way to generate a project in every test: real copier, no --trust, HEAD of this repo."""

import importlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
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
# The generated tests that exercise the training engine (the data size answer) and PyTorch;
# the rest of a generated suite does not depend on either.
ENGINE_TESTS = ("tests/test_engine.py", "tests/test_pipeline.py", "tests/golden")
TORCH_TESTS = ("tests/test_torch_model.py", "tests/test_distributed.py")
IN_CI = os.environ.get("CI", "").lower() == "true"
# The slow tests that share the `default_project` fixture (conftest.py) run on one xdist
# worker (`--dist loadgroup`), which sets the project up once for all of them.
SHARES_DEFAULT_PROJECT = pytest.mark.xdist_group("default-project")
# What a project pushed without its uv.lock is told in its first CI step.
MISSING_LOCK_ADVICE = ("uv.lock is missing", "make setup", "commit uv.lock")
# pip-audit as `make audit` runs it (PIP_AUDIT), but only reading what it would audit: the
# advisory service it asks is out of reach here.
PIP_AUDIT_DRY_RUN = "uvx --from 'pip-audit>=2.9,<3' pip-audit --dry-run"


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


def require_root(why: str) -> None:
    """Skip (fail in CI, which runs as root) unless this process is root: for what a CI
    runner does as root, such as installing a Debian package."""
    if os.geteuid() != 0:
        message = f"needs root: {why}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


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
    # The interpreter itself, not a venv's or a pyenv shim's path to it: uv recreates a
    # project's venv on every command when the path it is given differs from the one the
    # venv records, which throws away the bytecode the venv had cached.
    resolve = "import sys; print(getattr(sys, '_base_executable', '') or sys.executable)"
    for candidate in filter(None, candidates):
        probe = subprocess.run([str(candidate), "-c", resolve], capture_output=True, text=True,
                               check=False)  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
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


def set_up(
    project: Path, version: str = "3.11", extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """`make setup` in a generated project as a user would, committed; its environment."""
    require_tool("make")
    require_tool("uv")
    git_commit_all(project, "Generated by copier-mlops")
    env = uv_env(version) | (extra_env or {})
    run("make", "setup", cwd=project, env=env)
    git_commit_all(project, "Lock the environment")
    return env


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


def answered_task(project: Path) -> str:
    """The `task` answer a generated project records (classification before it existed)."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return answers.get("task", "classification")


def alert_generator(project: Path, package: str):
    """A generated project's own monitoring.alerts and monitoring.thresholds modules (what
    its `make monitoring-rules` runs), imported from its source without installing the
    project: they need only pydantic and PyYAML, which Copier brings. From 0.4.0 they are
    in the package's core/, before it in the package itself."""
    source = project / "src" / package
    directory = next(
        path for path in (source / "core" / "monitoring", source / "monitoring") if path.is_dir()
    )
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


@dataclass
class Service:
    """A generated project's service started by a test; `output` is set once it stopped."""

    base: str
    process: subprocess.Popen
    output: str = ""


@contextmanager
def serving(
    project: Path, package: str, env: dict[str, str], timeout_s: float = 30, port: int = 0
) -> Iterator[Service]:
    """`<package> serve` on `port` (a free one by default), as a user starts it, once
    `/ready` answers 200."""
    port = port or free_port()
    # A file, not a pipe: a pipe nobody reads while the service runs blocks it once full.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            ["uv", "run", package, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        service = Service(f"http://127.0.0.1:{port}", process)
        try:
            deadline = time.monotonic() + timeout_s
            while not is_ready(service.base):
                if process.poll() is not None:
                    pytest.fail(f"the service exited {process.returncode} before it was ready")
                if time.monotonic() > deadline:
                    pytest.fail(f"the service did not become ready within {timeout_s:g} s")
                time.sleep(0.2)
            yield service
        finally:
            stop(process)
            log.seek(0)
            service.output = log.read()
            if sys.exc_info()[0] is not None:
                print(f"--- service output ---\n{service.output[-6000:]}")


def is_ready(base: str) -> bool:
    """Whether the service at `base` answers /ready with 200 (not yet listening: no)."""
    try:
        return call(f"{base}/ready")[0] == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def script_check(name: str) -> subprocess.CompletedProcess:
    """`scripts/<name> --check`: a generated page or copy is in step with its source."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def conflicts(project: Path) -> list[str]:
    """Files an update left a conflict in: `.rej` files and inline conflict markers."""
    found = [str(path.relative_to(project)) for path in project.rglob("*.rej")]
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.suffix in (".joblib", ".csv"):
            continue
        if "<<<<<<< " in path.read_text(errors="ignore"):
            found.append(str(path.relative_to(project)))
    return found


def golden_record(project: Path, package: str, env: dict[str, str]) -> dict:
    """The first complete golden row of a generated project as a /predict record: the
    contract's features (no id, no target) typed as the request model takes them."""
    described = run(
        "uv", "run", "python", "-c",
        f"import json; from {package}.schema import CONTRACT as c; print(json.dumps("
        "[c.id_column, c.target, {x.name: type(x).__name__ for x in c.columns}]))",
        cwd=project, env=env,
    ).stdout  # fmt: skip
    id_column, target, kinds = json.loads(described.strip().splitlines()[-1])
    golden = next((project / "data/golden").glob("*.csv"))
    frame = pd.read_csv(golden, dtype=str).drop(columns=[id_column, target])
    return {key: _json_value(text, kinds[key]) for key, text in frame.dropna().iloc[0].items()}


def _json_value(text: str, kind: str):
    """A CSV value as the service's request model takes it."""
    if kind == "Numeric":
        return float(text)
    if kind == "Boolean":
        return text.lower() == "true"
    return text


def metric_samples(project: Path, env: dict[str, str], exposition: str) -> list:
    """The samples of a /metrics page, read by prometheus_client's own parser (in the
    project's environment, which has it) as [name, labels, value] triples."""
    page = project / "metrics-page.txt"  # removed below, so the tree stays clean
    page.write_text(exposition)
    parsed = run(
        "uv", "run", "python", "-c",
        "import json, sys; from prometheus_client.parser import text_string_to_metric_families"
        " as parse; print(json.dumps([[s.name, s.labels, s.value] for f in parse(open("
        "sys.argv[1]).read()) for s in f.samples]))", str(page),
        cwd=project, env=env,
    ).stdout  # fmt: skip
    page.unlink()
    return json.loads(parsed.strip().splitlines()[-1])
