"""The training pipeline, step by step: split -> features -> train -> evaluate -> predict."""

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from .config import Settings
from .features import build_features
from .log import step
from .model import build_model
from .schema import CLASSES, ID_COLUMN, TARGET


@dataclass
class RunResult:
    model: Pipeline
    metrics: dict[str, float]
    predictions: pd.DataFrame


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded train/test split: the same data and seed give the same split."""
    ordered = frame.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)
    train_frame, test_frame = train_test_split(
        ordered, test_size=test_size, random_state=seed, stratify=ordered[TARGET]
    )
    return train_frame.reset_index(drop=True), test_frame.reset_index(drop=True)


def train(frame: pd.DataFrame, settings: Settings) -> Pipeline:
    with step("train", rows=len(frame)):
        model = build_model(seed=settings.seed, **settings.model.model_dump())
        model.fit(build_features(frame), frame[TARGET])
    return model


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    """Held-out scores; log loss is the optimised metric, the others are for people."""
    with step("evaluate", rows=len(frame)):
        probabilities = model.predict_proba(build_features(frame))
        predicted = model.classes_[np.argmax(probabilities, axis=1)]
        return {
            "accuracy": float(accuracy_score(frame[TARGET], predicted)),
            "f1_macro": float(f1_score(frame[TARGET], predicted, average="macro")),
            "log_loss": float(log_loss(frame[TARGET], probabilities, labels=list(CLASSES))),
        }


def predict(model: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Predicted class and class probabilities, one row per input record."""
    with step("predict", rows=len(frame)):
        probabilities = model.predict_proba(build_features(frame))
        result = pd.DataFrame(
            probabilities, columns=[f"probability_{label}" for label in model.classes_]
        )
        result.insert(0, "predicted", model.classes_[np.argmax(probabilities, axis=1)])
        if ID_COLUMN in frame.columns:
            result.insert(0, ID_COLUMN, frame[ID_COLUMN].to_numpy())
        return result


def run(frame: pd.DataFrame, settings: Settings) -> RunResult:
    """Train on the training split, score the held-out split, predict every record."""
    train_frame, test_frame = split(frame, settings.test_size, settings.seed)
    model = train(train_frame, settings)
    return RunResult(
        model=model,
        metrics=evaluate(model, test_frame),
        predictions=predict(model, frame.sort_values(ID_COLUMN).reset_index(drop=True)),
    )


def save_model(model: Pipeline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load_model(path: Path) -> Pipeline:
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {path}: run `make train` first")
    return joblib.load(path)
