# Template file (copier-mlops): `copier update` merges new versions into it.
"""Plots, because people spot patterns in pictures: PNG files and one HTML page.

Rendered with matplotlib's Agg canvas directly (no pyplot, no display needed).
"""

import html
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from ...schema import CONTRACT
from ..contract import Boolean, Categorical, Column, Datetime
from .drift import DriftReport, numbers
from .history import OPTIMISED_METRIC

CLASSES = CONTRACT.classes
TARGET = CONTRACT.target
PROBABILITIES = [f"probability_{label}" for label in CLASSES]
MISSING = "(missing)"


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


def missing_share(values: pd.Series) -> float:
    return float(values.isna().mean()) if len(values) else 0.0


def level_shares(column: Column, values: pd.Series) -> pd.Series:
    """Share of each declared level (booleans: False, True), other values and missing."""
    levels = list(column.levels) if isinstance(column, Categorical) else ["False", "True"]
    text = values.dropna().astype(str)
    if isinstance(column, Boolean):
        text = text.str.lower().map({"true": "True", "1": "True", "1.0": "True"}).fillna("False")
    counts = text.value_counts().reindex(levels, fill_value=0)
    counts["(other)"] = len(text) - int(counts.sum())
    counts[MISSING] = int(values.isna().sum())
    return counts / max(len(values), 1)


def plot_levels(axes: Axes, column: Column, golden: pd.Series, current: pd.Series, label: str):
    """Side-by-side bars of each level's share, golden against the batch."""
    reference, batch = level_shares(column, golden), level_shares(column, current)
    positions = np.arange(len(reference))
    axes.bar(positions - 0.2, reference.to_numpy(), width=0.4, label="golden")
    axes.bar(positions + 0.2, batch.to_numpy(), width=0.4, label=label)
    axes.set_xticks(positions, list(reference.index), rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("share")


def plot_numbers(axes: Axes, column: Column, golden: pd.Series, current: pd.Series, label: str):
    """Histograms of the values present (missing ones are in the title), or a note when
    neither side has a value to plot."""
    reference, batch = numbers(golden, column), numbers(current, column)
    reference, batch = reference[np.isfinite(reference)], batch[np.isfinite(batch)]
    present = np.concatenate([reference, batch])
    if not present.size:
        axes.text(0.5, 0.5, "no values: all missing", ha="center", va="center")
        axes.set_axis_off()
        return
    bins = np.histogram_bin_edges(present, bins=20)
    for values, name in ((reference, "golden"), (batch, label)):
        if values.size:
            axes.hist(values, bins=bins, density=True, alpha=0.5, label=name)
    if isinstance(column, Datetime):
        ticks = axes.get_xticks()
        axes.set_xticks(ticks, [str(pd.Timestamp(tick, unit="s").date()) for tick in ticks])
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)


