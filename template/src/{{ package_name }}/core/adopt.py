# Template file (copier-mlops): `copier update` merges new versions into it.
"""Adopt a dataset of yours: infer the data contract from a file and write the team's files.

`<package> data adopt FILE --target COLUMN` reads a CSV or parquet file in one pass of
bounded batches (so a file larger than memory works on every data engine), infers one
contract entry per column, and writes `schema.py`, `features.py`, `params.yml`,
`tests/golden/tolerances.yml` and a size-capped golden sample with its manifest. It then
trains and records the golden baseline. Nothing is written when the input is refused.

The rules, so that a reviewer of the written `schema.py` knows where each line came from:
- a column whose every value is a number is `Numeric` (`integer` when all are whole); its
  range is the observed one widened by `RANGE_MARGIN` of the span on each side (a column
  never seen below zero keeps a minimum of zero);
- an integer column with at most `MAX_INTEGER_LEVELS` distinct values, fewer than
  `MAX_INTEGER_LEVEL_SHARE` of its rows, is `Categorical` (a code, not a quantity);
  `--categorical COL` / `--numeric COL` decide it the other way;
- values that are all true/false are `Boolean`; all ISO 8601 dates or timestamps are
  `Datetime`, with the observed range widened like a number's;
- other text is `Categorical` with the observed levels, unless it has more than
  `MAX_TEXT_LEVELS` distinct values or nearly every value is distinct
  (`IDENTIFIER_SHARE`): such a column looks like free text or an identifier and is refused
  with a hint to `--drop` it or name it with `--id`. So is a whole-number column counting
  up by one, row after row (a row number);
- a column with a missing value is `nullable`; a missing number is imputed by the median.
Rows with a missing target are left out and counted. Column names must be Python
identifiers: a name that is not one is refused, with a suggested name to rename it to in
the file (no silent renaming, so the file and the contract always agree).
"""

import datetime as dt
import hashlib
import json
import keyword
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# Inference rules (see the module docstring).
RANGE_MARGIN = 0.1
MAX_INTEGER_LEVELS = 10
MAX_INTEGER_LEVEL_SHARE = 0.05
MAX_TEXT_LEVELS = 50
IDENTIFIER_SHARE = 0.9
# Classification: a numeric target with more distinct values than this looks continuous.
MAX_CLASSES = 20
MIN_CLASS_ROWS = 5
MIN_ROWS = 50
# The golden sample: at most this many rows, drawn from a bounded reservoir of the file.
GOLDEN_ROWS = 2_000
RESERVOIR_ROWS = 20_000
BATCH_ROWS = 100_000
# Distinct values remembered per column; beyond this a column has "many" values.
DISTINCT_CAP = 1_000
# The identifier a golden sample gets when the file has none: the first free name.
ID_CANDIDATES = ("row_id", "row_number", "record_id")
TRUE_FALSE = frozenset({"true", "false"})
SEED = 42

# The owner note the template puts at the top of the team's files (copier-mlops'
# scripts/ownership.py); the files adopt writes carry it too.
TEAM_NOTE = "# Your file: `copier update` never changes it (copier-mlops ownership)."
STATE_FILE = ".adopt.json"
TEMPLATE_FILES = "core/template_files.json"
LINE_LENGTH = 100


class AdoptError(ValueError):
    """The file cannot be adopted as it is; the message says why and what to do."""


# -- reading ------------------------------------------------------------------------------


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


# -- profiling ----------------------------------------------------------------------------


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


# -- inference ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inferred:
    """One column's contract entry, as the line schema.py declares it."""

    name: str
    kind: str  # Numeric, Categorical, Boolean or Datetime
    arguments: dict
    note: str

    def declaration(self) -> str:
        return _call(self.kind, [json.dumps(self.name)], self.arguments)


def widen(low: float, high: float, *, integer: bool) -> tuple[float, float]:
    """The observed range widened by RANGE_MARGIN of its span on each side (a value
    never seen below zero keeps zero as its minimum), rounded outwards to 2 significant
    digits of the span (whole numbers for integer columns)."""
    span = high - low or abs(high) or 1.0
    lower, upper = low - RANGE_MARGIN * span, high + RANGE_MARGIN * span
    if low >= 0:
        lower = max(lower, 0.0)
    step = 10.0 ** (math.floor(math.log10(span)) - 1)
    if integer:
        step = max(step, 1.0)
    lower = math.floor(lower / step) * step
    upper = math.ceil(upper / step) * step
    return float(f"{lower:.12g}"), float(f"{upper:.12g}")


