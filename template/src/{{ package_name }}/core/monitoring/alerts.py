# Template file (copier-mlops): `copier update` merges new versions into it.
"""Prometheus alert rules and their promtool unit tests, generated from thresholds.yml.

`make monitoring-rules` writes both files into monitoring/prometheus/ and, in a project
with deploy/kubernetes/base/, the same rule groups as a PrometheusRule for the cluster's
Prometheus Operator; a test fails while the committed files differ from what the
thresholds give. Every alert gets two
unit tests: series that cross its threshold (it fires) and series that stay on the good
side (it stays quiet).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .thresholds import Thresholds

RULES_FILE = "alerts.yml"
TESTS_FILE = "alerts.test.yml"
# The cluster's copy of the rules, next to the ServiceMonitor, relative to the project.
KUBERNETES_BASE = Path("deploy/kubernetes/base")
KUBERNETES_RULES_FILE = "prometheusrule-model.yaml"
# Scrape job of the service: the job in monitoring/prometheus/prometheus.yml and, in the
# cluster, the name of the Service the ServiceMonitor selects (the operator's job label).
JOB = "api"
# Staging and production may share the cluster's Prometheus: every ratio and aggregate is
# taken per namespace (compose series have none, which groups them all together).
PER = "namespace"
HEADER = (
    "# Generated from monitoring/thresholds.yml by `make monitoring-rules`.\n"
    "# Edit the thresholds and regenerate; edits made here are overwritten.\n"
)
# Requests (or predictions) per minute in the unit-test series.
PER_MINUTE = 1000
# Label values of the unit-test series: any class or feature name behaves the same.
SOME_CLASS = "some_class"
SOME_FEATURE = "some_feature"
# What the model predicts (CONTRACT.task): it decides which prediction alerts exist.
Task = Literal["classification", "regression"]
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Alert:
    """One alert rule with the input series that make it fire and keep it quiet."""

    name: str
    expr: str
    for_minutes: int
    severity: str
    summary: str
    description: str
    firing: dict[str, str]
    quiet: dict[str, str]
    # Labels the alert carries from its expression, for the unit tests.
    labels: dict[str, str] = field(default_factory=dict)

    def rule(self) -> dict:
        rule: dict = {"alert": self.name, "expr": self.expr}
        if self.for_minutes:
            rule["for"] = f"{self.for_minutes}m"
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


def percent(share: float) -> str:
    return f"{share * 100:g}%"


def selector(name: str, **labels: str) -> str:
    """A PromQL series selector with exact label matchers, e.g. up{job="api"}."""
    return name + "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def midway(share: float) -> float:
    """A share halfway between a threshold and 1: clearly above the threshold."""
    return (1 + share) / 2


def counter(per_minute: int, minutes: int) -> str:
    return f"0+{per_minute}x{minutes}"


def constant(value: float, minutes: int) -> str:
    return f"{value:g}x{minutes}"


def share_series(good: str, bad: str, share: float, minutes: int) -> dict[str, str]:
    """Two counters whose bad share of the total is `share`."""
    bad_count = round(PER_MINUTE * share)
    return {good: counter(PER_MINUTE - bad_count, minutes), bad: counter(bad_count, minutes)}


def alerts(t: Thresholds, task: Task) -> list[Alert]:
    """Every alert rule: those about the service, then those about its predictions."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    window = f"[{t.rate_window_minutes}m]"
    minutes = t.rate_window_minutes + t.for_minutes + 5
    ok, server_error, rejected = (
        selector(
            "http_requests_total", job=JOB, route="/predict", method="POST", status=str(status)
        )
        for status in (200, 500, 422)
    )
    fast, slow, infinite = (
        selector("http_request_duration_seconds_bucket", job=JOB, route="/predict", le=bound)
        for bound in (
            f"{t.max_p95_latency_seconds / 2:g}",
            f"{t.max_p95_latency_seconds * 2:g}",
            "+Inf",
        )
    )
    if task == "classification":
        predictions = selector("predictions_total", job=JOB, predicted_class=SOME_CLASS)
    else:
        predictions = selector("predictions_total", job=JOB)
    low = selector("low_confidence_predictions_total", job=JOB)
    outside = selector("out_of_range_predictions_total", job=JOB)
    drift = selector("feature_drift_psi", job=JOB, feature=SOME_FEATURE)
    last = selector("last_prediction_timestamp_seconds", job=JOB)
    up = selector("up", job=JOB, instance=f"{JOB}:8000")
    requests = "http_requests_total"
    all_requests = selector(requests, job=JOB)
    predict_requests = selector(requests, job=JOB, route="/predict")
    server_errors = all_requests[:-1] + ',status=~"5.."}'
    total = f"sum by ({PER}) (rate("
    silent = t.max_minutes_without_predictions + 5
    down = t.service_down_minutes + 5
    service = [
        Alert(
            name="HighErrorRate",
            expr=(
                f"{total}{server_errors}{window}))"
                f" / {total}{all_requests}{window})) > {t.max_error_rate:g}"
            ),
            for_minutes=t.for_minutes,
            severity="critical",
            summary=f"More than {percent(t.max_error_rate)} of requests fail with a server error",
            description=(
                f"The share of 5xx answers over {t.rate_window_minutes} minutes is above "
                "max_error_rate in monitoring/thresholds.yml; the service logs (event "
                '"request") show which requests fail.'
            ),
            firing=share_series(ok, server_error, midway(t.max_error_rate), minutes),
            quiet=share_series(ok, server_error, t.max_error_rate / 2, minutes),
        ),
        Alert(
            name="HighPredictionLatency",
            expr=(
                f"histogram_quantile(0.95, sum by ({PER}, le) (rate("
                f"{selector('http_request_duration_seconds_bucket', job=JOB, route='/predict')}"
                f"{window})))"
                f" > {t.max_p95_latency_seconds:g}"
            ),
            for_minutes=t.for_minutes,
            severity="warning",
            summary=f"95th percentile /predict latency above {t.max_p95_latency_seconds:g} s",
            description=(
                "Predictions are slower than max_p95_latency_seconds in "
                "monitoring/thresholds.yml; check the batch sizes and the host's load."
            ),
            firing={
                fast: constant(0, minutes),
                slow: counter(PER_MINUTE, minutes),
                infinite: counter(PER_MINUTE, minutes),
            },
            quiet={
                fast: counter(PER_MINUTE, minutes),
                slow: counter(PER_MINUTE, minutes),
                infinite: counter(PER_MINUTE, minutes),
            },
        ),
        Alert(
            name="HighRejectedShare",
            expr=(
                f"{total}{selector(requests, job=JOB, route='/predict', status='422')}{window}))"
                f" / {total}{predict_requests}{window}))"
                f" > {t.max_rejected_share:g}"
            ),
            for_minutes=t.for_minutes,
            severity="warning",
            summary=(
                f"More than {percent(t.max_rejected_share)} of /predict requests fail the "
                "sanity checks"
            ),
            description=(
                "Clients send records the schema rejects (above max_rejected_share in "
                "monitoring/thresholds.yml); sanity_check_failures_total names the check "
                "and the field."
            ),
            firing=share_series(ok, rejected, midway(t.max_rejected_share), minutes),
            quiet=share_series(ok, rejected, t.max_rejected_share / 2, minutes),
        ),
        Alert(
            name="FeatureDrift",
            expr=(
                f"max by ({PER}, feature) ({selector('feature_drift_psi', job=JOB)})"
                f" > {t.max_drift_psi:g}"
            ),
            for_minutes=t.for_minutes,
            severity="warning",
            summary=f"A feature drifted from the golden data (PSI above {t.max_drift_psi:g})",
            description=(
                f"Over the last {t.drift_window_rows} records scored, the feature's "
                "distribution moved away from the golden data (max_drift_psi in "
                "monitoring/thresholds.yml); `make drift BATCH=<recent records>.csv` "
                "shows every feature."
            ),
            firing={drift: constant(t.max_drift_psi * 2, minutes)},
            quiet={drift: constant(t.max_drift_psi / 2, minutes)},
            labels={"feature": SOME_FEATURE},
        ),
        Alert(
            name="NoPredictions",
            expr=f"time() - max by ({PER}) ({last}) > {t.max_minutes_without_predictions * 60}",
            for_minutes=0,
            severity="warning",
            summary=f"No prediction served for {t.max_minutes_without_predictions} minutes",
            description=(
                "The service is up but nobody asks it for predictions "
                "(max_minutes_without_predictions in monitoring/thresholds.yml): check "
                "the clients and the routing."
            ),
            firing={last: constant(0, silent)},
            quiet={last: counter(60, silent)},
        ),
        Alert(
            name="ServiceDown",
            expr=f"{selector('up', job=JOB)} == 0",
            for_minutes=t.service_down_minutes,
            severity="critical",
            summary="Prometheus cannot scrape the prediction service",
            description=(
                f"The service has not answered /metrics for {t.service_down_minutes} "
                "minutes (service_down_minutes in monitoring/thresholds.yml)."
            ),
            firing={up: constant(0, down)},
            quiet={up: constant(1, down)},
            labels={"job": JOB, "instance": f"{JOB}:8000"},
        ),
    ]
    if task == "classification":
        return [
            *service,
            Alert(
                name="LowConfidencePredictions",
                expr=(
                    f"{total}{low}{window}))"
                    f" / {total}{selector('predictions_total', job=JOB)}{window}))"
                    f" > {t.max_low_confidence_share:g}"
                ),
                for_minutes=t.for_minutes,
                severity="warning",
                summary=(
                    f"More than {percent(t.max_low_confidence_share)} of predictions have a "
                    f"confidence below {t.min_confidence:g}"
                ),
                description=(
                    "The model is unsure about many inputs (max_low_confidence_share and "
                    "min_confidence in monitoring/thresholds.yml): inputs may have drifted or "
                    "be implausible."
                ),
                firing={
                    predictions: counter(PER_MINUTE, minutes),
                    low: counter(round(PER_MINUTE * midway(t.max_low_confidence_share)), minutes),
                },
                quiet={
                    predictions: counter(PER_MINUTE, minutes),
                    low: counter(round(PER_MINUTE * t.max_low_confidence_share / 2), minutes),
                },
            ),
        ]
    return [
        *service,
        Alert(
            name="PredictionsOutOfRange",
            expr=(
                f"{total}{outside}{window}))"
                f" / {total}{selector('predictions_total', job=JOB)}{window}))"
                f" > {t.max_out_of_range_share:g}"
            ),
            for_minutes=t.for_minutes,
            severity="warning",
            summary=(
                f"More than {percent(t.max_out_of_range_share)} of predictions fall outside "
                "the target's range in the golden data"
            ),
            description=(
                "The model extrapolates (max_out_of_range_share in "
                "monitoring/thresholds.yml): inputs may have drifted beyond the training "
                "data, or be implausible; `make drift BATCH=<recent records>.csv` shows "
                "which columns moved."
            ),
            firing={
                predictions: counter(PER_MINUTE, minutes),
                outside: counter(round(PER_MINUTE * midway(t.max_out_of_range_share)), minutes),
            },
            quiet={
                predictions: counter(PER_MINUTE, minutes),
                outside: counter(round(PER_MINUTE * t.max_out_of_range_share / 2), minutes),
            },
        ),
    ]


