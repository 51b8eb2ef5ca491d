# Template file (copier-mlops): `copier update` merges new versions into it.
"""What every data engine shares: the trained model's interface, the scores of each
task, the predictions frame and the model file."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from ...features import build_features
from ...schema import CONTRACT
from ..data import DataError
from ..log import step


class Model(Protocol):
    """What the pipeline needs of a trained model: the scikit-learn pipeline of the
    contract's preprocessing and the estimator `build_model` returns (see model.py)."""

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


@dataclass
class RunResult:
    model: Model
    metrics: dict[str, float]
    predictions: pd.DataFrame


def with_preprocessing(estimator: Any, prepare: Any) -> Pipeline:
    """The saved model: the contract's preprocessing step in front of the estimator."""
    return Pipeline([("prepare", prepare), ("model", estimator)])


def check_classes(seen: Iterable[str]) -> None:
    """Stop a training set that lacks a class the contract declares (classification)."""
    if not CONTRACT.is_classification:
        return
    missing = sorted(set(CONTRACT.classes) - {str(label) for label in seen})
    if missing:
        raise DataError(
            f"the training data has no record of class {', '.join(map(repr, missing))}, "
            f"which schema.py declares for {CONTRACT.target!r}: add such records, or remove "
            "the class from `classes` in schema.py (then `make golden-update`)"
        )


def scores(truth: np.ndarray, outputs: np.ndarray, classes: np.ndarray | None) -> dict[str, float]:
    """Held-out scores of one task. Classification: `outputs` are class probabilities in
    the order of `classes`; log loss is optimised, ROC AUC is added for two classes.
    Regression: `outputs` are predicted values; RMSE is optimised."""
    if classes is None:
        return {
            "rmse": float(np.sqrt(mean_squared_error(truth, outputs))),
            "mae": float(mean_absolute_error(truth, outputs)),
            "r2": float(r2_score(truth, outputs)),
        }
    predicted = classes[np.argmax(outputs, axis=1)]
    result = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
        "log_loss": float(log_loss(truth, outputs, labels=list(classes))),
    }
    if len(classes) == 2:
        result["roc_auc"] = float(roc_auc_score(truth == classes[1], outputs[:, 1]))
    return result


def model_outputs(model: Model, inputs: pd.DataFrame) -> np.ndarray:
    """Class probabilities (classification) or predicted values (regression)."""
    if CONTRACT.is_classification:
        return model.predict_proba(inputs)
    return np.asarray(model.predict(inputs), dtype="float64")


def predictions_frame(model: Model, outputs: np.ndarray, ids: np.ndarray | None) -> pd.DataFrame:
    """One row per record: the predicted class and every class probability, or the value."""
    if CONTRACT.is_classification:
        result = pd.DataFrame(outputs, columns=[f"probability_{label}" for label in model.classes_])
        result.insert(0, "predicted", model.classes_[np.argmax(outputs, axis=1)])
    else:
        result = pd.DataFrame({"predicted": outputs})
    if ids is not None:
        result.insert(0, CONTRACT.id_column, ids)
    return result


def predict(model: Model, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions for every input record, in order (see `predictions_frame`)."""
    with step("predict", rows=len(frame)):
        ids = frame[CONTRACT.id_column].to_numpy() if CONTRACT.id_column in frame else None
        return predictions_frame(model, model_outputs(model, build_features(frame)), ids)


def save_model(model: Model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load_model(path: Path) -> Model:
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {path}: run `make train` first")
    return joblib.load(path)