def _sorted_levels(levels: set[str], *, numeric: bool) -> tuple[str, ...]:
    if numeric:
        return tuple(sorted(levels, key=float))
    return tuple(sorted(levels))


def infer_column(
    name: str, profile: Profile, *, categorical: bool = False, numeric: bool = False
) -> Inferred:
    """The contract entry of one column, by the rules of this module's docstring."""
    if profile.present == 0:
        raise AdoptError(f"column {name!r} has no values at all: leave it out with --drop {name}")
    nullable = {"nullable": True} if profile.missing else {}
    missing = ""
    if profile.missing:
        missing = f", {format(profile.missing / profile.rows, '.0%')} missing"
    distinct = profile.distinct_count
    if numeric and not profile.numeric:
        raise AdoptError(f"--numeric {name}: the column holds values that are not numbers")
    if categorical and distinct is None:
        raise AdoptError(
            f"--categorical {name}: the column has more than {DISTINCT_CAP} distinct values, "
            "too many levels to declare: --drop it"
        )
    if profile.numeric and not categorical:
        integer = profile.whole
        few = (
            distinct is not None
            and distinct <= MAX_INTEGER_LEVELS
            and distinct < MAX_INTEGER_LEVEL_SHARE * profile.present
        )
        if integer and few and not numeric:
            levels = _sorted_levels(profile.distinct, numeric=True)
            return Inferred(
                name,
                "Categorical",
                {"levels": levels, **nullable, "unseen": "refuse"},
                f"{len(levels)} whole-number codes (--numeric {name} to treat as a number)"
                + missing,
            )
        if integer and profile.counts_up and profile.present >= MIN_ROWS and not numeric:
            raise AdoptError(
                f"column {name!r} counts up by one from row to row: it looks like a row number "
                f"or identifier, not a feature. Name it with --id {name}, leave it out with "
                f"--drop {name}, or keep it as a number with --numeric {name}"
            )
        low, high = widen(profile.minimum, profile.maximum, integer=integer)
        arguments = {"minimum": low, "maximum": high}
        if integer:
            arguments["integer"] = True
        if profile.missing:
            arguments |= {"nullable": True, "impute": "median"}
        observed = f"{profile.minimum:g} to {profile.maximum:g}"
        return Inferred(name, "Numeric", arguments, f"observed {observed}{missing}")
    if profile.not_boolean == 0 and not categorical:
        return Inferred(name, "Boolean", nullable, f"true/false{missing}")
    if profile.not_datetime == 0 and profile.earliest is not None and not categorical:
        earliest, latest = _widen_dates(profile.earliest, profile.latest)
        return Inferred(
            name,
            "Datetime",
            {"earliest": earliest, "latest": latest, **nullable},
            f"observed {_moment(profile.earliest)} to {_moment(profile.latest)}{missing}",
        )
    many = distinct is None or distinct > MAX_TEXT_LEVELS
    unique = distinct is not None and distinct >= IDENTIFIER_SHARE * profile.present
    if not categorical and (many or (unique and profile.present >= MIN_ROWS)):
        count = f"{distinct}" if distinct is not None else f"more than {DISTINCT_CAP}"
        raise AdoptError(
            f"column {name!r} looks like free text or an identifier ({count} distinct values "
            f"in {profile.present} rows), not a feature: leave it out with --drop {name}, "
            f"name it as the identifier with --id {name}, or declare it with "
            f"--categorical {name} if its values really are a fixed set of levels"
        )
    levels = _sorted_levels(profile.distinct, numeric=profile.numeric)
    return Inferred(
        name,
        "Categorical",
        {"levels": levels, **nullable, "unseen": "refuse"},
        f"{len(levels)} levels{missing}",
    )


def _moment(moment: pd.Timestamp) -> str:
    return moment.date().isoformat() if moment == moment.normalize() else moment.isoformat()


def _widen_dates(earliest: pd.Timestamp, latest: pd.Timestamp) -> tuple[str, str]:
    span = max(latest - earliest, pd.Timedelta(days=1))
    low = (earliest - RANGE_MARGIN * span).floor("D")
    high = (latest + RANGE_MARGIN * span).ceil("D")
    return low.date().isoformat(), high.date().isoformat()


@dataclass(frozen=True)
class TargetInfo:
    arguments: dict
    note: str


