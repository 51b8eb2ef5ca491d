"""The data contract: one place that declares every column of the dataset.

The pandera schemas that guard training and prediction, the request model of the
service and the golden manifest are all derived from the declarations below, so a
new column is added here once.
"""

from dataclasses import dataclass

import pandera.pandas as pa

ID_COLUMN = "sample_id"
TARGET = "cultivar"
CLASSES = ("class_0", "class_1", "class_2")


@dataclass(frozen=True)
class Feature:
    """A numeric input column with the range a real measurement can take."""

    name: str
    description: str
    minimum: float
    maximum: float


# Plausible physical ranges, deliberately wider than the golden data: a value
# outside them is a broken measurement or a unit mix-up, not an unusual wine.
FEATURES = (
    Feature("alcohol", "Alcohol content (% vol)", 8.0, 18.0),
    Feature("malic_acid", "Malic acid (g/l)", 0.0, 10.0),
    Feature("ash", "Ash (g/l)", 0.0, 5.0),
    Feature("alcalinity_of_ash", "Alcalinity of ash", 5.0, 40.0),
    Feature("magnesium", "Magnesium (mg/l)", 50.0, 200.0),
    Feature("total_phenols", "Total phenols", 0.1, 6.0),
    Feature("flavanoids", "Flavanoids", 0.0, 7.0),
    Feature("nonflavanoid_phenols", "Non-flavanoid phenols", 0.0, 1.5),
    Feature("proanthocyanins", "Proanthocyanins", 0.0, 5.0),
    Feature("color_intensity", "Colour intensity", 0.0, 20.0),
    Feature("hue", "Hue", 0.1, 3.0),
    Feature("od280_od315", "OD280/OD315 of diluted wines", 0.5, 5.0),
    Feature("proline", "Proline (mg/l)", 100.0, 2500.0),
)
FEATURE_NAMES = tuple(feature.name for feature in FEATURES)

# Shape bounds: fewer rows than this cannot train a model worth keeping.
MIN_TRAINING_ROWS = 50
# Largest batch one request to the service may carry.
MAX_BATCH_ROWS = 10_000


def _feature_columns() -> dict[str, pa.Column]:
    return {
        feature.name: pa.Column(
            float,
            checks=pa.Check.in_range(feature.minimum, feature.maximum),
            nullable=False,
            coerce=True,
            description=feature.description,
        )
        for feature in FEATURES
    }


def _has_rows(low: int, high: int) -> pa.Check:
    return pa.Check(
        lambda frame: low <= len(frame) <= high,
        name=f"row_count_between_{low}_and_{high}",
        error=f"expected between {low} and {high} rows",
    )


def training_schema() -> pa.DataFrameSchema:
    """Schema of labelled data entering training or evaluation."""
    return pa.DataFrameSchema(
        {
            ID_COLUMN: pa.Column(int, nullable=False, unique=True, coerce=True),
            **_feature_columns(),
            TARGET: pa.Column(str, checks=pa.Check.isin(CLASSES), nullable=False),
        },
        checks=[_has_rows(MIN_TRAINING_ROWS, 10_000_000)],
        strict=True,
        ordered=False,
        name="training",
    )


def inference_schema(max_rows: int = 10_000_000) -> pa.DataFrameSchema:
    """Schema of unlabelled records entering prediction (a label column is allowed)."""
    return pa.DataFrameSchema(
        {
            ID_COLUMN: pa.Column(int, nullable=False, unique=True, coerce=True, required=False),
            **_feature_columns(),
        },
        checks=[_has_rows(1, max_rows)],
        strict="filter",
        name="inference",
    )
