# Template file (copier-mlops): `copier update` merges new versions into it.
"""The medium-data engine: polars lazy frames over parquet, run by the streaming engine.

A CSV input is validated batch by batch into a parquet cache (settings.engine.cache_dir);
the split, the features and the ordering of the rows run as polars lazy queries, written
back to parquet by the streaming engine; the model learns from fixed-size batches read
from that file (engines/incremental.py). Memory stays bounded by the batch sizes, not by
the size of the data.
"""

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ...schema import CONTRACT
from ..config import Settings
from ..contract import Boolean, Categorical, Numeric
from ..data import DataError, read_csv_batches, record_columns, validate_batches
from ..log import logger
from .batched import EVALUATION_BATCH_ROWS, RECORD

# Rows read from a CSV file at a time while it is validated into the parquet cache.
SCAN_BATCH_ROWS = 25_000
# Rows sorted in memory at a time when the rows are put in training order (about 20 MB).
SORT_BUCKET_ROWS = 100_000


@contextmanager
def engine(settings: Settings) -> Iterator[None]:
    """Polars runs in this process, on all its cores: there is nothing to start."""
    yield


def from_pandas(frame: pd.DataFrame) -> pl.LazyFrame:
    return pl.from_pandas(frame).lazy()


def with_record_hash(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The frame with RECORD, a hash of the columns that make a record (all but the id)."""
    hashed = pl.struct(record_columns()).hash(seed=0) // 4  # fits in an Int64
    return frame.with_columns(hashed.cast(pl.Int64).alias(RECORD))


def scan(path: Path, settings: Settings) -> pl.LazyFrame:
    """A validated dataset as a lazy frame; a CSV file is validated into parquet once."""
    if path.suffix == ".parquet":
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        batches = (
            batch.to_pandas() for batch in pq.ParquetFile(path).iter_batches(SCAN_BATCH_ROWS)
        )
        for _ in validate_batches(batches, CONTRACT.training_schema()):
            pass
        return pl.scan_parquet(path)
    cached = cache_path(path, settings.engine.cache_dir)
    if cached.is_file():
        logger.info("parquet_cache", source=str(path), cache=str(cached), reused=True)
    else:
        write_validated_parquet(path, cached)
        logger.info("parquet_cache", source=str(path), cache=str(cached), reused=False)
    return pl.scan_parquet(cached)


def cache_path(source: Path, cache_dir: Path) -> Path:
    """Where the parquet copy of a CSV file lives; a changed file gets a new copy."""
    stat = source.stat()
    key = f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    return cache_dir / f"{source.stem}-{hashlib.sha256(key).hexdigest()[:16]}.parquet"


def prepare_cache_dir(cache_dir: Path) -> None:
    """Create the cache folder, ignored by git as pytest and ruff ignore theirs."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    ignore = cache_dir / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# Parquet copies of CSV inputs, written by the data engine.\n*\n")


def write_validated_parquet(source: Path, target: Path) -> None:
    """Validate a CSV file batch by batch into a parquet file; nothing is left on failure."""
    prepare_cache_dir(target.parent)
    partial = target.with_suffix(".partial")
    writer = None
    try:
        batches = read_csv_batches(source, SCAN_BATCH_ROWS)
        schema = arrow_schema()
        for batch in validate_batches(batches, CONTRACT.training_schema()):
            table = pa.Table.from_pandas(batch, schema=schema, preserve_index=False)
            writer = writer or pq.ParquetWriter(partial, schema)
            writer.write_table(table)
    except BaseException:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    if writer is None:
        raise DataError(f"{source}: no rows")
    writer.close()
    partial.replace(target)


def arrow_schema() -> pa.Schema:
    """The parquet cache's column types, from the contract: a batch whose nullable column
    happens to be all missing is written with the same types as every other batch."""
    kinds = {Numeric: pa.float64(), Categorical: pa.string(), Boolean: pa.bool_()}
    fields = [pa.field(CONTRACT.id_column, pa.int64())]
    for column in CONTRACT.columns:
        fields.append(pa.field(column.name, kinds.get(type(column), pa.timestamp("ns"))))
    label = pa.string() if CONTRACT.is_classification else pa.float64()
    return pa.schema([*fields, pa.field(CONTRACT.target, label)])


@contextmanager
def ordered_batches(
    frame: pl.LazyFrame, order_by: list[str]
) -> Iterator[Callable[[], Iterator[pd.DataFrame]]]:
    """Sort a lazy frame out of core, then read it back in order as often as needed.

    The rows are split by ranges of the first sort key into parquet files of about
    SORT_BUCKET_ROWS rows, each sorted on its own by the streaming engine, so memory
    holds one bucket at a time; read one after the other, the files are in sorted order.
    """
    key = order_by[0]
    stats = frame.select(pl.len(), pl.col(key).min().alias("low"), pl.col(key).max())
    rows, low, high = stats.collect(engine="streaming").row(0)
    buckets = max(1, -(-rows // SORT_BUCKET_ROWS))
    width = (high - low) // buckets + 1 if rows else 1
    with tempfile.TemporaryDirectory(prefix="polars-ordered-") as scratch:
        paths = [Path(scratch) / f"{index:06d}.parquet" for index in range(buckets)]
        for index, path in enumerate(paths):
            bucket = frame.filter((pl.col(key) - low) // width == index)
            bucket.sort(order_by).sink_parquet(path, engine="streaming")

        def batches() -> Iterator[pd.DataFrame]:
            for path in paths:
                for batch in pq.ParquetFile(path).iter_batches(EVALUATION_BATCH_ROWS):
                    yield batch.to_pandas()

        yield batches
