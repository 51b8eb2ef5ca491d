"""Monitoring of generated projects.

Fast tier (every answer combination): the compose file with its monitoring profile, the
Grafana dashboard against the metrics the service defines, and the alert rules through
`promtool check` and `promtool test`. Slow tier: a generated service scraped by a real
Prometheus, whose alert fires when a lowered threshold is crossed.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.helpers import call, free_port, generate, require_tool, run, serving, stop, uv_env

BIN = Path(sys.executable).parent
PACKAGE = "wine_quality"
PROMQL_WORDS = {
    "by", "without", "sum", "max", "min", "rate", "increase", "histogram_quantile", "time",
    "scalar",
}  # fmt: skip
SUFFIXES = {
    "Counter": ("_total",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count"),
    "Info": ("_info",),
}
# Metric families metrics.py declares for one task only (CONTRACT.task).
TASK_FAMILIES = {
    "classification": {"prediction_confidence", "low_confidence_predictions"},
    "regression": {"predicted_value", "out_of_range_predictions"},
}


@pytest.fixture(scope="module")
def project(answers, tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("monitored"), **answers)


def project_task(project: Path) -> str:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())["task"]


def exported_metrics(project: Path) -> set[str]:
    """Series names the service exposes, from the metric declarations in metrics.py
    (those of the project's task)."""
    source = (project / f"src/{PACKAGE}/core/monitoring/metrics.py").read_text()
    declared = re.findall(r"(Counter|Gauge|Histogram|Info)\(\s*\"(\w+)\"", source)
    assert len(declared) >= 8, declared
    other = set().union(
        *(names for task, names in TASK_FAMILIES.items() if task != project_task(project))
    )
    return {
        name + suffix for kind, name in declared if name not in other for suffix in SUFFIXES[kind]
    } | {"up"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside labels, ranges and keywords."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"|by \([^)]*\)", " ", expr)
    return {
        token
        for token in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", bare)
        if token not in PROMQL_WORDS and not token.startswith("__")
    }


def test_compose_file_validates_with_a_pinned_monitoring_profile(project):
    run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
        str(project / "compose.yaml"), cwd=project)  # fmt: skip
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    assert "build" in services["api"]
    for name in ("prometheus", "grafana"):
        service = services[name]
        assert service["profiles"] == ["monitoring"]
        assert re.search(r":v?\d+\.\d+\.\d+$", service["image"]), service["image"]
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (project / source).is_dir(), f"{name} mounts missing {source}"
    prometheus = yaml.safe_load((project / "monitoring/prometheus/prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["api:8000"]


def test_dashboard_panels_query_metrics_the_service_exports(project):
    dashboard = json.loads(
        (project / "monitoring/grafana/dashboards/prediction-service.json").read_text()
    )
    datasource = yaml.safe_load(
        (project / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    exported = exported_metrics(project)
    used = set()
    assert len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, target["expr"]
            assert names <= exported, f"{panel['title']}: {names - exported} not exported"
            used |= names
    # Every metric the service defines is on the dashboard (in some form).
    families = {re.sub(r"_(total|bucket|sum|count|info)$", "", name) for name in exported}
    shown = {re.sub(r"_(total|bucket|sum|count|info)$", "", name) for name in used}
    assert families - {"up"} <= shown, families - shown


def test_alert_rules_pass_promtool_and_use_exported_metrics(project, tmp_path):
    promtool = require_tool("promtool")
    rules_dir = project / "monitoring/prometheus"
    run(promtool, "check", "rules", "alerts.yml", cwd=rules_dir)
    result = run(promtool, "test", "rules", "alerts.test.yml", cwd=rules_dir)
    assert "SUCCESS" in result.stdout + result.stderr
    run(promtool, "check", "config", "prometheus.yml", cwd=rules_dir)
    rules = yaml.safe_load((rules_dir / "alerts.yml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((rules_dir / "alerts.test.yml").read_text())["tests"]
    exported = exported_metrics(project)
    for rule in rules:
        assert metric_names(rule["expr"]) <= exported, rule["expr"]
        outcomes = [
            bool(case["exp_alerts"])
            for test in tests
            for case in test["alert_rule_test"]
            if case["alertname"] == rule["alert"]
        ]
        assert sorted(outcomes) == [False, True], f"{rule['alert']}: one firing, one quiet test"


def test_promtool_tests_fail_when_a_rule_drifts_from_them(project, tmp_path):
    """The unit tests have teeth: a rule with a different threshold fails them."""
    promtool = require_tool("promtool")
    rules_dir = project / "monitoring/prometheus"
    rules = (rules_dir / "alerts.yml").read_text()
    (tmp_path / "alerts.yml").write_text(re.sub(r"> 0\.05$", "> 0.99", rules, flags=re.M))
    (tmp_path / "alerts.test.yml").write_text((rules_dir / "alerts.test.yml").read_text())
    broken = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=tmp_path, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert broken.returncode != 0
    assert "HighErrorRate fires" in broken.stdout + broken.stderr


def test_every_threshold_is_explained(project):
    lines = (project / "monitoring/thresholds.yml").read_text().splitlines()
    values = yaml.safe_load("\n".join(lines))
    assert len(values) >= 10
    for index, line in enumerate(lines):
        if re.match(r"^\w+:", line):
            assert lines[index - 1].startswith("#"), f"{line} has no comment above it"


# --- slow tier: a real Prometheus scraping a generated service ---------------------------


def wait_for(probe, what: str, seconds: float = 60.0, interval: float = 0.5):
    """Call probe until it returns something truthy; bounded in time and count."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / interval) + 1):
        try:
            result = probe()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=handle,
                            stderr=subprocess.STDOUT)  # fmt: skip


@pytest.mark.slow
def test_prometheus_scrapes_the_service_and_fires_a_lowered_threshold(tmp_path):
    prometheus_bin = require_tool("prometheus")
    require_tool("uv")
    project = generate(tmp_path / "wine-quality", experiment_tracking="none")
    env = uv_env()
    run("uv", "sync", "--quiet", cwd=project, env=env)

    # One edit in thresholds.yml, regenerated rules: the same file drives both.
    thresholds_file = project / "monitoring/thresholds.yml"
    thresholds = yaml.safe_load(thresholds_file.read_text())
    thresholds |= {"max_rejected_share": 0.01, "for_minutes": 0, "rate_window_minutes": 1}
    thresholds_file.write_text(yaml.safe_dump(thresholds))
    run("uv", "run", PACKAGE, "monitoring", "rules", cwd=project, env=env)
    run("uv", "run", PACKAGE, "train", cwd=project, env=env)

    port, prometheus_port = free_port(), free_port()
    config = yaml.safe_load((project / "monitoring/prometheus/prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(project / "monitoring/prometheus/alerts.yml")]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    api = f"http://127.0.0.1:{prometheus_port}/api/v1"
    with serving(project, PACKAGE, env, port=port) as service:
        base = service.base
        prometheus = start(
            [prometheus_bin, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}"],
            tmp_path, {}, tmp_path / "prometheus.log",
        )  # fmt: skip
        try:
            # The API answers 503 with a plain-text body until the TSDB is open: wait for
            # /-/ready (its 503 is an HTTPError, which wait_for retries) before querying.
            def ready() -> bool:
                url = f"http://127.0.0.1:{prometheus_port}/-/ready"
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status == 200

            wait_for(ready, "Prometheus to be ready")

            def query(expr: str) -> list[dict]:
                status, body = call(f"{api}/query?{urllib.parse.urlencode({'query': expr})}")
                assert status == 200, body
                return body["data"]["result"]

            def alert_states() -> dict[str, str]:
                _, body = call(f"{api}/alerts")
                return {
                    alert["labels"]["alertname"]: alert["state"] for alert in body["data"]["alerts"]
                }

            wait_for(lambda: query('up{job="api"} == 1'), "Prometheus to scrape the service")
            golden = (project / "data/golden/wine.csv").read_text().splitlines()
            header = golden[0].split(",")
            features = [name for name in header if name not in ("sample_id", "cultivar")]
            rows = [dict(zip(header, line.split(","), strict=True)) for line in golden[1:]]
            records = [{name: float(row[name]) for name in features} for row in rows]
            bad = {**records[0], "proline": -1.0}
            # rate() counts increases from a series' first sample on: let Prometheus see
            # every series once before the burst.
            assert call(f"{base}/predict", {"records": records[:3]})[0] == 200
            assert call(f"{base}/predict", {"records": [bad]})[0] == 422
            for expr in (
                'http_requests_total{route="/predict",status="200"}',
                'http_requests_total{route="/predict",status="422"}',
                'sanity_check_failures_total{source="request",field="proline"}',
                "predictions_total",
                "prediction_confidence_bucket",
                "model_info",
            ):
                wait_for(lambda expr=expr: query(expr), f"series {expr} in Prometheus", 20)
            for index in range(10):
                assert call(f"{base}/predict", {"records": records[index : index + 3]})[0] == 200
            for _ in range(30):
                assert call(f"{base}/predict", {"records": [bad]})[0] == 422

            def firing() -> dict[str, str]:
                states = alert_states()
                return states.get("HighRejectedShare") in ("pending", "firing") and states

            states = wait_for(firing, "HighRejectedShare to fire", 30)
            assert "HighErrorRate" not in states
            assert "ServiceDown" not in states
        finally:
            stop(prometheus)