def infer_target(name: str, profile: Profile, task: str) -> TargetInfo:
    """classes (classification) or a plausible range (regression), or an error that says
    which `task` answer the target fits."""
    if profile.present == 0:
        raise AdoptError(f"target {name!r} has no values at all")
    distinct = profile.distinct_count
    if task == "regression":
        if not profile.numeric:
            raise AdoptError(
                f"target {name!r} holds values that are not numbers, but this project's task "
                "is regression. If it is a label, switch the project to classification with "
                "`copier update -d task=classification --defaults`, then run `data adopt` again"
            )
        if distinct is not None and distinct < 2:
            raise AdoptError(f"target {name!r} has a single value: there is nothing to predict")
        low, high = widen(profile.minimum, profile.maximum, integer=False)
        return TargetInfo(
            {"target_minimum": low, "target_maximum": high},
            f"regression, observed {profile.minimum:g} to {profile.maximum:g}",
        )
    continuous = profile.numeric and (
        not profile.whole or distinct is None or distinct > MAX_CLASSES
    )
    if continuous:
        count = f"more than {DISTINCT_CAP}" if distinct is None else str(distinct)
        raise AdoptError(
            f"target {name!r} looks continuous ({count} distinct numbers), "
            "but this project's task is classification. To predict a number, switch the "
            "project to regression with `copier update -d task=regression --defaults`, then "
            "run `data adopt` again"
        )
    if distinct is None or distinct > MAX_TEXT_LEVELS:
        raise AdoptError(
            f"target {name!r} has more than {MAX_TEXT_LEVELS} distinct labels: too many classes "
            "to learn; group them into fewer classes first"
        )
    if distinct < 2:
        only = next(iter(profile.distinct))
        raise AdoptError(
            f"target {name!r} has a single class ({only!r}): a classifier needs at least two"
        )
    classes = _sorted_levels(profile.distinct, numeric=profile.numeric)
    kind = "binary" if len(classes) == 2 else "multiclass"
    return TargetInfo({"classes": classes}, f"{kind} classification, {len(classes)} classes")


def check_names(names: Sequence[str]) -> None:
    """Refuse column names that cannot be field names, suggesting a usable one."""
    bad = [name for name in names if not name.isidentifier() or keyword.iskeyword(name)]
    if bad:
        suggestions = ", ".join(f"{name!r} -> {suggest_name(name)!r}" for name in bad)
        raise AdoptError(
            "column names must be Python identifiers (letters, digits and underscores, not "
            "starting with a digit), since they become fields of the service's requests. "
            f"Rename them in the file, for example: {suggestions}"
        )


def suggest_name(name: str) -> str:
    cleaned = re.sub(r"[^0-9a-zA-Z_]+", "_", name.strip()).strip("_").lower() or "column"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = f"column_{cleaned}"
    return cleaned


# -- one pass over the file ---------------------------------------------------------------


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


# -- the adoption -------------------------------------------------------------------------


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


