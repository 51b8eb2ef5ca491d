"""Descriptive metrics of training runs, one JSON line per run in reports/history.jsonl."""

import json
from pathlib import Path

import narwhals as nw
from narwhals.typing import IntoFrame

from ..contract import Numeric
from ..schema import CONTRACT

FEATURE_NAMES = tuple(c.name for c in CONTRACT.of_kind(Numeric))

# The metric the model minimises (pipeline.evaluate); the others are for people.
OPTIMISED_METRIC = "log_loss"
STATISTICS = ("min", "max", "mean")


def describe_input(frame: IntoFrame) -> dict:
    """Shape of the training data and the value range of every feature.

    Computed by the frame's own engine (pandas, polars or Dask), in one pass.
    """
    data = nw.from_native(frame)
    summary = data.select(
        nw.len().alias("rows"),
        *(
            getattr(nw.col(name).cast(nw.Float64), stat)().alias(f"{name}.{stat}")
            for name in FEATURE_NAMES
            for stat in STATISTICS
        ),
    )
    values = (summary.collect() if isinstance(summary, nw.LazyFrame) else summary).row(0)
    names = summary.collect_schema().names()
    described = dict(zip(names, values, strict=True))
    return {
        "rows": int(described["rows"]),
        "columns": len(data.collect_schema()),
        "features": {
            name: {stat: round(float(described[f"{name}.{stat}"]), 6) for stat in STATISTICS}
            for name in FEATURE_NAMES
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
