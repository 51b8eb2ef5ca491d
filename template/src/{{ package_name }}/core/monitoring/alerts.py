# Template file (copier-mlops): `copier update` merges new versions into it.
"""Prometheus alert rules and their promtool unit tests, generated from thresholds.yml.

`make monitoring-rules` writes both files into monitoring/prometheus/ and, in a project
with deploy/kubernetes/base/, the same rule groups as a PrometheusRule for the cluster's
Prometheus Operator; a test fails while the committed files differ from what the
thresholds give. Every alert gets two unit tests: series that cross its threshold (it
fires) and series that stay on the good side (it stays quiet).

Each rule is written once, in SERVICE_ALERTS and PREDICTION_ALERTS, its texts printf-style
templates over the thresholds and a few values computed from them (`named_values`), such
as "%(max_error_rate)g". The copier-mlops template renders a new project's files from a
Jinja copy of these definitions, which its scripts/alerts_include.py writes.
"""

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import yaml

from .thresholds import Thresholds

RULES_FILE = "alerts.yml"
TESTS_FILE = "alerts.test.yml"
GROUP = "prediction-service"
# Evaluation interval of the unit tests, and the step of their input series.
INTERVAL = "1m"
# The cluster's copy of the rules, next to the ServiceMonitor, relative to the project.
KUBERNETES_BASE = Path("deploy/kubernetes/base")
KUBERNETES_RULES_FILE = "prometheusrule-model.yaml"
PROMETHEUS_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "model"},
}
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
    """One alert rule and the series that make it fire and keep it quiet, as templates."""

    name: str
    expr: str
    severity: str
    summary: str
    description: str
    firing: dict[str, str]
    quiet: dict[str, str]
    # Minutes the expression must hold before the alert fires ("0": at once).
    for_minutes: str = "%(for_minutes)d"
    # Labels the alert carries from its expression, for the unit tests.
    labels: dict[str, str] = field(default_factory=dict)

    def filled(self, values: dict[str, float]) -> "Alert":
        """The alert with every template filled in from `values`."""

        def fill(text: str | dict[str, str]) -> str | dict[str, str]:
            if isinstance(text, dict):
                return {fill(key): fill(value) for key, value in text.items()}
            return text % values

        return replace(self, **{f.name: fill(getattr(self, f.name)) for f in fields(self)})

    def rule(self) -> dict:
        rule: dict = {"alert": self.name, "expr": self.expr}
        if self.for_minutes != "0":
            rule["for"] = f"{self.for_minutes}m"
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


def midway(share: float) -> float:
    """A share halfway between a threshold and 1: clearly above the threshold."""
    return (1 + share) / 2


def bad(share: float) -> int:
    """Bad requests (or predictions) a minute, of PER_MINUTE, when `share` of them are."""
    return round(PER_MINUTE * share)


def named_values(t: Thresholds) -> dict[str, float]:
    """What the templates name: every threshold, and the values computed from them.

    The copier-mlops template translates these expressions into Jinja: keep each one
    expression of the thresholds, numbers and number constants, + - * /, round() and the
    one-line helpers above.
    """
    return t.model_dump() | {
        # Lengths of the unit-test series, in minutes.
        "minutes": t.rate_window_minutes + t.for_minutes + 5,
        "silent": t.max_minutes_without_predictions + 5,
        "down": t.service_down_minutes + 5,
        "silent_seconds": t.max_minutes_without_predictions * 60,
        # Latency buckets, and drift, on either side of the threshold.
        "fast": t.max_p95_latency_seconds / 2,
        "slow": t.max_p95_latency_seconds * 2,
        "drifted": t.max_drift_psi * 2,
        "settled": t.max_drift_psi / 2,
        "error_percent": t.max_error_rate * 100,
        "rejected_percent": t.max_rejected_share * 100,
        "low_confidence_percent": t.max_low_confidence_share * 100,
        "out_of_range_percent": t.max_out_of_range_share * 100,
        # Requests (or predictions) a minute in the series above the share and below it.
        "errors_firing_good": PER_MINUTE - bad(midway(t.max_error_rate)),
        "errors_firing_bad": bad(midway(t.max_error_rate)),
        "errors_quiet_good": PER_MINUTE - bad(t.max_error_rate / 2),
        "errors_quiet_bad": bad(t.max_error_rate / 2),
        "rejected_firing_good": PER_MINUTE - bad(midway(t.max_rejected_share)),
        "rejected_firing_bad": bad(midway(t.max_rejected_share)),
        "rejected_quiet_good": PER_MINUTE - bad(t.max_rejected_share / 2),
        "rejected_quiet_bad": bad(t.max_rejected_share / 2),
        "low_confidence_firing_bad": bad(midway(t.max_low_confidence_share)),
        "low_confidence_quiet_bad": bad(t.max_low_confidence_share / 2),
        "out_of_range_firing_bad": bad(midway(t.max_out_of_range_share)),
        "out_of_range_quiet_bad": bad(t.max_out_of_range_share / 2),
    }