def plot_features(golden: pd.DataFrame, current: pd.DataFrame, label: str, path: Path) -> Path:
    """Distribution of every input column, golden data against the current batch:
    histograms of numbers and datetimes, bars of levels, and the missing share of each."""
    columns = 4
    rows = -(-len(CONTRACT.columns) // columns)
    figure = Figure(figsize=(4 * columns, 2.8 * rows))
    for index, column in enumerate(CONTRACT.columns, start=1):
        axes = figure.add_subplot(rows, columns, index)
        reference, batch = golden[column.name], current[column.name]
        if isinstance(column, Categorical | Boolean):
            plot_levels(axes, column, reference, batch, label)
        else:
            plot_numbers(axes, column, reference, batch, label)
        axes.set_title(
            f"{column.name}\nmissing {percent(missing_share(reference))} golden, "
            f"{percent(missing_share(batch))} {label}",
            fontsize=8,
        )
    figure.axes[0].legend(fontsize=7)
    return save(figure, path)


def plot_predictions(predictions: pd.DataFrame, min_confidence: float, path: Path) -> Path:
    """Classification: predicted classes and the confidence of each prediction.
    Regression: the distribution of the predicted values."""
    if not CONTRACT.is_classification:
        figure = Figure(figsize=(5, 3.5))
        axes = figure.add_subplot(1, 1, 1)
        values = predictions["predicted"].to_numpy(dtype="float64")
        axes.hist(values[np.isfinite(values)], bins=20)
        axes.set_title("predicted value")
        return save(figure, path)
    figure = Figure(figsize=(10, 3.5))
    classes = figure.add_subplot(1, 2, 1)
    predicted = predictions["predicted"].astype(str)
    counts = predicted.value_counts().reindex(list(CLASSES), fill_value=0)
    classes.bar(counts.index, counts.to_numpy())
    classes.set_title("predicted class")
    classes.tick_params(axis="x", labelrotation=45)
    confidence = figure.add_subplot(1, 2, 2)
    confidence.hist(predictions[PROBABILITIES].max(axis=1), bins=np.linspace(0, 1, 21))
    confidence.axvline(min_confidence, color="red", linestyle="--", label="min_confidence")
    confidence.set_title("confidence (highest class probability)")
    confidence.legend()
    return save(figure, path)


def plot_confusion(truth: pd.Series, predicted: pd.Series, path: Path) -> Path:
    """Confusion matrix of the held-out split: rows true class, columns predicted."""
    labels = list(CLASSES)
    matrix = confusion_matrix(truth.astype(str), predicted.astype(str), labels=labels)
    size = max(4.5, 0.6 * len(labels) + 2)
    figure = Figure(figsize=(size, size * 0.9))
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_title("held-out confusion matrix")
    return save(figure, path)


def plot_residuals(truth: pd.Series, predicted: pd.Series, path: Path) -> Path:
    """Held-out split: predicted against actual values (the diagonal is a perfect model)
    and the residuals (actual - predicted) against the predicted values."""
    actual = truth.to_numpy(dtype="float64")
    guessed = predicted.to_numpy(dtype="float64")
    figure = Figure(figsize=(10, 4))
    versus = figure.add_subplot(1, 2, 1)
    versus.scatter(actual, guessed, s=10, alpha=0.6)
    both = np.concatenate([actual, guessed])
    low, high = float(np.nanmin(both)), float(np.nanmax(both))
    versus.plot([low, high], [low, high], color="red", linestyle="--", label="perfect")
    versus.set_xlabel(f"actual {TARGET}")
    versus.set_ylabel(f"predicted {TARGET}")
    versus.set_title("held-out: predicted vs actual")
    versus.legend()
    residuals = figure.add_subplot(1, 2, 2)
    residuals.scatter(guessed, actual - guessed, s=10, alpha=0.6)
    residuals.axhline(0, color="red", linestyle="--")
    residuals.set_xlabel(f"predicted {TARGET}")
    residuals.set_ylabel("residual (actual - predicted)")
    residuals.set_title("held-out residuals")
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
        f"<td>{missing_cells(report, name)}</td>"
        f"<td>{'DRIFT' if score > report.threshold else 'ok'}</td></tr>"
        for name, score in report.scores.items()
    )
    return (
        f"<p>max_drift_psi: {report.threshold}</p>\n"
        "<table><tr><th>column</th><th>PSI</th><th>missing (golden, batch)</th>"
        f"<th>status</th></tr>{rows}</table>"
    )


def missing_cells(report: DriftReport, name: str) -> str:
    if name not in report.missing:
        return "-"
    golden, batch = report.missing[name]
    return f"{percent(golden)}, {percent(batch)}"


def percent(share: float) -> str:
    return format(share, ".1%")


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
    """Write every plot and the page that shows them; return the files written.

    The model's quality on the held-out split is a confusion matrix (classification)
    or predicted-vs-actual and residual plots (regression); `min_confidence` is used by
    classification only.
    """
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
    truth, predicted = held_out[TARGET], held_out_predictions["predicted"]
    if CONTRACT.is_classification:
        quality = plot_confusion(truth, predicted, directory / "confusion.png")
        quality_title = "Confusion matrix (held-out golden split)"
    else:
        quality = plot_residuals(truth, predicted, directory / "residuals.png")
        quality_title = "Predicted vs actual and residuals (held-out golden split)"
    sections += [
        (f"Feature distributions: golden vs {current_label}", image(features)),
        (f"Drift of {current_label} (PSI)", drift_table(drift)),
        (f"Predictions on {current_label}", image(predictions)),
        (quality_title, image(quality)),
    ]
    page = write_page(directory, title, sections)
    return [path for path in (history, features, predictions, quality) if path] + [page]
