"""Loading and validating data: the only module that reads datasets from disk."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from .log import logger
from .monitoring.metrics import count_schema_failures
from .schema import inference_schema, training_schema

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
        return pd.read_csv(path)
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
            f"fetch the version this commit names with `dvc pull --force {pointer}`; "
            "if the pulled file still differs, the copy in the DVC remote is damaged: "
            "delete it there and upload a good copy with `make golden-push`"
        )
    return f"restore the file with `git checkout -- {path.name}`"


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


def load_training_data(path: Path, *, verify: bool = True) -> pd.DataFrame:
    """Read labelled data, verify its golden checksum when asked, and validate it."""
    if verify:
        verify_golden_file(path)
    return validate(read_csv(path), training_schema())


def load_inference_data(path: Path) -> pd.DataFrame:
    return validate(read_csv(path), inference_schema())
