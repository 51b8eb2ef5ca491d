# Template file (copier-mlops): `copier update` merges new versions into it.
"""The monitoring thresholds of `monitoring/thresholds.yml`, read and validated."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

# Bounds that mean something for one task only; thresholds.yml leaves out the other's.
CLASSIFICATION = {"task": "classification"}
REGRESSION = {"task": "regression"}


class Thresholds(BaseModel):
    """Every bound the runtime checks and the alert rules use (see thresholds.yml).

    Each has its default here, so a thresholds.yml written before a bound existed keeps
    loading. The copier-mlops template copies these defaults and bounds into its
    copy-time check of a team preset's `thresholds` answer, so both agree.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_window_minutes: int = Field(5, ge=1)
    for_minutes: int = Field(5, ge=0)
    max_error_rate: float = Field(0.05, gt=0, lt=1)
    max_p95_latency_seconds: float = Field(0.5, gt=0)
    max_rejected_share: float = Field(0.1, gt=0, lt=1)
    # The highest class probability of a prediction.
    min_confidence: float = Field(0.6, gt=0, lt=1, json_schema_extra=CLASSIFICATION)
    max_low_confidence_share: float = Field(0.2, gt=0, lt=1, json_schema_extra=CLASSIFICATION)
    # Predictions outside the target's golden (or declared) range.
    max_out_of_range_share: float = Field(0.05, gt=0, lt=1, json_schema_extra=REGRESSION)
    max_drift_psi: float = Field(0.25, gt=0)
    drift_window_rows: int = Field(500, ge=50)
    max_minutes_without_predictions: int = Field(60, ge=1)
    service_down_minutes: int = Field(2, ge=1)

    @classmethod
    def load(cls, path: Path) -> "Thresholds":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the monitoring thresholds file is missing")
        return cls.model_validate(yaml.safe_load(path.read_text()))
