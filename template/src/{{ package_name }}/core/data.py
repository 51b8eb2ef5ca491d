# Template file (copier-mlops): `copier update` merges new versions into it.
"""Loading and validating data: every dataset enters the pipeline through this module.

Frames that fit in memory are validated whole; datasets read in batches (the medium and
large data engines) are validated batch by batch with the same pandera checks and the
same error messages.
"""

import copy
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from ..schema import CONTRACT
from .config import PROJECT_ROOT
from .log import logger
from .monitoring.metrics import count_schema_failures

MANIFEST_NAME = "manifest.json"


class DataError(ValueError):
    """Data that must not enter the pipeline; the message says what is wrong and where."""


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return pd.read_csv(path, dtype=CONTRACT.csv_dtypes())
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from error


def read_csv_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """A CSV file as consecutive frames of at most `rows` rows: memory stays bounded."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with pd.read_csv(path, chunksize=rows, dtype=CONTRACT.csv_dtypes()) as reader:
            yield from reader
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from error


def describe_manifest_entry(path: Path) -> dict:
    """Checksum, row count and column types of a golden file, as the manifest records them."""
    frame = read_csv(path)
    return {
        "sha256": sha256_of(path),
        "rows": len(frame),
        "columns": {name: str(dtype) for name, dtype in frame.dtypes.items()},
    }


def read_manifest(golden_dir: Path) -> dict:
    manifest_path = golden_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DataError(f"{manifest_path}: the golden manifest is missing")
    return json.loads(manifest_path.read_text())


def verify_golden_file(path: Path) -> None:
    """Stop when a golden file differs from the checksum its manifest recorded."""
    if not path.is_file():
        raise DataError(f"golden file {path} is missing: {restore_hint(path)}.")
    manifest = read_manifest(path.parent)
    entry = manifest["files"].get(path.name)
    if entry is None:
        raise DataError(f"{path.name} is not listed in {path.parent / MANIFEST_NAME}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise DataError(
            f"golden file {path} has changed:\n"
            f"  expected sha256 {entry['sha256']}\n"
            f"  actual sha256   {actual}\n"
            "If the change is deliberate, refresh the manifest and baseline on purpose with "
            f"`make golden-update`; otherwise {restore_hint(path)}."
        )


def restore_hint(path: Path) -> str:
    """How to get back the committed version of a golden file: from DVC or from git."""
    pointer = path.with_name(f"{path.name}.dvc")
    if pointer.is_file():
        return (
            f"fetch the version this commit names with `dvc pull --force {project_path(pointer)}`; "
            "if the pulled file still differs, the copy in the DVC remote is damaged: "
            "delete it there and upload a good copy with `make golden-push`"
        )
    return f"restore the file with `git checkout -- {project_path(path)}`"


def project_path(path: Path) -> str:
    """A path as a command run from the project root names it."""
    return os.path.relpath(path.resolve(), PROJECT_ROOT)


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Validate a frame, collecting every failure before stopping; count failures by check."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = errors.failure_cases
        count_schema_failures(schema.name, failures)
        logger.warning(
            "sanity_check_failed",
            schema=schema.name,
            failures=len(failures),
            checks=sorted(failures["check"].astype(str).unique()),
            columns=sorted(failures["column"].dropna().astype(str).unique()),
            rows=sorted({int(index) for index in failures["index"].dropna()})[:20],
        )
        raise DataError(describe_failures(schema.name, failures)) from errors


def describe_failures(schema_name: str, failures: pd.DataFrame, limit: int = 10) -> str:
    """A readable summary of pandera's failure cases: which check, column and rows."""
    lines = [f"{len(failures)} sanity check failure(s) in {schema_name} data:"]
    for row in failures.head(limit).itertuples(index=False):
        where = f"column {row.column!r}" if isinstance(row.column, str) else "the frame"
        index = "" if pd.isna(row.index) else f" at row {int(row.index)}"
        lines.append(f"  - {row.check} failed on {where}{index}: {row.failure_case!r}")
    if len(failures) > limit:
        lines.append(f"  ... and {len(failures) - limit} more")
    return "\n".join(lines)


