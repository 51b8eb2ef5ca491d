# Template file (copier-mlops): `copier update` merges new versions into it.
"""A fresh run against the baseline: metric and prediction differences within the
tolerances, what most likely explains them, and the diff table (text, or Markdown for a
CI job summary)."""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...schema import CONTRACT
from .baseline import Baseline, PredictionTolerances, Tolerances
from .fingerprint import fingerprint_changes


@dataclass
class MetricDiff:
    name: str
    baseline: float | None
    current: float | None
    tolerance: float

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def ok(self) -> bool:
        return self.delta is not None and abs(self.delta) <= self.tolerance


@dataclass(frozen=True)
class PredictionDiff:
    """How far the predictions for the golden records moved from the baseline's: the
    largest change of a class probability (classification) or of the predicted value
    (regression), and how many predicted classes changed (None for regression)."""

    largest_change: float
    label_changes: int | None
    rows_compared: int
    rows_missing: int

    def checks(self, tolerances: PredictionTolerances) -> list[tuple[str, str, float, bool]]:
        """(check, how far the predictions moved, its tolerance, within it)."""
        largest = _number(self.largest_change)
        if self.label_changes is None:
            limit = tolerances.value_absolute
            found = [("max prediction change", largest, limit, self.largest_change <= limit)]
        else:
            limit, labels = tolerances.probability_absolute, tolerances.label_changes
            found = [
                ("max probability change", largest, limit, self.largest_change <= limit),
                (
                    "changed predicted labels",
                    f"{self.label_changes} of {self.rows_compared}",
                    labels,
                    self.label_changes <= labels,
                ),
            ]
        if self.rows_missing:
            found.append(("records missing", str(self.rows_missing), 0, False))
        return found


@dataclass
class Comparison:
    """How a fresh run differs from the baseline, and what that most likely means."""

    metrics: list[MetricDiff]
    predictions: PredictionDiff
    tolerances: Tolerances
    changed_inputs: list[str] = field(default_factory=list)
    changed_libraries: list[str] = field(default_factory=list)

    @property
    def predictions_ok(self) -> bool:
        return all(ok for *_, ok in self.predictions.checks(self.tolerances.predictions))

    @property
    def ok(self) -> bool:
        return self.predictions_ok and all(diff.ok for diff in self.metrics)

    def verdict(self) -> str:
        inputs = ", ".join(self.changed_inputs)
        libraries = ", ".join(self.changed_libraries)
        if self.ok and not self.changed_inputs:
            return "Golden check passed: the results reproduce the baseline."
        if self.ok:
            return (
                f"Golden check passed, but inputs changed ({inputs}) without moving any result. "
                "If that was a deliberate refactor, record it with `make golden-update`; "
                "if the change should have moved the scores, the pipeline is ignoring it."
            )
        if self.changed_inputs:
            return (
                f"Results moved because inputs changed: {inputs}. If the change is deliberate, "
                "review the diff below and record the new baseline with `make golden-update`."
            )
        if self.changed_libraries:
            return (
                "The fingerprint of data, parameters and code matches the baseline but the "
                "results moved: something environmental changed, here the library versions "
                f"({libraries}). Pin them in uv.lock or record a new baseline on purpose."
            )
        return (
            "The fingerprint matches the baseline but the results moved: something "
            "non-deterministic or environmental changed (an unseeded random step, thread "
            "counts, hardware or a native library). The metric diff shows how far."
        )

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = [
            (
                diff.name,
                _number(diff.baseline),
                _number(diff.current),
                _number(diff.delta, signed=True),
                "ok" if diff.ok else "MOVED",
            )
            for diff in self.metrics
        ]
        rows += [
            (name, "0", moved, f"tol {limit:g}", "ok" if ok else "MOVED")
            for name, moved, limit, ok in self.predictions.checks(self.tolerances.predictions)
        ]
        return rows

    def to_text(self) -> str:
        header = ("metric", "baseline", "current", "delta", "status")
        rows = [header, *self.table_rows()]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
        lines = [self.verdict(), ""]
        for index, row in enumerate(rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        if self.changed_libraries:
            lines += ["", "library versions: " + ", ".join(self.changed_libraries)]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        status = "passed" if self.ok else "failed"
        lines = [
            f"### Golden check {status}",
            "",
            self.verdict(),
            "",
            "| metric | baseline | current | delta | status |",
            "|---|---:|---:|---:|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.table_rows()]
        if self.changed_libraries:
            lines += ["", "Library versions: " + ", ".join(self.changed_libraries)]
        return "\n".join(lines) + "\n"


def _number(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def compare_predictions(baseline: pd.DataFrame, current: pd.DataFrame) -> PredictionDiff:
    """Match the records by identifier and measure how far their predictions moved."""
    merged = baseline.merge(
        current, on=CONTRACT.id_column, how="outer", suffixes=("_base", "_now"), indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    if CONTRACT.is_classification:
        compared = sorted(
            {name for name in [*baseline, *current] if name.startswith("probability_")}
        )
        changed = both["predicted_base"].astype(str) != both["predicted_now"].astype(str)
        label_changes = int(changed.sum())
    else:
        compared, label_changes = ["predicted"], None
    largest = 0.0
    for column in compared:
        if column not in baseline or column not in current:
            largest = math.inf  # a class only one side knows
            break
        largest = max(largest, _largest_difference(both[f"{column}_base"], both[f"{column}_now"]))
    return PredictionDiff(largest, label_changes, len(both), len(merged) - len(both))


def _largest_difference(before: pd.Series, after: pd.Series) -> float:
    """Largest absolute difference; a value missing (or not a number) on one side only
    counts as infinitely far."""
    before = pd.to_numeric(before, errors="coerce").to_numpy(dtype="float64")
    after = pd.to_numeric(after, errors="coerce").to_numpy(dtype="float64")
    difference = np.where(np.isnan(before) & np.isnan(after), 0.0, np.abs(before - after))
    return float(np.where(np.isnan(difference), math.inf, difference).max(initial=0.0))


def compare(
    baseline: Baseline,
    metrics: dict[str, float],
    predictions: pd.DataFrame,
    current_fingerprint: dict,
    tolerances: Tolerances,
) -> Comparison:
    changed_inputs, changed_libraries = fingerprint_changes(
        baseline.fingerprint, current_fingerprint
    )
    return Comparison(
        metrics=[
            MetricDiff(
                name, baseline.metrics.get(name), metrics.get(name), tolerances.metrics.absolute
            )
            for name in sorted(set(baseline.metrics) | set(metrics))
        ],
        predictions=compare_predictions(baseline.predictions, predictions),
        tolerances=tolerances,
        changed_inputs=changed_inputs,
        changed_libraries=changed_libraries,
    )
