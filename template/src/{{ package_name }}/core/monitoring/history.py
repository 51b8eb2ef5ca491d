# Template file (copier-mlops): `copier update` merges new versions into it.
"""Descriptive metrics of training runs, one JSON line per run in reports/history.jsonl."""

import json
from pathlib import Path

import narwhals as nw
from narwhals.typing import IntoFrame

from ...schema import CONTRACT
from ..contract import Categorical, Datetime

# The metric the model minimises (pipeline.evaluate); the others are for people.
OPTIMISED_METRIC = "log_loss" if CONTRACT.is_classification else "rmse"
STATISTICS = ("min", "max", "mean")


def _statistics(column) -> tuple[str, ...]:
    """What is summarised of a column besides its missing share: the range and mean of
    numbers and booleans (the share of true), the range of datetimes, nothing more of
    levels."""
    if isinstance(column, Categorical):
        return ()
    if isinstance(column, Datetime):
        return ("min", "max")
    return STATISTICS


def _value(value: object) -> object:
    if value is None or value != value:  # every value missing (None, NaN or NaT)
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return round(float(value), 6)


def describe_input(frame: IntoFrame) -> dict:
    """Shape of the training data and a summary of every input column: the share of
    missing values and, where it means something, the range and mean (missing values
    left out). Computed by the frame's own engine (pandas, polars or Dask), in one pass.
    """
    data = nw.from_native(frame)
    expressions = [nw.len().alias("rows")]
    for column in CONTRACT.columns:
        source = nw.col(column.name)
        expressions.append(source.null_count().alias(f"{column.name}.missing"))
        if not isinstance(column, Datetime | Categorical):
            source = source.cast(nw.Float64)
        expressions += [
            getattr(source, stat)().alias(f"{column.name}.{stat}") for stat in _statistics(column)
        ]
    summary = data.select(*expressions)
    values = (summary.collect() if isinstance(summary, nw.LazyFrame) else summary).row(0)
    names = summary.collect_schema().names()
    described = dict(zip(names, values, strict=True))
    rows = int(described["rows"])
    return {
        "rows": rows,
        "columns": len(data.collect_schema()),
        "features": {
            column.name: {
                **{
                    stat: _value(described[f"{column.name}.{stat}"]) for stat in _statistics(column)
                },
                "missing": round(int(described[f"{column.name}.missing"]) / max(rows, 1), 6),
            }
            for column in CONTRACT.columns
        },
    }


def append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as history:
        history.write(json.dumps(record) + "\n")


def read(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