def validate_batch(batch: pd.DataFrame, schema: pa.DataFrameSchema, first_row: int) -> pd.DataFrame:
    """Validate one batch of a dataset too large for one frame, exactly as `validate` would.

    Rows are numbered from `first_row`, their position in the whole dataset, so a failure
    names the same row on every engine. Checks on the whole frame (its row count) are left
    out here: the engines run `check_row_count` and `check_unique_ids` on the whole dataset.
    """
    per_batch = copy.deepcopy(schema)
    per_batch.checks = []
    return validate(batch.set_axis(pd.RangeIndex(first_row, first_row + len(batch))), per_batch)


def validate_batches(
    batches: Iterable[pd.DataFrame], schema: pa.DataFrameSchema
) -> Iterator[pd.DataFrame]:
    """Validate a stream of batches as one dataset; the row count is checked at its end."""
    first_row = 0
    for batch in batches:
        yield validate_batch(batch, schema, first_row)
        first_row += len(batch)
    check_row_count(first_row, schema.name)


def check_row_count(rows: int, schema_name: str = "training") -> None:
    """Stop a dataset too small to train a model worth keeping."""
    if rows < CONTRACT.min_training_rows:
        raise DataError(
            f"{schema_name} data has {rows} rows: at least {CONTRACT.min_training_rows} are needed"
        )


def check_unique_ids(ordered_ids: pd.Series, previous: object = None) -> object:
    """Stop a repeated id in a dataset read in batches sorted so that equal ids are adjacent.

    `previous` is the last id of the batch before; the last id of this batch is returned
    for the next call.
    """
    ids = ([] if previous is None else [previous]) + ordered_ids.tolist()
    repeated = next((a for a, b in itertools.pairwise(ids) if a == b), None)
    if repeated is not None:
        name = CONTRACT.id_column
        raise DataError(f"{name} must be unique, but {name} {repeated!r} appears more than once")
    return ids[-1] if ids else None


def record_columns() -> list[str]:
    """What makes two records the same one (the duplicates policy): all but the id."""
    return [*CONTRACT.feature_names, CONTRACT.target]


def check_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Records equal in every column but the identifier, by the contract's policy: they
    would leak across the train/test split. The one with the smallest id is kept."""
    repeated = frame.sort_values(CONTRACT.id_column, kind="stable").duplicated(
        subset=record_columns(), keep="first"
    )
    repeated = repeated.reindex(frame.index)
    if not repeated.any():
        return frame
    apply_duplicates_policy(frame.loc[repeated, CONTRACT.id_column].tolist())
    return frame.loc[~repeated].reset_index(drop=True)


def apply_duplicates_policy(repeated_ids: list) -> None:
    """Refuse the records `repeated_ids` names ("refuse") or log that they are dropped
    ("drop"); each repeats, in every column but the id, a record with a smaller id."""
    first = sorted(repeated_ids)[:5]
    if CONTRACT.duplicates == "drop":
        logger.warning("duplicates_dropped", rows=len(repeated_ids), first_ids=first)
        return
    name = CONTRACT.id_column
    raise DataError(
        f"{len(repeated_ids)} record(s) repeat another record in every column but {name} "
        f"(first {name}s: {', '.join(map(str, first))}): they would leak across "
        'the train/test split. Remove them, or set duplicates="drop" in schema.py\'s Contract.'
    )


def load_training_data(path: Path, *, verify: bool = True) -> pd.DataFrame:
    """Read labelled data, verify its golden checksum when asked, validate it and apply
    the duplicates policy."""
    if verify:
        verify_golden_file(path)
    return check_duplicates(validate(read_csv(path), CONTRACT.training_schema()))


def load_inference_data(path: Path) -> pd.DataFrame:
    return validate(read_csv(path), CONTRACT.inference_schema())
