"""Drift: how far recent data moved from the golden data, as a Population Stability Index.

PSI = sum over bins of (current share - reference share) * ln(current / reference).
Numeric features are binned at the deciles of the golden data; predicted classes are
their own bins. Rule of thumb: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major.
"""

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..contract import Numeric
from ..schema import CONTRACT

CLASSES = CONTRACT.classes
FEATURE_NAMES = tuple(c.name for c in CONTRACT.of_kind(Numeric))

BINS = 10
PREDICTED = "predicted class"
# Share given to an empty bin, so that the logarithm stays finite.
FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two vectors of bin shares."""
    reference, current = np.maximum(reference, FLOOR), np.maximum(current, FLOOR)
    return float(np.sum((current - reference) * np.log(current / reference)))


def shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Share of values in each bin delimited by the inner edges (open-ended outer bins)."""
    bins = np.searchsorted(inner_edges, values, side="right")
    return np.bincount(bins, minlength=len(inner_edges) + 1) / max(len(values), 1)


def class_shares(predicted: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    counts = predicted.value_counts().reindex(list(classes), fill_value=0)
    return counts.to_numpy() / max(len(predicted), 1)


@dataclass(frozen=True)
class Reference:
    """The golden distribution of each feature: decile edges and the share in each bin."""

    edges: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Reference":
        edges, expected = {}, {}
        for name in FEATURE_NAMES:
            values = frame[name].to_numpy(dtype=float)
            inner = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
            edges[name], expected[name] = inner, shares(values, inner)
        return cls(edges, expected)

    def scores(self, columns: dict[str, np.ndarray]) -> dict[str, float]:
        """PSI of each feature of a batch given as one array per feature."""
        return {
            name: psi(self.expected[name], shares(columns[name], self.edges[name]))
            for name in FEATURE_NAMES
        }

    def score_frame(self, frame: pd.DataFrame) -> dict[str, float]:
        return self.scores({name: frame[name].to_numpy(dtype=float) for name in FEATURE_NAMES})


class DriftWindow:
    """The last `size` records the service scored; their PSI is computed at each scrape.

    Until the window is full there is no score: a handful of records says nothing
    about a distribution.
    """

    def __init__(self, reference: Reference, size: int) -> None:
        self.reference = reference
        self.rows = np.empty((size, len(FEATURE_NAMES)))
        self.filled = 0
        self.position = 0
        self.lock = threading.Lock()

    def add(self, frame: pd.DataFrame) -> None:
        # The service's validated frames hold exactly the features, in order: use them as
        # they are (selecting columns costs more than the whole window update).
        features = frame if tuple(frame.columns) == FEATURE_NAMES else frame[list(FEATURE_NAMES)]
        values = features.to_numpy(dtype=float)[-len(self.rows) :]
        with self.lock:
            slots = (self.position + np.arange(len(values))) % len(self.rows)
            self.rows[slots] = values
            self.position = int((self.position + len(values)) % len(self.rows))
            self.filled = min(self.filled + len(values), len(self.rows))

    def scores(self) -> dict[str, float] | None:
        with self.lock:
            if self.filled < len(self.rows):
                return None
            window = self.rows.copy()
        return self.reference.scores(
            {name: window[:, index] for index, name in enumerate(FEATURE_NAMES)}
        )


@dataclass(frozen=True)
class DriftReport:
    """PSI of every feature (and of the predicted classes when a model was at hand)."""

    scores: dict[str, float]
    threshold: float

    @property
    def worst(self) -> tuple[str, float]:
        return max(self.scores.items(), key=lambda item: item[1])

    @property
    def drifted(self) -> bool:
        return self.worst[1] > self.threshold

    def to_text(self) -> str:
        width = max(len(name) for name in self.scores)
        lines = [f"{'column':<{width}}  {'PSI':>8}  status"]
        for name, score in self.scores.items():
            status = "DRIFT" if score > self.threshold else "ok"
            lines.append(f"{name:<{width}}  {score:8.4f}  {status}")
        name, score = self.worst
        verdict = "drift" if self.drifted else "no drift"
        relation = ">" if self.drifted else "<="
        lines.append(
            f"largest PSI {score:.4f} ({name}) {relation} max_drift_psi {self.threshold}: {verdict}"
        )
        return "\n".join(lines)


def compare(
    golden: pd.DataFrame,
    current: pd.DataFrame,
    threshold: float,
    predicted: tuple[pd.Series, pd.Series] | None = None,
) -> DriftReport:
    """Score a batch against the golden data; `predicted` is (golden, current) classes."""
    scores = Reference.from_frame(golden).score_frame(current)
    if predicted is not None:
        reference, batch = (class_shares(series, CLASSES) for series in predicted)
        scores[PREDICTED] = psi(reference, batch)
    return DriftReport(scores, threshold)
