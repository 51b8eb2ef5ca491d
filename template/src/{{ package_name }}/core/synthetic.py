# Template file (copier-mlops): `copier update` merges new versions into it.
"""Synthetic data with the golden schema, as many rows as a scale test needs.

Fitted to the golden data, column by column as schema.py declares them:
- numbers follow a multivariate normal over the numeric columns, fitted per class
  (classification) or jointly with the target (regression). Missing values are left out
  of the fit: the covariance is taken pairwise over the records where both values are
  present, then made positive definite with a small ridge, so missing values never break
  it. Values are clipped to the declared ranges, and integer columns get whole numbers;
- levels and booleans are drawn by their shares (per class for classification);
- datetimes are drawn uniformly between the golden data's earliest and latest;
- every column misses values at its golden rate;
- records are distinct in every column but the identifier within a chunk (a repeat is
  drawn again, up to REDRAWS times), as the training data's duplicates check expects.
Each class keeps its share of the golden data. Rows are written in chunks, so memory
stays bounded whatever the size, and the same seed writes the same file.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv

from ..schema import CONTRACT
from .contract import Boolean, Categorical, Datetime, Numeric

ID_COLUMN = CONTRACT.id_column
TARGET = CONTRACT.target
NUMERIC = CONTRACT.of_kind(Numeric)
# The columns of the multivariate normal: numeric inputs, and the target in regression.
JOINT = tuple(c.name for c in NUMERIC) + (() if CONTRACT.is_classification else (TARGET,))

CHUNK_ROWS = 100_000
# How many times the repeated records of a chunk are drawn again before they are kept.
REDRAWS = 20
# Most decimals a synthetic number gets (fewer where the golden data has fewer).
MAX_DECIMALS = 6
# Added to the diagonal of each covariance, relative to the mean variance.
RIDGE = 1e-6


class SynthesisError(ValueError):
    """The golden data cannot be fitted; the message says why and what to do."""


@dataclass(frozen=True)
class GroupDistribution:
    """One class's records (classification) or all of them (regression)."""

    label: str | None
    share: float
    mean: np.ndarray
    # A factor of the covariance: mean + factor @ standard normal draws.
    factor: np.ndarray
    # Per level column: the levels and their shares among present values.
    levels: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class Fitted:
    groups: list[GroupDistribution]
    # Golden share of missing values of each input column.
    missing: dict[str, float]
    # Datetime columns: earliest and latest golden value, as nanoseconds.
    spans: dict[str, tuple[int, int] | None]
    decimals: dict[str, int]


def decimals_of(values: np.ndarray) -> int:
    """The fewest decimals that write every golden value exactly (at most MAX_DECIMALS)."""
    present = values[~np.isnan(values)]
    for decimals in range(MAX_DECIMALS + 1):
        if np.allclose(np.round(present, decimals), present, rtol=0, atol=1e-9):
            return decimals
    return MAX_DECIMALS


