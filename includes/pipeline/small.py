"""The training pipeline, step by step: split -> features -> train -> evaluate -> predict.

The data fits in memory, so every step works on a pandas frame.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split

from .config import Settings
from .features import build_features
from .log import step
from .model import build_model
from .schema import CLASSES, ID_COLUMN, TARGET


{% include 'includes/pipeline/common.py' %}

def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded train/test split: the same data and seed give the same split."""
    ordered = frame.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)
    train_frame, test_frame = train_test_split(
        ordered, test_size=test_size, random_state=seed, stratify=ordered[TARGET]
    )
    return train_frame.reset_index(drop=True), test_frame.reset_index(drop=True)


def train(frame: pd.DataFrame, settings: Settings) -> Model:
    with step("train", rows=len(frame)):
        model = build_model(seed=settings.seed, **settings.model.model_dump())
        model.fit(build_features(frame), frame[TARGET])
    return model


def evaluate(model: Model, frame: pd.DataFrame) -> dict[str, float]:
    """Held-out scores; log loss is the optimised metric, the others are for people."""
    with step("evaluate", rows=len(frame)):
        probabilities = model.predict_proba(build_features(frame))
        predicted = model.classes_[np.argmax(probabilities, axis=1)]
        return {
            "accuracy": float(accuracy_score(frame[TARGET], predicted)),
            "f1_macro": float(f1_score(frame[TARGET], predicted, average="macro")),
            "log_loss": float(log_loss(frame[TARGET], probabilities, labels=list(CLASSES))),
        }


def run(frame: pd.DataFrame, settings: Settings) -> RunResult:
    """Train on the training split, score the held-out split, predict every record."""
    train_frame, test_frame = split(frame, settings.test_size, settings.seed)
    model = train(train_frame, settings)
    return RunResult(
        model=model,
        metrics=evaluate(model, test_frame),
        predictions=predict(model, frame.sort_values(ID_COLUMN).reset_index(drop=True)),
    )