# -- rendering ----------------------------------------------------------------------------


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        items = ", ".join(_literal(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _call(name: str, positional: list[str], keywords: dict, indent: int = 8) -> str:
    """A call as ruff format lays it out: on one line when it fits, else split."""
    parts = positional + [f"{key}={_literal(value)}" for key, value in keywords.items()]
    line = f"{' ' * indent}{name}({', '.join(parts)}),"
    if len(line) <= LINE_LENGTH:
        return line
    inner = " " * (indent + 4)
    hugged = f"{inner}{', '.join(parts)}"
    if len(hugged) <= LINE_LENGTH:
        return f"{' ' * indent}{name}(\n{hugged}\n{' ' * indent}),"
    lines = [f"{' ' * indent}{name}("]
    for key, value in [(None, p) for p in positional] + list(keywords.items()):
        text = value if key is None else f"{key}={_literal(value)}"
        if len(inner + text) + 1 > LINE_LENGTH and isinstance(value, tuple):
            lines.append(f"{inner}{key}=(")
            lines += [f"{inner}    {_literal(item)}," for item in value]
            lines.append(f"{inner}),")
        else:
            lines.append(f"{inner}{text},")
    lines.append(f"{' ' * indent}),")
    return "\n".join(lines)


def _keyword_line(key: str, value: object) -> str:
    line = f"    {key}={_literal(value)},"
    if len(line) <= LINE_LENGTH or not isinstance(value, tuple):
        return line
    items = "\n".join(f"        {_literal(item)}," for item in value)
    return f"    {key}=(\n{items}\n    ),"


def render_schema(plan: Plan, source: str) -> str:
    kinds = sorted({item.kind for item in plan.inferred} | {"Contract"})
    header = [
        TEAM_NOTE,
        '"""The data contract: one place that declares every column of the dataset.',
        "",
        f"Written by `data adopt` from {source}: review every line (ranges, levels, which",
        "columns may be missing, `unseen` for a level the service has not seen), then",
        "commit it. Ranges are the observed ones widened by a margin; see adopt.py for the",
        "rules. Everything that checks or encodes the data is derived from CONTRACT.",
        '"""',
        "",
        f"from .core.contract import {', '.join(kinds)}",
        "",
        "CONTRACT = Contract(",
        f"    id_column={_literal(plan.id_column)},",
        f"    target={_literal(plan.target)},",
        f"    task={_literal(plan.task)},",
    ]
    header += [_keyword_line(key, value) for key, value in plan.target_info.arguments.items()]
    if plan.duplicates:
        header.append('    duplicates="drop",')
    header.append("    columns=(")
    header += [item.declaration() for item in plan.inferred]
    header += ["    ),", ")", ""]
    return "\n".join(header)


FEATURES = f'''{TEAM_NOTE}
"""Feature engineering: turns validated records into the model's inputs.

Written by `data adopt`: the declared columns pass through as the model takes them,
and each datetime column becomes its calendar parts (`CONTRACT.model_inputs`). Add
row-wise derivations (ratios, differences) with narwhals expressions, so every data
engine computes the same features, then record the baseline with `make golden-update`.
Imputation and encoding are steps of the saved model pipeline, not done here.
"""

from collections.abc import Sequence

from narwhals.typing import IntoFrameT

from .schema import CONTRACT


def build_features(frame: IntoFrameT, keep: Sequence[str] = ()) -> IntoFrameT:
    """Model inputs: the declared columns; `keep` columns pass through unchanged in front."""
    return CONTRACT.model_inputs(frame, keep)
'''


def render_tolerances(task: str) -> str:
    """tests/golden/tolerances.yml for the task, as the template writes it."""
    lines = [
        TEAM_NOTE,
        "# How far a retrained model may move from the golden baseline before the golden",
        "# check fails. Same data, code and parameters on the same library versions give",
        "# identical numbers; these bounds only absorb floating-point noise between CPUs.",
        "metrics:",
    ]
    if task == "regression":
        lines += [
            "  # Largest absolute change of any metric (rmse, mae, r2).",
            "  absolute: 1.0e-6",
            "predictions:",
            "  # Largest absolute change of the predicted value of any golden record, in the",
            "  # target's unit: raise it for a target measured in large numbers.",
            "  value_absolute: 1.0e-6",
        ]
    else:
        lines += [
            "  # Largest absolute change of any metric (accuracy, f1_macro, log_loss; roc_auc "
            "for two",
            "  # classes).",
            "  absolute: 1.0e-6",
            "predictions:",
            "  # Largest absolute change of any class probability of any golden record.",
            "  probability_absolute: 1.0e-6",
            "  # How many golden records may change their predicted class.",
            "  label_changes: 0",
        ]
    return "\n".join(lines) + "\n"


def render_params(current: str, model_defaults: dict) -> str:
    """params.yml with its `model:` section set to ModelParams' defaults (the rest kept)."""
    section = yaml.safe_dump(
        {"model": model_defaults}, sort_keys=False, default_flow_style=None
    ).rstrip("\n")
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("model:")), None)
    if start is None:
        return current.rstrip("\n") + "\n" + section + "\n"
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    return "\n".join([*lines[:start], section, *lines[end:]]) + "\n"


def render_golden(plan: Plan) -> str:
    return plan.golden.to_csv(index=False, lineterminator="\n")


# -- writing ------------------------------------------------------------------------------


