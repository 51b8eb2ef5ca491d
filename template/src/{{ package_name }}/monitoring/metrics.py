"""Prometheus metrics of the service and of the sanity checks, exposed at /metrics.

Metric names carry no project prefix: the scrape job labels them, and the alert rules
and the Grafana dashboard in `monitoring/` refer to exactly these names.
"""

import time
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import Counter, Gauge, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PREDICTIONS = Counter("predictions", "Records predicted, by predicted class.", ["predicted_class"])
CONFIDENCE = Histogram(
    "prediction_confidence",
    "Highest class probability of each prediction.",
    buckets=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
LOW_CONFIDENCE = Counter(
    "low_confidence_predictions",
    "Predictions whose highest class probability is below min_confidence (thresholds.yml).",
)
BATCH_ROWS = Histogram(
    "prediction_batch_rows",
    "Records per /predict request.",
    buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000),
)
LAST_PREDICTION = Gauge(
    "last_prediction_timestamp_seconds",
    "Unix time of the last prediction served (the process start time before the first).",
)
SANITY_FAILURES = Counter(
    "sanity_check_failures",
    "Failed sanity checks, by where they ran (request, inference, training), check and field.",
    ["source", "check", "field"],
)
DRIFT = Gauge(
    "feature_drift_psi",
    "PSI of each feature: the last drift_window_rows records scored against the golden data.",
    ["feature"],
)
UNSEEN_LEVELS = Counter(
    "unseen_levels",
    "Values of a categorical field that no declared level matches, scored as unknown.",
    ["field"],
)
MODEL = Info("model", "The model being served: hash of its file and the package version.")

UNMATCHED_ROUTE = "unmatched"


class MetricsMiddleware:
    """Count every request and time it, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)


def observe_predictions(predictions: pd.DataFrame, thresholds: Any) -> None:
    """Record one batch of predictions: size, classes, confidence, low-confidence count."""
    BATCH_ROWS.observe(len(predictions))
    labels, counts = np.unique(predictions["predicted"].to_numpy(), return_counts=True)
    for label, count in zip(labels, counts, strict=True):
        PREDICTIONS.labels(str(label)).inc(int(count))
    probabilities = predictions.filter(like="probability_").to_numpy()
    if probabilities.size:
        confidence = probabilities.max(axis=1)
        for value in confidence:
            CONFIDENCE.observe(float(value))
        LOW_CONFIDENCE.inc(int((confidence < thresholds.min_confidence).sum()))
    LAST_PREDICTION.set_to_current_time()


def count_unseen_levels(frame: pd.DataFrame) -> None:
    """Count values of categorical columns (unseen="unknown") that no declared level matches."""
    from ..contract import Categorical
    from ..schema import CONTRACT

    for column in CONTRACT.of_kind(Categorical):
        values = frame[column.name].dropna()
        unseen = int((~values.isin(column.levels)).sum())
        if unseen:
            UNSEEN_LEVELS.labels(column.name).inc(unseen)


def count_schema_failures(source: str, failure_cases: pd.DataFrame) -> None:
    """Count pandera failure cases by check and column."""
    named = failure_cases["column"].map(lambda column: isinstance(column, str))
    fields = failure_cases["column"].where(named, "(frame)")
    for (check, field), count in (
        failure_cases.groupby([failure_cases["check"], fields]).size().items()
    ):
        SANITY_FAILURES.labels(source, str(check), str(field)).inc(int(count))


def count_request_failures(errors: list[dict], known_fields: frozenset[str]) -> None:
    """Count pydantic validation errors of a request by error type and field.

    Fields a client invents (an unknown key) are counted as "other", so a client
    cannot create new time series.
    """
    for error in errors:
        # A nullable field's error names the union member after the field: take the last
        # part of the location that is a known field.
        known = [part for part in error["loc"] if isinstance(part, str) and part in known_fields]
        field = known[-1] if known else "other"
        SANITY_FAILURES.labels("request", error["type"], field).inc()
