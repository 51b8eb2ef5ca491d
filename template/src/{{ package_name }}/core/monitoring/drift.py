# Template file (copier-mlops): `copier update` merges new versions into it.
"""Drift: how far recent data moved from the golden data, as a Population Stability Index.

PSI = sum over bins of (current share - reference share) * ln(current / reference).
Every input column declared in schema.py gets bins, and a missing value always has a
bin of its own, so a column that goes missing more (or less) often drifts too:
- numbers are binned at the deciles of the golden data's values (missing ones left
  out of the deciles), datetimes likewise on their timestamps;
- categorical columns get one bin per declared level, one for any other value
  ("unknown") and one for missing; booleans one for each value and one for missing.
Predictions drift too: the predicted classes (classification) or the predicted values
binned at the deciles of the golden data's predictions (regression).
Rule of thumb: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major.
"""

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...schema import CONTRACT
from ..contract import Boolean, Categorical, Column, Datetime

BINS = 10
PREDICTED = "predicted class" if CONTRACT.is_classification else "predicted value"
# Share given to an empty bin, so that the logarithm stays finite.
FLOOR = 1e-4
UNKNOWN = "unknown"
MISSING = "missing"
# How booleans may read as text (CSV files, object columns).
BOOLEAN_TEXT = {
    **dict.fromkeys(("true", "1", "1.0"), "True"),
    **dict.fromkeys(("false", "0", "0.0"), "False"),
}


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two vectors of bin shares."""
    reference, current = np.maximum(reference, FLOOR), np.maximum(current, FLOOR)
    return float(np.sum((current - reference) * np.log(current / reference)))


def numbers(values: pd.Series, kind: Column | None = None) -> np.ndarray:
    """A column's values as floats, missing (or unreadable) values as NaN; datetimes as
    seconds since the epoch."""
    if isinstance(kind, Datetime):
        moments = pd.to_datetime(values, errors="coerce")
        seconds = moments.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
        return np.where(moments.isna().to_numpy(), np.nan, seconds)
    if values.dtype.kind in "fiu":
        # Already numbers (every request, most files): no parsing, a tenth of the time.
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


@dataclass(frozen=True)
class Bins:
    """How one column's values fall into bins; the last bin is always "missing"."""

    labels: tuple[str, ...]
    # Numbers: the inner edges of the value bins. Levels: the declared levels.
    edges: np.ndarray | None = None
    levels: tuple[str, ...] = ()
    # The column binned: datetimes are binned on timestamps, booleans on their text.
    kind: Column | None = None

    @classmethod
    def for_numbers(cls, values: np.ndarray, kind: Column | None = None) -> "Bins":
        present = values[~np.isnan(values)]
        if present.size:
            edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
        else:
            edges = np.empty(0)
        labels = tuple(f"bin {index + 1}" for index in range(len(edges) + 1))
        return cls((*labels, MISSING), edges=edges, kind=kind)

    @classmethod
    def for_levels(cls, levels: tuple[str, ...], kind: Column | None = None) -> "Bins":
        return cls((*levels, UNKNOWN, MISSING), levels=levels, kind=kind)

    @property
    def missing(self) -> int:
        return len(self.labels) - 1

    def index(self, values: pd.Series) -> np.ndarray:
        """The bin of each value."""
        if self.edges is not None:
            found = numbers(values, self.kind)
            bins = np.searchsorted(self.edges, found, side="right")
            return np.where(np.isnan(found), self.missing, bins)
        missing = values.isna().to_numpy()
        text = values.astype(str)
        if self.kind is not None:  # booleans, however the frame holds them
            text = text.str.lower().map(BOOLEAN_TEXT).fillna(text)
        codes = pd.Index(self.levels).get_indexer(text).astype(np.int64)
        codes[codes < 0] = len(self.levels)  # the "unknown" bin
        codes[missing] = self.missing
        return codes

    def shares(self, bins: np.ndarray) -> np.ndarray:
        return np.bincount(bins, minlength=len(self.labels)) / max(len(bins), 1)


def column_bins(column: Column, golden: pd.Series) -> Bins:
    if isinstance(column, Categorical):
        return Bins.for_levels(column.levels)
    if isinstance(column, Boolean):
        return Bins.for_levels(("False", "True"), column)
    return Bins.for_numbers(numbers(golden, column), column)


