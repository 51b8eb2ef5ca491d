"""Descriptive metrics of training runs, one JSON line per run in reports/history.jsonl."""

import json
from pathlib import Path

import pandas as pd

from ..schema import FEATURE_NAMES

# The metric the model minimises (pipeline.evaluate); the others are for people.
OPTIMISED_METRIC = "log_loss"


def describe_input(frame: pd.DataFrame) -> dict:
    """Shape of the training data and the value range of every feature."""
    features = frame[list(FEATURE_NAMES)].agg(["min", "max", "mean"])
    return {
        "rows": len(frame),
        "columns": frame.shape[1],
        "features": {
            name: {stat: round(float(value), 6) for stat, value in features[name].items()}
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
