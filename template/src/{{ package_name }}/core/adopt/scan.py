# Template file (copier-mlops): `copier update` merges new versions into it.
"""One pass over the file: each column's profile and a bounded sample of its rows.

The file is read in batches of text values, so a file larger than memory works on every
data engine; a `Profile` keeps what inference needs of a column (counts, range, distinct
values up to a cap) without keeping the column.
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AdoptError

# Distinct values remembered per column; beyond this a column has "many" values.
DISTINCT_CAP = 1_000
TRUE_FALSE = frozenset({"true", "false"})
# Every random draw adopt makes: the sample here, the golden rows, the model it checks.
SEED = 42


def read_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file as consecutive frames of text values (missing values as NaN)."""
    if not path.is_file():
        raise AdoptError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            reader = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as error:
            raise AdoptError(f"{path}: not a readable parquet file ({error})") from error
        for batch in reader.iter_batches(batch_size=rows):
            columns = {
                name: batch.column(name).cast(pa.string()).to_pandas()
                for name in batch.schema.names
            }
            yield pd.DataFrame(columns).astype(object).where(lambda f: f.notna(), np.nan)
        return
    if suffix != ".csv":
        raise AdoptError(f"{path}: expected a .csv or .parquet file")
    try:
        with pd.read_csv(path, dtype=str, chunksize=rows) as reader:
            yield from reader
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AdoptError(f"{path}: not a readable CSV file ({error})") from error


@dataclass
class Profile:
    """What one pass over a column saw: enough to infer its kind without keeping it."""

    rows: int = 0
    missing: int = 0
    distinct: set[str] | None = field(default_factory=set)
    not_numeric: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    whole: bool = True
    counts_up: bool = True
    last_number: float | None = None
    not_boolean: int = 0
    not_datetime: int = 0
    earliest: pd.Timestamp | None = None
    latest: pd.Timestamp | None = None

    def update(self, values: pd.Series) -> None:
        self.rows += len(values)
        present = values.dropna().astype(str)
        self.missing += len(values) - len(present)
        if self.distinct is not None:
            self.distinct.update(present.unique())
            if len(self.distinct) > DISTINCT_CAP:
                self.distinct = None
        numbers = pd.to_numeric(present, errors="coerce")
        self.not_numeric += int(numbers.isna().sum())
        if self.not_numeric == 0 and len(numbers):
            self.minimum = min(self.minimum, float(numbers.min()))
            self.maximum = max(self.maximum, float(numbers.max()))
            self.whole = self.whole and bool((numbers % 1 == 0).all())
            steps = numbers.diff().dropna()
            first_step = None if self.last_number is None else numbers.iloc[0] - self.last_number
            self.counts_up = (
                self.counts_up
                and len(present) == len(values)
                and bool((steps == 1).all())
                and first_step in (None, 1)
            )
            self.last_number = float(numbers.iloc[-1])
        self.not_boolean += int((~present.str.lower().isin(TRUE_FALSE)).sum())
        if self.not_numeric and self.not_datetime == 0:
            moments = pd.to_datetime(present, format="ISO8601", errors="coerce", utc=True)
            self.not_datetime += int(moments.isna().sum())
            if self.not_datetime == 0 and len(moments):
                low, high = moments.min().tz_localize(None), moments.max().tz_localize(None)
                self.earliest = low if self.earliest is None else min(self.earliest, low)
                self.latest = high if self.latest is None else max(self.latest, high)

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def numeric(self) -> bool:
        return self.present > 0 and self.not_numeric == 0

    @property
    def distinct_count(self) -> int | None:
        return None if self.distinct is None else len(self.distinct)


@dataclass
class Scan:
    columns: list[str]
    profiles: dict[str, Profile]
    rows: int
    missing_target: int
    sample: pd.DataFrame  # text values plus "__row" (1-based position in the file)


def scan(
    path: Path,
    target: str,
    drop: Sequence[str],
    *,
    batch_rows: int,
    reservoir_rows: int,
    time_column: str | None = None,
) -> Scan:
    """Profile every column and keep a bounded sample, reading the file once in batches.

    The sample holds at most `reservoir_rows` rows with a known target: uniformly drawn
    (a random key per row, the smallest keys kept) or, with `time_column`, the latest.
    """
    rng = np.random.default_rng(SEED)
    profiles: dict[str, Profile] = {}
    columns: list[str] = []
    rows = missing_target = 0
    sample = pd.DataFrame()
    for batch in read_batches(path, batch_rows):
        if not columns:
            columns = [str(name) for name in batch.columns]
            for name in [target, *drop, *([time_column] if time_column else [])]:
                if name not in columns:
                    raise AdoptError(
                        f"{path} has no column {name!r}; its columns are: {', '.join(columns)}"
                    )
            used = [name for name in columns if name not in drop]
            profiles = {name: Profile() for name in used}
        batch = batch.assign(__row=np.arange(rows + 1, rows + len(batch) + 1))
        rows += len(batch)
        labelled = batch[batch[target].notna()]
        missing_target += len(batch) - len(labelled)
        for name, profile in profiles.items():
            profile.update(labelled[name])
        if time_column:
            moments = pd.to_datetime(labelled[time_column], format="ISO8601", errors="coerce")
            key = -moments.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
            key[moments.isna().to_numpy()] = np.inf
        else:
            key = rng.random(len(labelled))
        chosen = pd.concat([sample, labelled.assign(__key=key)], ignore_index=True)
        if len(chosen) > reservoir_rows:
            chosen = chosen.nsmallest(reservoir_rows, "__key")
        sample = chosen
    if not columns:
        raise AdoptError(f"{path} holds no rows")
    keep = [name for name in columns if name not in drop] + ["__row"]
    return Scan(columns, profiles, rows, missing_target, sample.reindex(columns=keep))
