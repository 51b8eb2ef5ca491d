# Template file (copier-mlops): `copier update` merges new versions into it.
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

from ...schema import CONTRACT
from ..contract import Categorical
from ..log import logger

# Buckets of the predicted-value histogram where schema.py declares no target range.
VALUE_BUCKETS = tuple(sign * 10.0**power for sign in (-1, 1) for power in range(-2, 7))


def value_buckets(low: float | None, high: float | None) -> tuple[float, ...]:
    """Twenty equal buckets across the declared target range, or powers of ten."""
    if low is None or high is None or not high > low:
        return tuple(sorted(VALUE_BUCKETS))
    return tuple(float(edge) for edge in np.linspace(low, high, 21))


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
if CONTRACT.is_classification:
    PREDICTIONS = Counter(
        "predictions", "Records predicted, by predicted class.", ["predicted_class"]
    )
    CONFIDENCE = Histogram(
        "prediction_confidence",
        "Highest class probability of each prediction.",
        buckets=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
    )
    LOW_CONFIDENCE = Counter(
        "low_confidence_predictions",
        "Predictions whose highest class probability is below min_confidence (thresholds.yml).",
    )
else:
    PREDICTIONS = Counter("predictions", "Records predicted.")
    PREDICTED_VALUE = Histogram(
        "predicted_value",
        "Predicted values, in buckets across the target's declared (or golden) range.",
        buckets=value_buckets(CONTRACT.target_minimum, CONTRACT.target_maximum),
    )
    OUT_OF_RANGE = Counter(
        "out_of_range_predictions",
        "Predicted values outside the target's range in the golden data (or in schema.py).",
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
MISSING_VALUES = Counter(
    "missing_values",
    "Missing values in the records scored, by field (the share: over prediction_batch_rows_sum).",
    ["field"],
)
MISSING_SHARE = Gauge(
    "feature_missing_share",
    "Share of missing values of each field over the last drift_window_rows records scored.",
    ["feature"],
)
UNSEEN_LEVELS = Counter(
    "unseen_levels",
    "Values of a categorical field that no declared level matches, scored as unknown.",
    ["field"],
)
MODEL = Info("model", "The model being served: hash of its file and the package version.")

UNMATCHED_ROUTE = "unmatched"
# The method label takes one of these; anything else a client invents is "other", so a
# client cannot create new time series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Count, time and log every request, labelled by route template (bounded
    cardinality). Plain ASGI: it adds no task or stream to a request."""

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
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            method = scope["method"] if scope["method"] in METHODS else "other"
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route).observe(elapsed)
            logger.info(
                "request",
                method=method,
                path=scope["path"],
                status=status,
                latency_ms=round(elapsed * 1000, 2),
            )


def declared_target_range() -> tuple[float, float]:
    low, high = CONTRACT.target_minimum, CONTRACT.target_maximum
    return (-np.inf if low is None else low, np.inf if high is None else high)


def observe_predictions(
    predictions: pd.DataFrame,
    thresholds: Any,
    target_range: tuple[float, float] | None = None,
) -> None:
    """Record one batch of `pipeline.predict`'s output.

    Classification: counts by predicted class, the confidence (highest class
    probability) and how many fall below min_confidence. Regression: the predicted
    values and how many fall outside `target_range` (the golden data's, see
    drift.Reference.target_range; by default the range schema.py declares).
    """
    BATCH_ROWS.observe(len(predictions))
    if CONTRACT.is_classification:
        predicted = predictions["predicted"].to_numpy().astype(str)
        labels, counts = np.unique(predicted, return_counts=True)
        for label, count in zip(labels, counts, strict=True):
            PREDICTIONS.labels(str(label)).inc(int(count))
        columns = [name for name in predictions.columns if name.startswith("probability_")]
        if columns and len(predictions):
            # Column by column: a frame selection costs more than the arithmetic here.
            probabilities = np.column_stack(
                [predictions[name].to_numpy(dtype="float64") for name in columns]
            )
            confidence = probabilities.max(axis=1)
            for value in confidence:
                CONFIDENCE.observe(float(value))
            LOW_CONFIDENCE.inc(int((confidence < thresholds.min_confidence).sum()))
    else:
        values = predictions["predicted"].to_numpy(dtype="float64")
        PREDICTIONS.inc(len(values))
        for value in values:
            PREDICTED_VALUE.observe(float(value))
        low, high = target_range or declared_target_range()
        OUT_OF_RANGE.inc(int(((values < low) | (values > high)).sum()))
    LAST_PREDICTION.set_to_current_time()


def count_missing(frame: pd.DataFrame) -> dict[str, int]:
    """Count the missing values of each input column; return the counts (zeros left out)."""
    found = {}
    totals = frame.isna().sum()  # one pass over the frame, not one per column
    for name in CONTRACT.feature_names:
        missing = int(totals[name])
        if missing:
            MISSING_VALUES.labels(name).inc(missing)
            found[name] = missing
    return found


def count_unseen_levels(frame: pd.DataFrame) -> dict[str, int]:
    """Count values of categorical columns (unseen="unknown") that no declared level
    matches, scored as no known level; return the counts (zeros left out)."""
    found = {}
    for column in CONTRACT.of_kind(Categorical):
        if column.unseen != "unknown":
            continue
        values = frame[column.name].dropna().astype(str)
        unseen = int((~values.isin(column.levels)).sum())
        if unseen:
            UNSEEN_LEVELS.labels(column.name).inc(unseen)
            found[column.name] = unseen
    return found


def export_drift(window: Any) -> None:
    """Set the drift and missing-share gauges from a drift.DriftWindow (at each scrape);
    nothing is set until the window is full."""
    if window is None:
        return
    for feature, score in (window.scores() or {}).items():
        DRIFT.labels(feature).set(score)
    for feature, share in (window.missing_shares() or {}).items():
        MISSING_SHARE.labels(feature).set(share)


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
        names = [part for part in error["loc"] if isinstance(part, str)]
        # A nullable field's error names the union member after the field: the field is
        # the last declared column in the location.
        columns = [name for name in names if name in known_fields and name in CONTRACT.by_name]
        if columns:
            field = columns[-1]
        elif names and names[-1] not in known_fields:
            field = "other"  # a key the client invented
        else:
            field = names[-1] if names else "other"
        SANITY_FAILURES.labels("request", error["type"], field).inc()