def robust_factor(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance factor of columns with missing values (NaN).

    Means and variances use every present value; covariances the records where both
    values are present. The eigenvalues are floored at a small ridge, so the factor
    exists even for constant columns or covariances that no complete record supports.
    """
    frame = pd.DataFrame(values)
    mean = frame.mean().to_numpy()
    covariance = frame.cov(min_periods=2).to_numpy()
    variances = np.nan_to_num(np.diag(covariance), nan=0.0)
    covariance = np.nan_to_num(covariance, nan=0.0)
    np.fill_diagonal(covariance, variances)
    ridge = RIDGE * max(float(variances.mean()) if variances.size else 0.0, 1e-12)
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    factor = eigenvectors * np.sqrt(np.maximum(eigenvalues, ridge))
    return mean, factor


def level_shares(values: pd.Series, levels: list[str]) -> np.ndarray:
    present = values.dropna().astype(str)
    counts = present.value_counts().reindex(levels, fill_value=0).to_numpy(dtype="float64")
    total = counts.sum()
    return counts / total if total else np.full(len(levels), 1 / len(levels))


def level_columns() -> dict[str, list[str]]:
    columns = {c.name: list(c.levels) for c in CONTRACT.of_kind(Categorical)}
    columns |= {c.name: ["False", "True"] for c in CONTRACT.of_kind(Boolean)}
    return columns


def boolean_text(values: pd.Series) -> pd.Series:
    present = values.dropna()
    return present.map(lambda value: str(value).lower() in ("true", "1", "1.0")).astype(str)


def fit(golden: pd.DataFrame) -> Fitted:
    """Everything the sampler needs, fitted to the golden data."""
    empty = [c.name for c in NUMERIC if golden[c.name].isna().all()]
    if empty:
        raise SynthesisError(
            f"{', '.join(empty)}: every golden value is missing, so there is no "
            "distribution to draw from; fill some values in the golden data or drop "
            "the column from schema.py"
        )
    if CONTRACT.is_classification:
        grouped = [(str(label), records) for label, records in golden.groupby(TARGET, sort=True)]
    else:
        grouped = [(None, golden)]
    levels = level_columns()
    groups = []
    for label, records in grouped:
        if len(records) < 2:
            raise SynthesisError(
                f"class {label!r} has {len(records)} golden record: at least 2 are needed "
                "to fit its distribution; add records of it to the golden data"
            )
        values = records[list(JOINT)].apply(pd.to_numeric, errors="coerce")
        mean, factor = robust_factor(values.to_numpy(dtype="float64"))
        # A class with no value of a column takes the column's mean over all classes.
        overall = golden[list(JOINT)].apply(pd.to_numeric, errors="coerce").mean().to_numpy()
        mean = np.where(np.isnan(mean), overall, mean)
        shares = {}
        for name, names in levels.items():
            column = records[name]
            if name in CONTRACT.by_name and isinstance(CONTRACT.by_name[name], Boolean):
                column = boolean_text(column)
            shares[name] = (names, level_shares(column, names))
        groups.append(GroupDistribution(label, len(records) / len(golden), mean, factor, shares))
    spans = {}
    for column in CONTRACT.of_kind(Datetime):
        moments = pd.to_datetime(golden[column.name], errors="coerce").dropna()
        spans[column.name] = (moments.min().value, moments.max().value) if len(moments) else None
    decimals = {
        name: decimals_of(golden[name].apply(pd.to_numeric, errors="coerce").to_numpy(float))
        for name in JOINT
    }
    missing = {name: float(golden[name].isna().mean()) for name in CONTRACT.feature_names}
    return Fitted(groups, missing, spans, decimals)


def bounds(name: str) -> tuple[float, float]:
    if name == TARGET:
        low, high = CONTRACT.target_minimum, CONTRACT.target_maximum
    else:
        column = CONTRACT.by_name[name]
        low, high = column.minimum, column.maximum
    return (-np.inf if low is None else low, np.inf if high is None else high)


def sample(fitted: Fitted, rows: int, first_id: int, rng: np.random.Generator) -> pa.Table:
    """`rows` records with ids from `first_id`, classes drawn by their golden shares."""
    groups = fitted.groups
    chosen = rng.choice(len(groups), size=rows, p=[g.share for g in groups])
    joint = np.empty((rows, len(JOINT)))
    drawn: dict[str, np.ndarray] = {name: np.empty(rows, dtype=object) for name in level_columns()}
    for index, group in enumerate(groups):
        members = chosen == index
        count = int(members.sum())
        normal = rng.standard_normal((count, len(JOINT)))
        joint[members] = group.mean + normal @ group.factor.T
        for name, (names, shares) in group.levels.items():
            drawn[name][members] = np.array(names, dtype=object)[
                rng.choice(len(names), size=count, p=shares)
            ]
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array(np.arange(first_id, first_id + rows))}
    generated: dict[str, pa.Array] = {}
    for position, name in enumerate(JOINT):
        low, high = bounds(name)
        values = np.round(np.clip(joint[:, position], low, high), fitted.decimals[name])
        column = CONTRACT.by_name.get(name)
        if isinstance(column, Numeric) and column.integer:
            values = np.clip(np.round(values), np.ceil(low), np.floor(high))
        generated[name] = values
    for column in CONTRACT.columns:
        missing = rng.random(rows) < fitted.missing[column.name]
        if isinstance(column, Numeric):
            values = generated[column.name]
            kind = pa.int64() if column.integer else pa.float64()
            array = pa.array(values.astype("int64") if column.integer else values, kind,
                             mask=missing)  # fmt: skip
        elif isinstance(column, Boolean):
            array = pa.array(drawn[column.name] == "True", pa.bool_(), mask=missing)
        elif isinstance(column, Categorical):
            array = pa.array(drawn[column.name].astype(str), pa.string(), mask=missing)
        else:
            span = fitted.spans[column.name]
            if span is None:
                array = pa.nulls(rows, pa.timestamp("s"))
            else:
                nanoseconds = rng.integers(span[0], span[1], size=rows, endpoint=True)
                moments = (nanoseconds // 1_000_000_000).astype("int64")
                array = pa.array(moments, pa.timestamp("s"), mask=missing)
        columns[column.name] = array
    if CONTRACT.is_classification:
        labels = np.array([g.label for g in groups], dtype=object)[chosen]
        columns[TARGET] = pa.array(labels.astype(str), pa.string())
    else:
        columns[TARGET] = pa.array(generated[TARGET], pa.float64())
    return pa.table(columns)


def distinct_sample(fitted: Fitted, rows: int, first_id: int, rng: np.random.Generator) -> pa.Table:
    """`sample`, with records that repeat another in every column but the identifier drawn
    again: coarse golden values (one decimal, few levels) would otherwise repeat records."""
    table = sample(fitted, rows, first_id, rng)
    for _ in range(REDRAWS):
        hashed = pd.util.hash_pandas_object(
            table.drop_columns([ID_COLUMN]).to_pandas(), index=False
        )
        repeated = hashed.duplicated().to_numpy()
        if not repeated.any():
            break
        redrawn = sample(fitted, int(repeated.sum()), first_id, rng)
        table = pa.concat_tables([table.filter(pa.array(~repeated)), redrawn])
    ids = pa.array(np.arange(first_id, first_id + rows))
    return table.set_column(0, ID_COLUMN, ids)


def synthesize(
    golden: pd.DataFrame, rows: int, out: Path, seed: int = 0, chunk_rows: int = CHUNK_ROWS
) -> None:
    """Write `rows` synthetic records to a CSV file, `chunk_rows` at a time."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    if out.suffix != ".csv":
        raise ValueError(f"{out}: synthetic data is written as CSV; name the file *.csv")
    fitted = fit(golden)
    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for start in range(0, rows, chunk_rows):
            chunk = distinct_sample(fitted, min(chunk_rows, rows - start), start + 1, rng)
            writer = writer or csv.CSVWriter(out, chunk.schema)
            writer.write_table(chunk)
    finally:
        if writer is not None:
            writer.close()