def sha256_text(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def read_answers(root: Path) -> dict:
    answers = root / ".copier-answers.yml"
    if not answers.is_file():
        raise AdoptError(f"{answers} is missing: run adopt in a project generated by copier")
    return yaml.safe_load(answers.read_text()) or {}


def edited_files(root: Path, package_dir: Path, paths: dict[str, Path]) -> list[str]:
    """Files adopt would replace that differ from what it (or the template) last wrote."""
    state_path = root / STATE_FILE
    if state_path.is_file():
        recorded = json.loads(state_path.read_text())["files"]
    else:
        template = package_dir / TEMPLATE_FILES
        names = json.loads(template.read_text()) if template.is_file() else {}
        recorded = {
            str(paths[name].relative_to(root)): digest
            for name, digest in names.items()
            if name in paths
        }
    return [
        relative
        for relative, digest in recorded.items()
        if (root / relative).is_file() and sha256_text((root / relative).read_bytes()) != digest
    ]


def check_model(package: str, task: str, root: Path, package_dir: Path) -> str:
    """model.py is the team's and names no column, so adopt keeps it; it must fit the task.

    Returns a line for the printout. model.py counts as unchanged from the template when
    its hash is the one the template recorded at copy time (template_files.json) or the
    one adopt recorded when it last ran.
    """
    from sklearn.base import is_classifier, is_regressor

    model = __import__(f"{package}.model", fromlist=["ModelParams", "build_model"])
    estimator = model.build_model(SEED, **model.ModelParams().model_dump())
    fits = is_classifier(estimator) if task == "classification" else is_regressor(estimator)
    other = is_regressor(estimator) if task == "classification" else is_classifier(estimator)
    relative = f"src/{package}/model.py"
    digest = sha256_text((package_dir / "model.py").read_bytes())
    known = set()
    template = package_dir / TEMPLATE_FILES
    if template.is_file():
        known.add(json.loads(template.read_text()).get("model.py"))
    state = root / STATE_FILE
    if state.is_file():
        known.add(json.loads(state.read_text()).get("model", {}).get("sha256"))
    unchanged = digest in known
    if other and not fits:
        if unchanged:
            raise AdoptError(
                f"{relative} is the template's model for the other task (copier update never "
                f"replaces model.py): delete it, run `copier update --defaults` to get the "
                f"{task} model, then run `data adopt` again"
            )
        raise AdoptError(
            f"{relative} builds a model for the other task, not for {task}: change "
            "build_model to return a model for this task"
        )
    if unchanged:
        return f"{relative}: the template's model for {task}, unchanged (kept)"
    return f"{relative}: yours, edited since the template wrote it (kept)"


def adopt(
    path: Path,
    columns: Columns,
    *,
    root: Path,
    package: str,
    force: bool = False,
    train: bool = True,
) -> str:
    """Adopt `path` into the project at `root`; returns what to print. Writes nothing
    when the input is refused; restores the previous files when training fails."""
    answers = read_answers(root)
    task = answers.get("task", "classification")
    package_dir = root / "src" / package
    golden_dir = root / "data" / "golden"
    plan = plan_adoption(
        path, columns, task=task, whole_file=answers.get("data_size", "small") == "small"
    )
    model_line = check_model(package, task, root, package_dir)
    model = __import__(f"{package}.model", fromlist=["ModelParams"])
    targets = {
        "schema.py": package_dir / "schema.py",
        "features.py": package_dir / "features.py",
        "params.yml": root / "params.yml",
        "tolerances.yml": root / "tests" / "golden" / "tolerances.yml",
        "golden": golden_dir / plan.golden_name,
    }
    edited = edited_files(root, package_dir, targets)
    if edited and not force:
        raise AdoptError(
            f"{', '.join(edited)} changed since data adopt (or the template) wrote them; "
            "adopting would overwrite those edits. Commit or move them, then re-run with --force"
        )
    params_text = targets["params.yml"].read_text() if targets["params.yml"].is_file() else ""
    contents = {
        "schema.py": render_schema(plan, path.name),
        "features.py": FEATURES,
        "params.yml": render_params(params_text, model.ModelParams().model_dump(mode="json")),
        "tolerances.yml": render_tolerances(task),
        "golden": render_golden(plan),
    }
    baseline = root / "tests" / "golden" / "baseline"
    old_golden = [p for p in golden_dir.glob("*.csv") if p.name != plan.golden_name]
    old_pointers = [p.with_name(p.name + ".dvc") for p in old_golden]
    with tempfile.TemporaryDirectory(prefix="adopt-", dir=root) as scratch:
        staged = Path(scratch) / "new"
        backup = Path(scratch) / "old"
        staged.mkdir()
        backup.mkdir()
        for key, text in contents.items():
            (staged / key).write_text(text)
        replaced = [*targets.values(), *old_golden, *(p for p in old_pointers if p.is_file())]
        for index, existing in enumerate(replaced):
            if existing.is_file():
                shutil.copy2(existing, backup / str(index))
        try:
            for key, destination in targets.items():
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / key, destination)
            for existing in old_golden + [p for p in old_pointers if p.is_file()]:
                existing.unlink()
            if baseline.is_dir():  # the previous data's baseline: recorded afresh below
                shutil.move(baseline, backup / "baseline")
            if train:
                record_baseline(package, root)
        except BaseException:
            if (backup / "baseline").is_dir():
                shutil.rmtree(baseline, ignore_errors=True)
                shutil.move(backup / "baseline", baseline)
            for existing in [*targets.values(), *old_golden]:
                existing.unlink(missing_ok=True)
            for index, existing in enumerate(replaced):
                if (backup / str(index)).is_file():
                    shutil.copy2(backup / str(index), existing)
            raise
    state = {
        "source": str(path),
        "adopted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {
            str(destination.relative_to(root)): sha256_text(destination.read_bytes())
            for destination in targets.values()
        },
        "model": {"sha256": sha256_text((package_dir / "model.py").read_bytes())},
    }
    (root / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return summary(plan, path, package, answers, model_line, [p.name for p in old_golden])


def record_baseline(package: str, root: Path) -> None:
    """Train and record the golden baseline in a fresh process, which imports the new
    schema.py (this one still holds the previous contract)."""
    for command in (["golden", "update", "--yes", "--force"], ["train"]):
        completed = subprocess.run(
            [sys.executable, "-m", package, *command],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise AdoptError(
                f"`{package} {' '.join(command)}` failed on the adopted data, so nothing was "
                f"kept:\n{completed.stderr.strip() or completed.stdout.strip()}"
            )


def summary(
    plan: Plan, path: Path, package: str, answers: dict, model_line: str, replaced: list[str]
) -> str:
    golden = f"data/golden/{plan.golden_name}"
    width = max(len(item.name) for item in plan.inferred)
    lines = [
        f"Adopted {path}: {plan.rows} rows, target {plan.target!r} ({plan.target_info.note}).",
    ]
    if plan.missing_target:
        lines.append(f"  {plan.missing_target} rows with a missing target were left out.")
    if plan.dropped:
        lines.append(f"  dropped columns: {', '.join(plan.dropped)}")
    lines += ["", "Inferred columns:"]
    lines += [f"  {item.name.ljust(width)}  {item.kind:<11}  {item.note}" for item in plan.inferred]
    if plan.duplicates:
        pairs = ", ".join(f"{a} = {b}" for a, b in plan.duplicates[:10])
        verb = "record duplicates" if len(plan.duplicates) == 1 else "records duplicate"
        lines += [
            "",
            f"{len(plan.duplicates)} {verb} another in every column but "
            f"{plan.id_column} ({pairs}{', ...' if len(plan.duplicates) > 10 else ''}): "
            'left out of the golden sample; the contract declares duplicates="drop".',
        ]
    order = (
        "latest by " + plan.time_split
        if plan.time_split
        else ("stratified by class" if plan.task == "classification" else "drawn at random")
    )
    lines += [
        "",
        f"Wrote src/{package}/schema.py, src/{package}/features.py, params.yml "
        f"(model section: ModelParams' defaults), tests/golden/tolerances.yml and {golden} "
        f"({len(plan.golden)} rows, {order})"
        + (f", replacing {', '.join(replaced)}." if replaced else "."),
        model_line,
        "Trained, and recorded the golden baseline (tests/golden/baseline/) and manifest; "
        "drift is measured against the golden data.",
    ]
    if plan.id_added:
        lines += [
            "",
            f"The file has no identifier: the golden sample's {plan.id_column!r} is each row's "
            f"position in {path.name} (1 = first data row). To train on the full file, add "
            f"the same column to it first (`{package} train --data FILE` needs it).",
        ]
    remote = answers.get("golden_data_remote", "git")
    if remote == "git":
        lines += [
            "",
            f"WARNING: golden_data_remote is git, so {golden}, a sample of your real data, "
            "will be committed with the code. If it holds personal or confidential data, keep "
            "it in a DVC remote instead: `copier update -d golden_data_remote=s3 --defaults` "
            "(or azure_blob).",
        ]
    else:
        lines += ["", f"Record the new golden file with DVC: `make golden-push` ({golden})."]
    lines += [
        "",
        "Review next:",
        f"  1. src/{package}/schema.py: ranges, levels, nullable columns, `unseen` policies.",
        "  2. make test && make golden-check: the project's own tests on your data.",
        "  3. README.md: its first paragraph and its Data section still describe the example.",
        "  4. git add -A && git commit: the contract, the golden sample and its baseline.",
    ]
    return "\n".join(lines)
