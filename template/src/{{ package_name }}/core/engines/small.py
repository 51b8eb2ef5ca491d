# Template file (copier-mlops): `copier update` merges new versions into it.
"""The small-data engine: every step works on a pandas frame in memory.

The task, the columns and their preprocessing come from the data contract (schema.py).
"""

import pandas as pd
from sklearn.model_selection import train_test_split

from ...features import build_features
from ...model import build_model
from ...schema import CONTRACT
from ..config import Settings
from ..log import step
from .common import (
    Model,
    RunResult,
    check_classes,
    model_outputs,
    predict,
    scores,
    with_preprocessing,
)


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split, stratified by class for classification: the same data and
    seed give the same split."""
    ordered = frame.sort_values(CONTRACT.id_column, kind="stable").reset_index(drop=True)
    stratify = ordered[CONTRACT.target] if CONTRACT.is_classification else None
    train_frame, test_frame = train_test_split(
        ordered, test_size=test_size, random_state=seed, stratify=stratify
    )
    return train_frame.reset_index(drop=True), test_frame.reset_index(drop=True)


def train(frame: pd.DataFrame, settings: Settings) -> Model:
    with step("train", rows=len(frame)):
        check_classes(frame[CONTRACT.target].unique())
        inputs = build_features(frame)
        model = with_preprocessing(
            build_model(seed=settings.seed, **settings.model.model_dump()),
            CONTRACT.preprocessor(list(inputs.columns)),
        )
        model.fit(inputs, CONTRACT.target_values(frame[CONTRACT.target]))
    return model


def evaluate(model: Model, frame: pd.DataFrame) -> dict[str, float]:
    """Held-out scores of the task (see `scores`)."""
    with step("evaluate", rows=len(frame)):
        outputs = model_outputs(model, build_features(frame))
        classes = model.classes_ if CONTRACT.is_classification else None
        return scores(CONTRACT.target_values(frame[CONTRACT.target]), outputs, classes)


def run(frame: pd.DataFrame, settings: Settings) -> RunResult:
    """Train on the training split, score the held-out split, predict every record."""
    train_frame, test_frame = split(frame, settings.test_size, settings.seed)
    model = train(train_frame, settings)
    return RunResult(
        model=model,
        metrics=evaluate(model, test_frame),
        predictions=predict(
            model, frame.sort_values(CONTRACT.id_column, kind="stable").reset_index(drop=True)
        ),
    )
