"""Synthetic data with the golden schema, as many rows as a scale test needs.

Each class keeps its share of the golden data, and its measurements follow a
multivariate normal fitted to that class's golden records (means and covariances),
clipped to the plausible ranges declared in schema.py. Rows are written in chunks, so
memory stays bounded whatever the size, and the same seed writes the same file.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv

from .contract import Numeric
from .schema import CONTRACT

FEATURES = CONTRACT.of_kind(Numeric)
FEATURE_NAMES = tuple(c.name for c in FEATURES)
ID_COLUMN = CONTRACT.id_column
TARGET = CONTRACT.target

CHUNK_ROWS = 100_000
# Measurements are written with three decimals, like the golden data's.
DECIMALS = 3


@dataclass(frozen=True)
class ClassDistribution:
    label: str
    share: float
    mean: np.ndarray
    covariance: np.ndarray


def fit(golden: pd.DataFrame) -> list[ClassDistribution]:
    """The share, mean and covariance of every class's measurements in the golden data."""
    distributions = []
    for label, records in golden.groupby(TARGET, sort=True):
        values = records[list(FEATURE_NAMES)].to_numpy(dtype="float64")
        distributions.append(
            ClassDistribution(
                label=str(label),
                share=len(records) / len(golden),
                mean=values.mean(axis=0),
                covariance=np.cov(values, rowvar=False),
            )
        )
    return distributions


def sample(
    distributions: list[ClassDistribution], rows: int, first_id: int, rng: np.random.Generator
) -> pd.DataFrame:
    """`rows` records with ids from `first_id`, classes drawn by their golden shares."""
    classes = rng.choice(len(distributions), size=rows, p=[d.share for d in distributions])
    values = np.empty((rows, len(FEATURE_NAMES)))
    for index, distribution in enumerate(distributions):
        chosen = classes == index
        values[chosen] = rng.multivariate_normal(
            distribution.mean, distribution.covariance, size=int(chosen.sum())
        )
    lowest = [feature.minimum for feature in FEATURES]
    highest = [feature.maximum for feature in FEATURES]
    measured = np.round(np.clip(values, lowest, highest), DECIMALS)
    frame = pd.DataFrame(measured, columns=list(FEATURE_NAMES))
    frame.insert(0, ID_COLUMN, np.arange(first_id, first_id + rows, dtype="int64"))
    frame[TARGET] = np.array([d.label for d in distributions])[classes]
    return frame


def synthesize(
    golden: pd.DataFrame, rows: int, out: Path, seed: int = 0, chunk_rows: int = CHUNK_ROWS
) -> None:
    """Write `rows` synthetic records to a CSV file, `chunk_rows` at a time."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    if out.suffix != ".csv":
        raise ValueError(f"{out}: synthetic data is written as CSV; name the file *.csv")
    distributions = fit(golden)
    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for start in range(0, rows, chunk_rows):
            chunk = sample(distributions, min(chunk_rows, rows - start), start + 1, rng)
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            writer = writer or csv.CSVWriter(out, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