def selector(name: str, **labels: str) -> str:
    """A PromQL series selector with exact label matchers, e.g. up{job="api"}."""
    return name + "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def rate(series: str) -> str:
    """A counter's rate over the window, summed per namespace."""
    return f"sum by ({PER}) (rate({series}[%(rate_window_minutes)dm]))"


def counter(per_minute: object, minutes: str = "%(minutes)d") -> str:
    return f"0+{per_minute}x{minutes}"


def constant(value: object, minutes: str = "%(minutes)d") -> str:
    return f"{value}x{minutes}"


def share_series(ok: str, failed: str, count: str) -> dict[str, str]:
    """Two counters, PER_MINUTE a minute together: `count`_good and `count`_bad of them."""
    return {ok: counter(f"%({count}_good)d"), failed: counter(f"%({count}_bad)d")}


def part_series(total: str, part: str, count: str) -> dict[str, str]:
    """A counter of PER_MINUTE a minute and one of `count` a minute, part of the first."""
    return {total: counter(PER_MINUTE), part: counter(f"%({count})d")}


REQUESTS = selector("http_requests_total", job=JOB)
SERVER_ERRORS = REQUESTS[:-1] + ',status=~"5.."}'
PREDICT_REQUESTS = selector("http_requests_total", job=JOB, route="/predict")
REJECTED_REQUESTS = selector("http_requests_total", job=JOB, route="/predict", status="422")
OK, SERVER_ERROR, REJECTED = (
    selector("http_requests_total", job=JOB, route="/predict", method="POST", status=status)
    for status in ("200", "500", "422")
)
LATENCY = selector("http_request_duration_seconds_bucket", job=JOB, route="/predict")
FAST, SLOW, INFINITE = (f'{LATENCY[:-1]},le="{le}"}}' for le in ("%(fast)g", "%(slow)g", "+Inf"))
DRIFT_PSI = "feature_drift_psi"
DRIFT = selector(DRIFT_PSI, job=JOB, feature=SOME_FEATURE)
LAST = selector("last_prediction_timestamp_seconds", job=JOB)
UP = selector("up", job=JOB, instance=f"{JOB}:8000")
PREDICTIONS = selector("predictions_total", job=JOB)
CLASS_PREDICTIONS = selector("predictions_total", job=JOB, predicted_class=SOME_CLASS)
LOW_CONFIDENCE = selector("low_confidence_predictions_total", job=JOB)
OUTSIDE = selector("out_of_range_predictions_total", job=JOB)

