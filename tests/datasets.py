"""Data the template does not ship, as a team would bring it: files for `data adopt`.

Datasets scikit-learn bundles (breast cancer: binary, iris: multiclass, diabetes:
regression; not wine, the shipped example), with readable column names and labels, and a
synthetic mixed-type file. Each writer saves one file in `directory` and returns its path.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd


def breast_cancer(directory: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", name).strip("_") for name in frame.columns]
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    path = directory / "tumours.csv"
    frame.to_csv(path, index=False)
    return path


def iris(directory: Path) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = [name.replace(" (cm)", "").replace(" ", "_") for name in frame.columns]
    frame["species"] = frame.pop("target").map(
        dict(enumerate(("setosa", "versicolor", "virginica")))
    )
    path = directory / "flowers.csv"
    frame.to_csv(path, index=False)
    return path


def diabetes(directory: Path) -> Path:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame = frame.rename(columns={"target": "progression"})
    path = directory / "progression.parquet"
    frame.to_parquet(path, index=False)
    return path


def mixed(directory: Path, rows: int = 600) -> Path:
    """Categorical, boolean, datetime and nullable columns, free text, and two targets:
    `renewed` (classification) and `spend` (regression)."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "customer": rng.integers(10_000, 99_999, rows),
            "plan": rng.choice(["basic", "plus", "team"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "member": rng.choice([True, False], rows),
            "signed_up": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), "D")
            ).strftime("%Y-%m-%d"),
            "visits": rng.poisson(12, rows).astype(float),
            "comment": [f"customer said {rng.integers(10**9)} things" for _ in range(rows)],
        }
    )
    # Yearly spend follows the plan, the visits and membership, with noise: a regression
    # target a model can learn (and a numeric feature for the classification target).
    plan_price = frame["plan"].map({"basic": 40.0, "plus": 90.0, "team": 150.0})
    spend = plan_price + 6 * frame["visits"] + 25 * frame["member"] + rng.normal(0, 15, rows)
    frame["spend"] = spend.clip(lower=0).round(2)
    score = frame["visits"] / 12 + (frame["plan"] == "team") + frame["member"] * 0.5
    frame["renewed"] = np.where(score + rng.normal(0, 0.4, rows) > 1.6, "yes", "no")
    frame.loc[rng.random(rows) < 0.1, "visits"] = np.nan
    frame.loc[rng.random(rows) < 0.08, "region"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "renewed"] = np.nan
    frame = frame.drop_duplicates(subset="customer")
    path = directory / "renewals.csv"
    frame.to_csv(path, index=False)
    return path
