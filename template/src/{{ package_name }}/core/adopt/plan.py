# Template file (copier-mlops): `copier update` merges new versions into it.
"""The adoption planned before a file is written: the contract and the golden sample.

`plan_adoption` checks the command's column options, scans the file, infers every
column, and draws the golden sample (size-capped; the latest rows with a time split,
stratified by class for classification), leaving out rows with a missing target and
records that duplicate another. It raises AdoptError on input it refuses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import AdoptError
from .infer import (
    MIN_ROWS,
    Inferred,
    TargetInfo,
    check_names,
    infer_column,
    infer_target,
    suggest_name,
)
from .scan import SEED, scan

MIN_CLASS_ROWS = 5
# The golden sample: at most this many rows, drawn from a bounded reservoir of the file.
GOLDEN_ROWS = 2_000
RESERVOIR_ROWS = 20_000
BATCH_ROWS = 100_000
# The identifier a golden sample gets when the file has none: the first free name.
ID_CANDIDATES = ("row_id", "row_number", "record_id")


@dataclass
class Plan:
    """Everything adopt infers, before a file is written."""

    task: str
    id_column: str
    id_added: bool
    target: str
    target_info: TargetInfo
    inferred: list[Inferred]
    golden: pd.DataFrame
    golden_name: str
    rows: int
    missing_target: int
    duplicates: list[tuple[str, str]]
    dropped: list[str]
    time_split: str | None


@dataclass(frozen=True)
class Columns:
    """How the file's columns are used: the command's column options."""

    target: str
    id_column: str | None = None  # --id
    drop: Sequence[str] = ()
    categorical: Sequence[str] = ()
    numeric: Sequence[str] = ()
    time_split: str | None = None


def plan_adoption(
    path: Path,
    columns: Columns,
    *,
    task: str,
    whole_file: bool = True,
    golden_rows: int = GOLDEN_ROWS,
) -> Plan:
    """Infer the contract and draw the golden sample; raise AdoptError on bad input.

    `whole_file` (small projects) reads the file as one batch; otherwise it is read in
    batches of BATCH_ROWS and only a reservoir of RESERVOIR_ROWS rows is kept.
    """
    target, id_column, drop = columns.target, columns.id_column, columns.drop
    categorical, numeric, time_split = columns.categorical, columns.numeric, columns.time_split
    for option, names in (("--categorical", categorical), ("--numeric", numeric)):
        for name in names:
            if name in (target, id_column) or name in drop:
                raise AdoptError(f"{option} {name}: the column is the target, the id or dropped")
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise AdoptError(f"{', '.join(both)}: given both --categorical and --numeric")
    if target == id_column:
        raise AdoptError("the target and the id must be different columns")
    if target in drop:
        raise AdoptError(f"--drop {target}: that is the target")
    scanned = scan(
        path,
        target,
        drop,
        batch_rows=10**12 if whole_file else BATCH_ROWS,
        reservoir_rows=10**12 if whole_file else RESERVOIR_ROWS,
        time_column=time_split,
    )
    features = [name for name in scanned.profiles if name not in (target, id_column)]
    check_names([*features, target, *([id_column] if id_column else [])])
    for name in (*categorical, *numeric):
        if name not in features:
            raise AdoptError(f"{path} has no column {name!r}")
    if id_column is not None:
        if id_column not in scanned.profiles:
            raise AdoptError(f"{path} has no column {id_column!r} (--id)")
        profile = scanned.profiles[id_column]
        if profile.missing or not profile.numeric or not profile.whole:
            raise AdoptError(
                f"--id {id_column}: an identifier must be a whole number in every row "
                "(leave --id out and adopt numbers the rows)"
            )
    labelled = scanned.rows - scanned.missing_target
    if labelled < MIN_ROWS:
        raise AdoptError(
            f"{path} has {labelled} rows with a target value; a model needs at least {MIN_ROWS}"
        )
    target_info = infer_target(target, scanned.profiles[target], task)
    inferred = [
        infer_column(
            name,
            scanned.profiles[name],
            categorical=name in categorical,
            numeric=name in numeric,
        )
        for name in features
    ]
    if time_split and next(i for i in inferred if i.name == time_split).kind != "Datetime":
        raise AdoptError(f"--time-split {time_split}: the column is not a date or timestamp")
    sample = scanned.sample
    added = id_column is None
    if added:
        taken = set(scanned.columns)
        id_column = next(
            (name for name in ID_CANDIDATES if name not in taken),
            next(f"row_id_{n}" for n in range(2, 10**6) if f"row_id_{n}" not in taken),
        )
        sample = sample.assign(**{id_column: sample["__row"]})
    else:
        sample = sample.copy()
    ids = sample[id_column]
    if ids.duplicated().any():
        repeated = ", ".join(map(str, ids[ids.duplicated()].head(5)))
        raise AdoptError(f"--id {id_column}: the identifier repeats (for example {repeated})")
    duplicated = sample.duplicated(subset=[*features, target], keep=False)
    duplicates: list[tuple[str, str]] = []
    if duplicated.any():
        groups = sample[duplicated].groupby([*features, target], dropna=False)[id_column]
        for _, members in groups:
            first, *others = members.astype(str).tolist()
            duplicates += [(first, other) for other in others]
        duplicates.sort(key=lambda pair: (int(pair[0]), int(pair[1])))
        sample = sample.drop_duplicates(subset=[*features, target], keep="first")
    golden = draw_golden(sample, target, task, time_split, golden_rows)
    if len(golden) < MIN_ROWS:
        raise AdoptError(f"only {len(golden)} distinct rows; a model needs at least {MIN_ROWS}")
    if task == "classification":
        counts = golden[target].value_counts()
        rare = counts[counts < MIN_CLASS_ROWS]
        if len(rare):
            listed = ", ".join(f"{label!r} ({count} rows)" for label, count in rare.items())
            raise AdoptError(
                f"classes with fewer than {MIN_CLASS_ROWS} rows cannot be learnt and tested: "
                f"{listed}. Merge them into another class or leave those rows out"
            )
    golden = golden[[id_column, *features, target]]
    return Plan(
        task=task,
        id_column=id_column,
        id_added=added,
        target=target,
        target_info=target_info,
        inferred=inferred,
        golden=golden,
        golden_name=f"{suggest_name(path.stem)}.csv",
        rows=scanned.rows,
        missing_target=scanned.missing_target,
        duplicates=duplicates,
        dropped=list(drop),
        time_split=time_split,
    )


def draw_golden(
    sample: pd.DataFrame, target: str, task: str, time_split: str | None, rows: int
) -> pd.DataFrame:
    """At most `rows` rows: the latest (time split, in time order), stratified by class
    (classification) or uniformly drawn (regression), in the file's row order."""
    if time_split:
        moments = pd.to_datetime(sample[time_split], format="ISO8601", errors="coerce")
        return (
            sample.assign(__t=moments).sort_values(["__t", "__row"]).tail(rows).drop(columns="__t")
        )
    if len(sample) <= rows:
        return sample.sort_values("__row")
    if task == "classification":
        from sklearn.model_selection import train_test_split

        counts = sample[target].value_counts()
        stratify = sample[target] if counts.min() >= 2 else None
        chosen, _ = train_test_split(sample, train_size=rows, stratify=stratify, random_state=SEED)
    else:
        chosen = sample.sample(n=rows, random_state=SEED)
    return chosen.sort_values("__row")
