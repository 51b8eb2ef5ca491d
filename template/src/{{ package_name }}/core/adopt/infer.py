# Template file (copier-mlops): `copier update` merges new versions into it.
"""Inference: one contract entry per column, and the target's classes or range.

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
Column names must be Python identifiers: a name that is not one is refused, with a
suggested name to rename it to in the file (no silent renaming, so the file and the
contract always agree).
"""

import keyword
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .errors import AdoptError
from .scan import DISTINCT_CAP, Profile

# The rules of this module's docstring.
RANGE_MARGIN = 0.1
MAX_INTEGER_LEVELS = 10
MAX_INTEGER_LEVEL_SHARE = 0.05
MAX_TEXT_LEVELS = 50
IDENTIFIER_SHARE = 0.9
# Classification: a numeric target with more distinct values than this looks continuous.
MAX_CLASSES = 20
MIN_ROWS = 50


@dataclass(frozen=True)
class Inferred:
    """One column's contract entry, as the line schema.py declares it."""

    name: str
    kind: str  # Numeric, Categorical, Boolean or Datetime
    arguments: dict
    note: str


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