@dataclass(frozen=True)
class Reference:
    """The golden distribution of every input column: its bins and the share in each."""

    bins: dict[str, Bins]
    expected: dict[str, np.ndarray]
    # The target's range in the golden data (regression; None for classification).
    target_range: tuple[float, float] | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Reference":
        bins, expected = {}, {}
        for column in CONTRACT.columns:
            bins[column.name] = column_bins(column, frame[column.name])
            expected[column.name] = bins[column.name].shares(
                bins[column.name].index(frame[column.name])
            )
        target_range = None
        if not CONTRACT.is_classification and CONTRACT.target in frame:
            target = numbers(frame[CONTRACT.target])
            if (~np.isnan(target)).any():
                target_range = (float(np.nanmin(target)), float(np.nanmax(target)))
        return cls(bins, expected, target_range)

    def indices(self, frame: pd.DataFrame) -> np.ndarray:
        """The bin of every value of a batch: one column per input column."""
        return np.column_stack(
            [self.bins[name].index(frame[name]) for name in CONTRACT.feature_names]
        )

    def scores_of(self, indices: np.ndarray) -> dict[str, float]:
        return {
            name: psi(self.expected[name], self.bins[name].shares(indices[:, position]))
            for position, name in enumerate(CONTRACT.feature_names)
        }

    def missing_shares_of(self, indices: np.ndarray) -> dict[str, float]:
        rows = max(len(indices), 1)
        return {
            name: float((indices[:, position] == self.bins[name].missing).sum() / rows)
            for position, name in enumerate(CONTRACT.feature_names)
        }

    def golden_missing_shares(self) -> dict[str, float]:
        return {name: float(self.expected[name][-1]) for name in CONTRACT.feature_names}

    def score_frame(self, frame: pd.DataFrame) -> dict[str, float]:
        return self.scores_of(self.indices(frame))


class DriftWindow:
    """The last `size` records the service scored; their PSI is computed at each scrape.

    Records are kept as bin numbers (one small integer per column), so the window costs
    the same whatever the column types. Until the window is full there is no score: a
    handful of records says nothing about a distribution.
    """

    def __init__(self, reference: Reference, size: int) -> None:
        self.reference = reference
        self.rows = np.zeros((size, len(CONTRACT.feature_names)), dtype=np.int64)
        self.filled = 0
        self.position = 0
        self.lock = threading.Lock()

    def add(self, frame: pd.DataFrame) -> None:
        bins = self.reference.indices(frame.tail(len(self.rows)))
        with self.lock:
            slots = (self.position + np.arange(len(bins))) % len(self.rows)
            self.rows[slots] = bins
            self.position = int((self.position + len(bins)) % len(self.rows))
            self.filled = min(self.filled + len(bins), len(self.rows))

    def _full_window(self) -> np.ndarray | None:
        with self.lock:
            if self.filled < len(self.rows):
                return None
            return self.rows.copy()

    def scores(self) -> dict[str, float] | None:
        window = self._full_window()
        return None if window is None else self.reference.scores_of(window)

    def missing_shares(self) -> dict[str, float] | None:
        """Share of missing values of each column over the window (None until full)."""
        window = self._full_window()
        return None if window is None else self.reference.missing_shares_of(window)


@dataclass(frozen=True)
class DriftReport:
    """PSI of every input column (and of the predictions when a model was at hand), with
    the share of missing values of each column in the golden data and in the batch."""

    scores: dict[str, float]
    threshold: float
    missing: dict[str, tuple[float, float]]

    @property
    def worst(self) -> tuple[str, float]:
        return max(self.scores.items(), key=lambda item: item[1])

    @property
    def drifted(self) -> bool:
        return self.worst[1] > self.threshold

    def to_text(self) -> str:
        width = max(len(name) for name in self.scores)
        lines = [f"{'column':<{width}}  {'PSI':>8}  {'missing (golden -> batch)':>25}  status"]
        for name, score in self.scores.items():
            status = "DRIFT" if score > self.threshold else "ok"
            golden, batch = self.missing.get(name, (0.0, 0.0))
            missing = "-"
            if name in self.missing:
                missing = f"{format(golden, '6.1%')} -> {format(batch, '6.1%')}"
            lines.append(f"{name:<{width}}  {score:8.4f}  {missing:>25}  {status}")
        name, score = self.worst
        verdict = "drift" if self.drifted else "no drift"
        relation = ">" if self.drifted else "<="
        lines.append(
            f"largest PSI {score:.4f} ({name}) {relation} max_drift_psi {self.threshold}: {verdict}"
        )
        return "\n".join(lines)


def prediction_psi(golden: pd.Series, current: pd.Series) -> float:
    """PSI of the predictions: classes as bins, or values binned at the golden deciles."""
    if CONTRACT.is_classification:
        bins = Bins.for_levels(CONTRACT.classes)
    else:
        bins = Bins.for_numbers(numbers(golden))
    return psi(bins.shares(bins.index(golden)), bins.shares(bins.index(current)))


def compare(
    golden: pd.DataFrame,
    current: pd.DataFrame,
    threshold: float,
    predicted: tuple[pd.Series, pd.Series] | None = None,
) -> DriftReport:
    """Score a batch against the golden data; `predicted` is (golden, current) predictions."""
    reference = Reference.from_frame(golden)
    indices = reference.indices(current)
    scores = reference.scores_of(indices)
    batch_missing = reference.missing_shares_of(indices)
    missing = {
        name: (share, batch_missing[name])
        for name, share in reference.golden_missing_shares().items()
    }
    if predicted is not None:
        scores[PREDICTED] = prediction_psi(*predicted)
    return DriftReport(scores, threshold, missing)