SERVICE_ALERTS = (
    Alert(
        name="HighErrorRate",
        expr=f"{rate(SERVER_ERRORS)} / {rate(REQUESTS)} > %(max_error_rate)g",
        severity="critical",
        summary="More than %(error_percent)g%% of requests fail with a server error",
        description=(
            "The share of 5xx answers over %(rate_window_minutes)d minutes is above max_error_rate"
            ' in monitoring/thresholds.yml; the service logs (event "request") show which'
            " requests fail."
        ),
        firing=share_series(OK, SERVER_ERROR, "errors_firing"),
        quiet=share_series(OK, SERVER_ERROR, "errors_quiet"),
    ),
    Alert(
        name="HighPredictionLatency",
        expr=(
            f"histogram_quantile(0.95, sum by ({PER}, le) (rate({LATENCY}"
            "[%(rate_window_minutes)dm]))) > %(max_p95_latency_seconds)g"
        ),
        severity="warning",
        summary="95th percentile /predict latency above %(max_p95_latency_seconds)g s",
        description=(
            "Predictions are slower than max_p95_latency_seconds in monitoring/thresholds.yml;"
            " check the batch sizes and the host's load."
        ),
        firing={FAST: constant(0), SLOW: counter(PER_MINUTE), INFINITE: counter(PER_MINUTE)},
        quiet={FAST: counter(PER_MINUTE), SLOW: counter(PER_MINUTE), INFINITE: counter(PER_MINUTE)},
    ),
    Alert(
        name="HighRejectedShare",
        expr=f"{rate(REJECTED_REQUESTS)} / {rate(PREDICT_REQUESTS)} > %(max_rejected_share)g",
        severity="warning",
        summary="More than %(rejected_percent)g%% of /predict requests fail the sanity checks",
        description=(
            "Clients send records the schema rejects (above max_rejected_share in"
            " monitoring/thresholds.yml); sanity_check_failures_total names the check and the"
            " field."
        ),
        firing=share_series(OK, REJECTED, "rejected_firing"),
        quiet=share_series(OK, REJECTED, "rejected_quiet"),
    ),
    Alert(
        name="FeatureDrift",
        expr=f"max by ({PER}, feature) ({selector(DRIFT_PSI, job=JOB)}) > %(max_drift_psi)g",
        severity="warning",
        summary="A feature drifted from the golden data (PSI above %(max_drift_psi)g)",
        description=(
            "Over the last %(drift_window_rows)d records scored, the feature's distribution"
            " moved away from the golden data (max_drift_psi in monitoring/thresholds.yml);"
            " `make drift BATCH=<recent records>.csv` shows every feature."
        ),
        firing={DRIFT: constant("%(drifted)g")},
        quiet={DRIFT: constant("%(settled)g")},
        labels={"feature": SOME_FEATURE},
    ),
    Alert(
        name="NoPredictions",
        expr=f"time() - max by ({PER}) ({LAST}) > %(silent_seconds)d",
        for_minutes="0",
        severity="warning",
        summary="No prediction served for %(max_minutes_without_predictions)d minutes",
        description=(
            "The service is up but nobody asks it for predictions"
            " (max_minutes_without_predictions in monitoring/thresholds.yml): check the clients"
            " and the routing."
        ),
        firing={LAST: constant(0, "%(silent)d")},
        quiet={LAST: counter(60, "%(silent)d")},
    ),
    Alert(
        name="ServiceDown",
        expr=f"{selector('up', job=JOB)} == 0",
        for_minutes="%(service_down_minutes)d",
        severity="critical",
        summary="Prometheus cannot scrape the prediction service",
        description=(
            "The service has not answered /metrics for %(service_down_minutes)d "
            "minutes (service_down_minutes in monitoring/thresholds.yml)."
        ),
        firing={UP: constant(0, "%(down)d")},
        quiet={UP: constant(1, "%(down)d")},
        labels={"job": JOB, "instance": f"{JOB}:8000"},
    ),
)
# The alerts about the predictions, by task.
PREDICTION_ALERTS: dict[str, tuple[Alert, ...]] = {
    "classification": (
        Alert(
            name="LowConfidencePredictions",
            expr=f"{rate(LOW_CONFIDENCE)} / {rate(PREDICTIONS)} > %(max_low_confidence_share)g",
            severity="warning",
            summary=(
                "More than %(low_confidence_percent)g%% of predictions have a confidence "
                "below %(min_confidence)g"
            ),
            description=(
                "The model is unsure about many inputs (max_low_confidence_share and "
                "min_confidence in monitoring/thresholds.yml): inputs may have drifted or "
                "be implausible."
            ),
            firing=part_series(CLASS_PREDICTIONS, LOW_CONFIDENCE, "low_confidence_firing_bad"),
            quiet=part_series(CLASS_PREDICTIONS, LOW_CONFIDENCE, "low_confidence_quiet_bad"),
        ),
    ),
    "regression": (
        Alert(
            name="PredictionsOutOfRange",
            expr=f"{rate(OUTSIDE)} / {rate(PREDICTIONS)} > %(max_out_of_range_share)g",
            severity="warning",
            summary=(
                "More than %(out_of_range_percent)g%% of predictions fall outside the "
                "target's range in the golden data"
            ),
            description=(
                "The model extrapolates (max_out_of_range_share in monitoring/thresholds.yml):"
                " inputs may have drifted beyond the training data, or be implausible;"
                " `make drift BATCH=<recent records>.csv` shows which columns moved."
            ),
            firing=part_series(PREDICTIONS, OUTSIDE, "out_of_range_firing_bad"),
            quiet=part_series(PREDICTIONS, OUTSIDE, "out_of_range_quiet_bad"),
        ),
    ),
}


def alerts(t: Thresholds, task: Task) -> list[Alert]:
    """Every alert rule, filled in from the thresholds: the service's, then the task's."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    values = named_values(t)
    return [alert.filled(values) for alert in (*SERVICE_ALERTS, *PREDICTION_ALERTS[task])]


def rules_document(t: Thresholds, task: Task) -> dict:
    return {"groups": [{"name": GROUP, "rules": [a.rule() for a in alerts(t, task)]}]}


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
                    "interval": INTERVAL,
                    "input_series": [
                        {"series": name, "values": values} for name, values in series.items()
                    ],
                    "alert_rule_test": [
                        {"eval_time": eval_time, "alertname": alert.name, "exp_alerts": exp_alerts}
                    ],
                }
            )
    return {"rule_files": [RULES_FILE], "evaluation_interval": INTERVAL, "tests": tests}


def prometheus_rule_document(t: Thresholds, task: Task) -> dict:
    """The rule groups of alerts.yml as a Prometheus Operator PrometheusRule."""
    return {**PROMETHEUS_RULE, "spec": rules_document(t, task)}


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
    files = expected_files(t, directory, task)
    for path, text in files.items():
        path.write_text(text)
    return list(files)