def rules_document(t: Thresholds, task: Task) -> dict:
    return {
        "groups": [{"name": "prediction-service", "rules": [a.rule() for a in alerts(t, task)]}]
    }


def tests_document(t: Thresholds, task: Task) -> dict:
    tests = []
    for alert in alerts(t, task):
        length = max(int(values.rsplit("x", 1)[1]) for values in alert.firing.values())
        eval_time = f"{length - 3}m"
        expected = {
            "exp_labels": {**alert.labels, "severity": alert.severity},
            "exp_annotations": {"summary": alert.summary, "description": alert.description},
        }
        for case, series, exp_alerts in (
            ("fires", alert.firing, [expected]),
            ("stays quiet", alert.quiet, []),
        ):
            tests.append(
                {
                    "name": f"{alert.name} {case}",
                    "interval": "1m",
                    "input_series": [
                        {"series": name, "values": values} for name, values in series.items()
                    ],
                    "alert_rule_test": [
                        {"eval_time": eval_time, "alertname": alert.name, "exp_alerts": exp_alerts}
                    ],
                }
            )
    return {"rule_files": [RULES_FILE], "evaluation_interval": "1m", "tests": tests}


def prometheus_rule_document(t: Thresholds, task: Task) -> dict:
    """The rule groups of alerts.yml as a Prometheus Operator PrometheusRule."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "model"},
        "spec": rules_document(t, task),
    }


def render(document: dict) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)


def project_root(directory: Path) -> Path:
    """The project holding a rules directory (monitoring/prometheus)."""
    return directory.parent.parent


def expected_files(t: Thresholds, directory: Path, task: Task) -> dict[Path, str]:
    """The text each generated file must have, by path, for the rules in `directory`.

    The PrometheusRule is expected only where the project has a kustomize base.
    """
    files = {
        directory / RULES_FILE: render(rules_document(t, task)),
        directory / TESTS_FILE: render(tests_document(t, task)),
    }
    base = project_root(directory) / KUBERNETES_BASE
    if base.is_dir():
        files[base / KUBERNETES_RULES_FILE] = render(prometheus_rule_document(t, task))
    return files


def stale_files(t: Thresholds, directory: Path, task: Task) -> list[str]:
    """The generated files (relative to the project) missing or differing from the thresholds."""
    root = project_root(directory)
    return [
        str(path.relative_to(root))
        for path, text in expected_files(t, directory, task).items()
        if not path.is_file() or path.read_text() != text
    ]


def write(t: Thresholds, directory: Path, task: Task) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for path, text in expected_files(t, directory, task).items():
        path.write_text(text)
        paths.append(path)
    return paths
