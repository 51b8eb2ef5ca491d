# Template file (copier-mlops): `copier update` merges new versions into it.
"""The building blocks of the data contract, and everything derived from it.

`schema.py` (the team's file) declares the dataset with the column kinds below; this
module (the template's) turns that one declaration into what every entry point needs:
the pandera schemas of training and inference data, the service's request model, the
types a CSV file is read with, the model inputs and the preprocessing steps that go
into the saved scikit-learn pipeline (imputation, encoding, unseen levels). Code outside
the team's files reads the contract and never names a column.
"""

import datetime as dt
import enum
import keyword
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd
import pandera.pandas as pa
from narwhals.typing import IntoFrameT
from pydantic import BaseModel, ConfigDict, Field, create_model
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

Task = Literal["classification", "regression"]
# How a missing numeric value is filled inside the model pipeline (from the training split).
IMPUTE_STRATEGIES = ("median", "mean", "most_frequent")
# Calendar features a datetime column gives the model (see `model_inputs`).
CALENDAR_PARTS = ("year", "month", "day", "weekday", "hour")


class ContractError(ValueError):
    """schema.py declares something that cannot work; the message says what to change."""


@dataclass(frozen=True)
class Numeric:
    """A number with the range a real value can take (None: unbounded on that side).

    `integer` values must be whole numbers. A missing value (allowed when `nullable`) is
    filled inside the model pipeline by `impute`: the training split's median, mean or
    most frequent value, or a fixed number.
    """

    name: str
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    nullable: bool = False
    impute: str | float = "median"


@dataclass(frozen=True)
class Categorical:
    """A value from a fixed set of levels.

    `unseen` says what happens to a level the contract does not declare, at serving and
    batch-prediction time: "refuse" (a 422 naming the field) or "unknown" (scored as no
    known level and counted in `unseen_levels_total`). Training data must use declared
    levels. A missing value (when `nullable`) is scored as no known level, too.
    """

    name: str
    levels: tuple[str, ...]
    description: str = ""
    nullable: bool = False
    unseen: Literal["refuse", "unknown"] = "refuse"


@dataclass(frozen=True)
class Boolean:
    """True or false; a missing value (when `nullable`) gets the most frequent one."""

    name: str
    description: str = ""
    nullable: bool = False


@dataclass(frozen=True)
class Datetime:
    """A date or timestamp between `earliest` and `latest` (ISO 8601, inclusive).

    The model sees its calendar parts (year, month, day, weekday, hour), not the raw value.
    """

    name: str
    description: str = ""
    earliest: str = "1900-01-01"
    latest: str = "2100-12-31"
    nullable: bool = False


Column = Numeric | Categorical | Boolean | Datetime


