"""Slow tier: generated projects run their own setup, lint, tests, pipeline and service,
exactly as a user would, through their Makefile and CLI. The default project's lint,
security scan, tests, golden check and docs run as its CI jobs run them, in
tests/test_ci_runs.py."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    PIP_AUDIT_DRY_RUN,
    SHARES_DEFAULT_PROJECT,
    call,
    generate,
    git_commit_all,
    run,
    serving,
    set_up,
)

pytestmark = pytest.mark.slow


@SHARES_DEFAULT_PROJECT
def test_ci_install_refuses_a_lock_that_no_longer_matches_pyproject(default_project):
    """`make locked`, the first step of every CI job, installs the committed lock and
    fails, changing nothing, once pyproject.toml asks for something the lock lacks."""
    project, env = default_project
    run("make", "locked", cwd=project, env=env)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "tomli-w>=1.0",\n', 1)
    )
    try:
        stale = subprocess.run(
            ["make", "locked"], cwd=project, env={**os.environ, **env},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        pyproject.write_text(text)
    assert stale.returncode != 0
    assert "needs to be updated" in stale.stderr, stale.stderr
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""


@SHARES_DEFAULT_PROJECT
def test_audit_reads_the_committed_lock_and_the_teams_allow_list(default_project):
    """`make audit` exports what uv.lock pins and hands pip-audit the accepted IDs. The
    vulnerability service is out of reach here, so pip-audit only parses (--dry-run)."""
    project, env = default_project
    allow_list = project / "security/audit-ignore.txt"
    text = allow_list.read_text()
    allow_list.write_text(text + "GHSA-aaaa-bbbb-cccc  # the service never runs the CLI\n")
    try:
        result = run("make", "audit", f"PIP_AUDIT={PIP_AUDIT_DRY_RUN}", cwd=project, env=env)
    finally:
        allow_list.write_text(text)
    assert "--ignore-vuln GHSA-aaaa-bbbb-cccc" in result.stdout
    assert "would have audited" in result.stdout + result.stderr
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""


@SHARES_DEFAULT_PROJECT
def test_default_project_trains_evaluates_and_predicts(default_project):
    project, env = default_project
    run("make", "train", "evaluate", "predict", cwd=project, env=env)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    baseline = json.loads((project / "tests/golden/baseline/metrics.json").read_text())
    assert metrics == pytest.approx(baseline, abs=1e-6)
    predictions = (project / "reports/predictions.csv").read_text().splitlines()
    assert predictions[0].startswith("sample_id,predicted,probability_class_0")
    assert len(predictions) == 179
    assert (project / "mlflow.db").is_file()
    status = run("git", "status", "--porcelain", cwd=project).stdout
    assert status == "", "pipeline outputs must be git-ignored"


@SHARES_DEFAULT_PROJECT
def test_default_project_serves_predictions(default_project):
    project, env = default_project
    run("make", "train", cwd=project, env=env)
    with serving(project, "wine_quality", env, timeout_s=20) as service:
        base = service.base
        assert call(f"{base}/health") == (200, {"status": "ok"})
        wine = {
            "alcohol": 13.2, "malic_acid": 1.78, "ash": 2.14, "alcalinity_of_ash": 11.2,
            "magnesium": 100, "total_phenols": 2.65, "flavanoids": 2.76,
            "nonflavanoid_phenols": 0.26, "proanthocyanins": 1.28, "color_intensity": 4.38,
            "hue": 1.05, "od280_od315": 3.4, "proline": 1050,
        }  # fmt: skip
        status, body = call(f"{base}/predict", {"records": [wine, wine]})
        assert status == 200
        assert [p["predicted"] for p in body["predictions"]] == ["class_0", "class_0"]
        status, body = call(f"{base}/predict", {"records": [{**wine, "proline": -1}]})
        assert status == 422
        assert body["detail"][0]["loc"][-1] == "proline"
    assert '"event": "request"' in service.output


def golden_check(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["uv", "run", "wine_quality", "golden", "check"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip


def test_golden_check_names_changed_model_code(tmp_path):
    project = generate(tmp_path / "wine-quality")
    env = set_up(project)
    features = project / "src/wine_quality/features.py"
    features.write_text(
        features.read_text().replace(
            'nw.col("proline").log()', '(nw.col("proline") * nw.col("hue")).log()'
        )
    )
    check = golden_check(project, env)
    assert check.returncode == 1
    assert "inputs changed: code: build_features" in check.stdout
    assert "MOVED" in check.stdout
    tests = subprocess.run(
        ["uv", "run", "pytest", "-q", "tests/golden"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    assert tests.returncode == 1
    assert "Results moved because inputs changed: code: build_features" in tests.stdout


def test_golden_update_round_trip(tmp_path):
    project = generate(tmp_path / "wine-quality")
    env = set_up(project)
    params = project / "params.yml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.05"))

    refused = subprocess.run(
        ["uv", "run", "wine_quality", "golden", "update", "--yes"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "uncommitted changes" in refused.stderr
    assert "params.yml" in refused.stderr

    git_commit_all(project, "Stronger regularisation")
    check = golden_check(project, env)
    assert check.returncode == 1
    assert "inputs changed: params" in check.stdout
    assert "log_loss" in check.stdout

    update = run("uv", "run", "wine_quality", "golden", "update", "--yes", cwd=project, env=env)
    moved = [line for line in update.stdout.splitlines() if line.endswith("MOVED")]
    assert any(line.startswith("log_loss") for line in moved), update.stdout
    run("uv", "run", "wine_quality", "golden", "check", cwd=project, env=env)
    # The golden tests accept the new baseline (the rest of the suite does not read it).
    run("uv", "run", "pytest", "-q", "tests/golden", cwd=project, env=env)


@pytest.mark.parametrize(
    "variant",
    [
        {"python_version": "3.12", "experiment_tracking": "none", "ci_provider": "none",
         "license": "MIT"},
    ],
    ids=["py312-no-tracking-no-ci"],
)  # fmt: skip
def test_variant_projects_pass_their_own_checks(tmp_path, variant):
    project = generate(tmp_path / "variant", project_name="Cellar Sorter", **variant)
    env = set_up(project, variant["python_version"])
    run("make", "lint", "test", "train", "predict", cwd=project, env=env)
    assert not (project / "mlflow.db").exists()
    shutil.rmtree(project / ".venv")
