# Template file (copier-mlops): `copier update` merges new versions into it.
"""The large-data engine: the data steps run as Dask dataframes on a cluster.

By default the project starts a LocalCluster for the run; with a scheduler address
(settings.dask.scheduler_address) the same code runs on your cluster. Validation, the
split, the features and the ordering of the rows are distributed; the model learns from
fixed-size batches of the ordered rows, pulled to this process one partition at a time
(engines/incremental.py).
"""

import itertools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
from distributed import Client, LocalCluster

from ...schema import CONTRACT
from ..config import Settings
from ..contract import Numeric
from ..data import DataError, check_row_count, record_columns, validate_batch
from ..log import logger
from .batched import RECORD

# Narwhals announces that its Dask support moves to a separate package that is not
# published yet; until it is, the built-in support is the one to use.
warnings.filterwarnings("ignore", "Dask support is moving out of Narwhals", FutureWarning)


# Partitions of a frame that is already in memory (the golden data), so that even
# small frames take the distributed code path.
IN_MEMORY_PARTITIONS = 2


@contextmanager
def engine(settings: Settings) -> Iterator[Client]:
    """The Dask client of this run: your cluster when a scheduler address is set, else the
    client already running in this process (tests, notebooks), else a new LocalCluster."""
    if settings.dask.scheduler_address:
        with Client(settings.dask.scheduler_address) as client:
            logger.info("dask_cluster", scheduler=client.scheduler.address, local=False)
            yield client
        return
    running = running_client()
    if running is not None:
        yield running
        return
    with (
        LocalCluster(
            n_workers=settings.dask.workers,
            threads_per_worker=settings.dask.threads_per_worker,
            processes=settings.dask.processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        logger.info("dask_cluster", scheduler=cluster.scheduler_address, local=True)
        yield client


def running_client() -> Client | None:
    try:
        return Client.current()
    except ValueError:
        return None


def from_pandas(frame: pd.DataFrame) -> dd.DataFrame:
    return dd.from_pandas(frame, npartitions=IN_MEMORY_PARTITIONS, sort=False)


def with_record_hash(frame: dd.DataFrame) -> dd.DataFrame:
    """The frame with RECORD, a hash of the columns that make a record (all but the id)."""

    def hashed(part: pd.DataFrame) -> pd.DataFrame:
        values = pd.util.hash_pandas_object(part[record_columns()], index=False)
        return part.assign(**{RECORD: (values // 4).astype("int64")})  # fits in an int64

    return frame.map_partitions(hashed)


def scan(path: Path, settings: Settings) -> dd.DataFrame:
    """A validated dataset as a Dask frame: every partition is checked where it is read."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".parquet":
        raw = dd.read_parquet(path)
    else:
        # Numbers as floats in every partition (one partition without a missing value must not
        # read a column as integers), levels and labels as text.
        numbers = {column.name: "float64" for column in CONTRACT.of_kind(Numeric)}
        raw = dd.read_csv(
            path, blocksize=settings.dask.blocksize, dtype=numbers | CONTRACT.csv_dtypes()
        )
    lengths = raw.map_partitions(len).compute().tolist()
    check_row_count(sum(lengths))
    schema = CONTRACT.training_schema()
    first_rows = [0, *itertools.accumulate(lengths)][:-1]
    validated = [
        dask.delayed(validate_batch)(part, schema, first_row)
        for part, first_row in zip(raw.to_delayed(), first_rows, strict=True)
    ]
    return dd.from_delayed(validated, meta=validate_batch(raw._meta, schema, 0))


@contextmanager
def ordered_batches(
    frame: dd.DataFrame, order_by: list[str]
) -> Iterator[Callable[[], Iterator[pd.DataFrame]]]:
    """Sort a Dask frame on the cluster, keep it there, and pull one partition at a time."""
    # One delayed object per persisted partition: fetching one costs a round trip to the
    # worker that holds it, not a new graph.
    partitions = frame.sort_values(order_by).persist().to_delayed()

    def batches() -> Iterator[pd.DataFrame]:
        for partition in partitions:
            yield partition.compute()

    yield batches