@dataclass(frozen=True)
class Contract:
    """The whole dataset: identifier, target, task and every input column.

    classification: `classes` lists the target's labels (two: binary, more: multiclass).
    regression: `target_minimum`/`target_maximum` bound a plausible target value.
    `duplicates` is the policy for records equal in every column but the identifier:
    "refuse" stops the data, "drop" keeps the one with the smallest id and logs how many
    were dropped (either way they never leak across the train/test split), on every data
    engine.
    """

    id_column: str
    target: str
    task: Task
    columns: tuple[Column, ...]
    classes: tuple[str, ...] = ()
    target_minimum: float | None = None
    target_maximum: float | None = None
    target_description: str = ""
    duplicates: Literal["refuse", "drop"] = "refuse"
    min_training_rows: int = 50
    max_batch_rows: int = 10_000
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {column.name: column for column in self.columns})
        for problem in self.problems():
            raise ContractError(f"schema.py: {problem}")

    def problems(self) -> list[str]:
        """What in the declaration cannot work (an empty list when it is sound)."""
        found = []
        names = [column.name for column in self.columns]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            found.append(f"columns declared twice: {', '.join(repeated)}")
        if not names:
            found.append("declare at least one input column")
        for special in (self.id_column, self.target):
            if special in self.by_name:
                found.append(f"{special!r} is the identifier or target, not an input column")
        if self.id_column == self.target:
            found.append("the identifier and the target must be different columns")
        if self.task not in ("classification", "regression"):
            found.append(f"task must be 'classification' or 'regression', not {self.task!r}")
        if self.task == "classification" and len(set(self.classes)) < 2:
            found.append("a classification target needs at least two distinct classes")
        if self.task == "regression" and self.classes:
            found.append("a regression target has no classes: leave `classes` out")
        for column in self.columns:
            if not column.name.isidentifier() or keyword.iskeyword(column.name):
                found.append(
                    f"{column.name!r} is not usable as a field name: rename the column to "
                    "letters, digits and underscores, not starting with a digit"
                )
            if (
                isinstance(column, Numeric)
                and isinstance(column.impute, str)
                and column.impute not in IMPUTE_STRATEGIES
            ):
                found.append(
                    f"{column.name}: impute must be one of {', '.join(IMPUTE_STRATEGIES)} "
                    f"or a number, not {column.impute!r}"
                )
            if isinstance(column, Categorical) and len(set(column.levels)) != len(column.levels):
                found.append(f"{column.name}: a level is declared twice")
            if isinstance(column, Categorical) and not column.levels:
                found.append(f"{column.name}: declare at least one level")
        return found

    # -- names --------------------------------------------------------------------------

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def of_kind(self, kind: type) -> tuple[Any, ...]:
        return tuple(column for column in self.columns if isinstance(column, kind))

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    # -- reading files ------------------------------------------------------------------

    def csv_dtypes(self) -> dict[str, str]:
        """Types to read a CSV file with: levels stay text ("01" is not 1), even when
        they look like numbers, and so do class labels."""
        text = [column.name for column in self.of_kind(Categorical)]
        if self.is_classification:
            text.append(self.target)
        return dict.fromkeys(text, "str")

    # -- pandera schemas ----------------------------------------------------------------

    def _pandera_column(self, column: Column, *, training: bool) -> pa.Column:
        common = {"nullable": column.nullable, "coerce": True, "description": column.description}
        if isinstance(column, Numeric):
            checks = []
            if column.minimum is not None:
                checks.append(pa.Check.ge(column.minimum))
            if column.maximum is not None:
                checks.append(pa.Check.le(column.maximum))
            if column.integer:
                checks.append(
                    pa.Check(
                        lambda values: values.dropna() % 1 == 0,
                        element_wise=False,
                        name="whole_number",
                        error="expected whole numbers",
                    )
                )
            return pa.Column(float, checks=checks, **common)
        if isinstance(column, Categorical):
            checks = []
            if training or column.unseen == "refuse":
                checks.append(pa.Check.isin(column.levels))
            return pa.Column(str, checks=checks, **common)
        if isinstance(column, Boolean):
            return pa.Column("boolean", **common)
        return pa.Column(
            "datetime64[ns]",
            checks=[
                pa.Check.ge(pd.Timestamp(column.earliest)),
                pa.Check.le(pd.Timestamp(column.latest)),
            ],
            **common,
        )

    def _target_column(self) -> pa.Column:
        if self.is_classification:
            return pa.Column(str, checks=pa.Check.isin(self.classes), nullable=False, coerce=True)
        checks = []
        if self.target_minimum is not None:
            checks.append(pa.Check.ge(self.target_minimum))
        if self.target_maximum is not None:
            checks.append(pa.Check.le(self.target_maximum))
        return pa.Column(float, checks=checks, nullable=False, coerce=True)

    def training_schema(self) -> pa.DataFrameSchema:
        """Schema of labelled data entering training or evaluation."""
        return pa.DataFrameSchema(
            {
                self.id_column: pa.Column(int, nullable=False, unique=True, coerce=True),
                **{c.name: self._pandera_column(c, training=True) for c in self.columns},
                self.target: self._target_column(),
            },
            checks=[_has_rows(self.min_training_rows, 10_000_000)],
            strict=True,
            ordered=False,
            name="training",
        )

    def inference_schema(self, max_rows: int = 10_000_000) -> pa.DataFrameSchema:
        """Schema of unlabelled records entering prediction (a label column is allowed)."""
        return pa.DataFrameSchema(
            {
                self.id_column: pa.Column(
                    int, nullable=False, unique=True, coerce=True, required=False
                ),
                **{c.name: self._pandera_column(c, training=False) for c in self.columns},
            },
            checks=[_has_rows(1, max_rows)],
            strict="filter",
            name="inference",
        )

    # -- the service's request model ----------------------------------------------------

    def record_model(self) -> type[BaseModel]:
        """One record of a /predict request: enums for declared levels, optional fields
        for nullable columns, bounds for numbers and dates, JSON numbers and booleans
        only (no numeric strings, no booleans as numbers). Unknown fields are refused."""
        fields = {column.name: self._request_field(column) for column in self.columns}
        return create_model(
            "Record", __config__=ConfigDict(extra="forbid", allow_inf_nan=False), **fields
        )

    def _request_field(self, column: Column) -> tuple[Any, Any]:
        constraints: dict[str, Any] = {"description": column.description or None}
        if isinstance(column, Numeric):
            kind: Any = float
            # A JSON number only: `false` or "13.2" is a client's mistake, not a number.
            constraints |= {"ge": column.minimum, "le": column.maximum, "strict": True}
            if column.integer:
                constraints["multiple_of"] = 1
        elif isinstance(column, Categorical):
            members = {f"level_{index}": level for index, level in enumerate(column.levels)}
            refused = column.unseen == "refuse"
            kind = enum.Enum(_class_name(column.name), members) if refused else str
        elif isinstance(column, Boolean):
            kind = bool
            constraints["strict"] = True  # true or false, not 1 or "yes"
        else:
            kind = dt.datetime
            constraints |= {
                "ge": pd.Timestamp(column.earliest).to_pydatetime(),
                "le": pd.Timestamp(column.latest).to_pydatetime(),
            }
        constraints = {key: value for key, value in constraints.items() if value is not None}
        if column.nullable:
            return kind | None, Field(None, **constraints)
        return kind, Field(..., **constraints)

    def records_frame(self, records: Sequence[BaseModel]) -> pd.DataFrame:
        """Request records as a frame with the contract's column order and types."""
        rows = [record.model_dump(mode="json") for record in records]
        frame = pd.DataFrame(rows, columns=list(self.feature_names))
        for column in self.of_kind(Datetime):
            # ISO 8601 in any precision: one record's microseconds must not fail the batch.
            instants = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
            frame[column.name] = instants.dt.tz_localize(None)
        return frame

    # -- model inputs and preprocessing -------------------------------------------------

    def model_inputs(self, frame: IntoFrameT, keep: Sequence[str] = ()) -> IntoFrameT:
        """The declared inputs as the model takes them, on any engine (narwhals).

        Numbers and booleans become floats (missing stays missing), levels stay text,
        and each datetime column becomes its calendar parts, named `<column>_<part>`.
        Columns named in `keep` (identifiers, labels) pass through unchanged in front.
        """
        data = nw.from_native(frame)
        expressions = []
        for column in self.columns:
            source = nw.col(column.name)
            if isinstance(column, Categorical):
                expressions.append(source.cast(nw.String))
            elif isinstance(column, Datetime):
                moment = source.cast(nw.Datetime())
                expressions += [
                    getattr(moment.dt, part)().cast(nw.Float64).alias(f"{column.name}_{part}")
                    for part in CALENDAR_PARTS
                ]
            else:
                expressions.append(source.cast(nw.Float64))
        return data.select(*keep, *expressions).to_native()

    def preprocessor(self, columns: Sequence[str]) -> ColumnTransformer:
        """The pipeline step that turns model inputs into numbers: missing values imputed
        as declared, levels one-hot encoded against the declared levels (an unseen or
        missing level encodes as none of them). Undeclared numeric columns (features.py's
        derivations, calendar parts) are imputed by their training median."""
        levels = {c.name: list(c.levels) for c in self.of_kind(Categorical) if c.name in columns}
        groups: dict[str, list[str]] = {}
        for name in columns:
            if name in levels:
                continue
            column = self.by_name.get(name)
            if isinstance(column, Boolean):
                strategy = "most_frequent"
            elif isinstance(column, Numeric):
                strategy = str(column.impute)
            else:
                strategy = "median"
            groups.setdefault(strategy, []).append(name)
        transformers: list[tuple[str, Any, list[str]]] = []
        for strategy, names in groups.items():
            if strategy in IMPUTE_STRATEGIES:
                imputer = SimpleImputer(strategy=strategy, keep_empty_features=True)
            else:
                imputer = SimpleImputer(strategy="constant", fill_value=float(strategy))
            transformers.append((f"impute_{strategy}", imputer, names))
        if levels:
            encoder = OneHotEncoder(
                categories=list(levels.values()),
                handle_unknown="ignore",
                sparse_output=False,
                dtype=np.float64,
            )
            transformers.append(("encode", encoder, list(levels)))
        return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)

    # -- targets --------------------------------------------------------------------

    def target_values(self, values: pd.Series) -> np.ndarray:
        """Labels as text (classification) or values as floats (regression)."""
        if self.is_classification:
            return values.astype(str).to_numpy()
        return values.astype("float64").to_numpy()


def _has_rows(low: int, high: int) -> pa.Check:
    return pa.Check(
        lambda frame: low <= len(frame) <= high,
        name=f"row_count_between_{low}_and_{high}",
        error=f"expected between {low} and {high} rows",
    )


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or "Level"
