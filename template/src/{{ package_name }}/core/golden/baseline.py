# Template file (copier-mlops): `copier update` merges new versions into it.
"""The stored baseline (tests/golden/baseline/) and the tolerances of the check
(tests/golden/tolerances.yml)."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...schema import CONTRACT
from ..data import DataError, project_path
from ..pipeline import RunResult, save_model

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
FINGERPRINT_FILE = "fingerprint.json"
MODEL_FILE = "model.joblib"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricTolerances(_Section):
    absolute: float = Field(1e-6, ge=0, description="Largest change of any metric.")


class PredictionTolerances(_Section):
    probability_absolute: float = Field(
        1e-6, ge=0, description="Largest change of any class probability (classification)."
    )
    label_changes: int = Field(
        0, ge=0, description="Golden records that may change their predicted class."
    )
    value_absolute: float = Field(
        1e-6, ge=0, description="Largest change of any predicted value (regression)."
    )


class Tolerances(_Section):
    """tests/golden/tolerances.yml: how far results may move before the check fails.
    Every key has a default, so a file that predates a key keeps working."""

    metrics: MetricTolerances = MetricTolerances()
    predictions: PredictionTolerances = PredictionTolerances()

    @classmethod
    def load(cls, path: Path) -> "Tolerances":
        """The tolerances in `path`; the defaults where the file is gone."""
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError as error:
            raise DataError(f"{project_path(path)} is not valid YAML: {error}") from None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}"
                for problem in error.errors()
            )
            raise DataError(f"{project_path(path)}: {problems}") from None


@dataclass
class Baseline:
    metrics: dict[str, float]
    predictions: pd.DataFrame
    fingerprint: dict

    @classmethod
    def read(cls, directory: Path) -> "Baseline":
        missing = [
            name
            for name in (METRICS_FILE, PREDICTIONS_FILE, FINGERPRINT_FILE)
            if not (directory / name).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"the golden baseline in {directory} lacks {', '.join(missing)}: "
                "record one with `make golden-update`"
            )
        # Class labels stay text, even where they look like numbers.
        predictions = pd.read_csv(
            directory / PREDICTIONS_FILE,
            dtype={"predicted": str} if CONTRACT.is_classification else None,
        )
        lacking = sorted({CONTRACT.id_column, "predicted"} - set(predictions.columns))
        if lacking:
            raise DataError(
                f"{project_path(directory / PREDICTIONS_FILE)} has no column "
                f"{', '.join(lacking)}: it belongs to another data contract; record a "
                "baseline for this one with `make golden-update`"
            )
        return cls(
            metrics=json.loads((directory / METRICS_FILE).read_text()),
            predictions=predictions,
            fingerprint=json.loads((directory / FINGERPRINT_FILE).read_text()),
        )

    def write(self, directory: Path, result: RunResult) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2) + "\n")
        (directory / FINGERPRINT_FILE).write_text(json.dumps(self.fingerprint, indent=2) + "\n")
        # Full precision (the shortest text that reads back as the same number): the check
        # compares with the numbers the model gave, not with rounded ones.
        self.predictions.to_csv(directory / PREDICTIONS_FILE, index=False)
        save_model(result.model, directory / MODEL_FILE)
