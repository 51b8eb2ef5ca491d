"""Plots, because people spot patterns in pictures: PNG files and one HTML page.

Rendered with matplotlib's Agg canvas directly (no pyplot, no display needed).
"""

import html
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from ..contract import Numeric
from ..schema import CONTRACT

CLASSES = CONTRACT.classes
FEATURE_NAMES = tuple(c.name for c in CONTRACT.of_kind(Numeric))
TARGET = CONTRACT.target
from .drift import DriftReport
from .history import OPTIMISED_METRIC

PROBABILITIES = [f"probability_{label}" for label in CLASSES]


def save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def plot_history(runs: list[dict], path: Path) -> Path:
    """Every metric over the recorded training runs."""
    names = sorted({name for run in runs for name in run["metrics"]})
    figure = Figure(figsize=(4 * len(names), 3))
    for index, name in enumerate(names, start=1):
        axes = figure.add_subplot(1, len(names), index)
        values = [run["metrics"].get(name, np.nan) for run in runs]
        axes.plot(range(1, len(runs) + 1), values, marker="o")
        axes.set_title(f"{name} (optimised)" if name == OPTIMISED_METRIC else name)
        axes.set_xlabel("training run")
    return save(figure, path)


def plot_features(golden: pd.DataFrame, current: pd.DataFrame, label: str, path: Path) -> Path:
    """Distribution of every feature, golden data against the current batch."""
    columns = 4
    rows = -(-len(FEATURE_NAMES) // columns)
    figure = Figure(figsize=(4 * columns, 2.6 * rows))
    for index, name in enumerate(FEATURE_NAMES, start=1):
        axes = figure.add_subplot(rows, columns, index)
        bins = np.histogram_bin_edges(pd.concat([golden[name], current[name]]), bins=20)
        axes.hist(golden[name], bins=bins, density=True, alpha=0.5, label="golden")
        axes.hist(current[name], bins=bins, density=True, alpha=0.5, label=label)
        axes.set_title(name)
    figure.axes[0].legend()
    return save(figure, path)


def plot_predictions(predictions: pd.DataFrame, min_confidence: float, path: Path) -> Path:
    """Predicted classes and the confidence of each prediction."""
    figure = Figure(figsize=(10, 3.5))
    classes = figure.add_subplot(1, 2, 1)
    counts = predictions["predicted"].value_counts().reindex(list(CLASSES), fill_value=0)
    classes.bar(counts.index, counts.to_numpy())
    classes.set_title("predicted class")
    confidence = figure.add_subplot(1, 2, 2)
    confidence.hist(predictions[PROBABILITIES].max(axis=1), bins=np.linspace(0, 1, 21))
    confidence.axvline(min_confidence, color="red", linestyle="--", label="min_confidence")
    confidence.set_title("confidence (highest class probability)")
    confidence.legend()
    return save(figure, path)


def plot_confusion(truth: pd.Series, predicted: pd.Series, path: Path) -> Path:
    """Confusion matrix of the held-out split: rows true class, columns predicted."""
    matrix = confusion_matrix(truth, predicted, labels=list(CLASSES))
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(CLASSES)), CLASSES)
    axes.set_yticks(range(len(CLASSES)), CLASSES)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_title("held-out confusion matrix")
    return save(figure, path)


def write_page(directory: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """index.html with one heading and body (image or table HTML) per section."""
    body = "\n".join(f"<h2>{html.escape(name)}</h2>\n{content}" for name, content in sections)
    page = (
        f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}\n</body>\n</html>\n"
    )
    path = directory / "index.html"
    path.write_text(page)
    return path


def image(path: Path) -> str:
    return f'<img src="{html.escape(path.name)}" alt="{html.escape(path.stem)}">'


def drift_table(report: DriftReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{score:.4f}</td>"
        f"<td>{'DRIFT' if score > report.threshold else 'ok'}</td></tr>"
        for name, score in report.scores.items()
    )
    return (
        f"<p>max_drift_psi: {report.threshold}</p>\n"
        f"<table><tr><th>column</th><th>PSI</th><th>status</th></tr>{rows}</table>"
    )


def write_report(
    directory: Path,
    *,
    title: str,
    runs: list[dict],
    golden: pd.DataFrame,
    held_out: pd.DataFrame,
    held_out_predictions: pd.DataFrame,
    current: pd.DataFrame,
    current_label: str,
    current_predictions: pd.DataFrame,
    drift: DriftReport,
    min_confidence: float,
) -> list[Path]:
    """Write every plot and the page that shows them; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    history = plot_history(runs, directory / "history.png") if runs else None
    sections = [
        (
            "Metrics over training runs",
            image(history) if history else "<p>No training run recorded yet.</p>",
        )
    ]
    features = plot_features(golden, current, current_label, directory / "features.png")
    predictions = plot_predictions(
        current_predictions, min_confidence, directory / "predictions.png"
    )
    confusion = plot_confusion(
        held_out[TARGET], held_out_predictions["predicted"], directory / "confusion.png"
    )
    sections += [
        (f"Feature distributions: golden vs {current_label}", image(features)),
        (f"Drift of {current_label} (PSI)", drift_table(drift)),
        (f"Predictions on {current_label}", image(predictions)),
        ("Confusion matrix (held-out golden split)", image(confusion)),
    ]
    page = write_page(directory, title, sections)
    return [path for path in (history, features, predictions, confusion) if path] + [page]
