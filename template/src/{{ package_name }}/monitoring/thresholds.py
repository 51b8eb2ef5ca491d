"""The monitoring thresholds of `monitoring/thresholds.yml`, read and validated."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """Every bound the runtime checks and the alert rules use (see thresholds.yml).

    A bound added after a project was generated has a default here, so an older
    thresholds.yml keeps loading; the bounds of the other task have defaults, too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_window_minutes: int = Field(ge=1)
    for_minutes: int = Field(ge=0)
    max_error_rate: float = Field(gt=0, lt=1)
    max_p95_latency_seconds: float = Field(gt=0)
    max_rejected_share: float = Field(gt=0, lt=1)
    # Classification only (the highest class probability of a prediction).
    min_confidence: float = Field(0.6, gt=0, lt=1)
    max_low_confidence_share: float = Field(0.2, gt=0, lt=1)
    # Regression only: predictions outside the target's golden (or declared) range.
    max_out_of_range_share: float = Field(0.05, gt=0, lt=1)
    max_drift_psi: float = Field(gt=0)
    drift_window_rows: int = Field(ge=50)
    max_minutes_without_predictions: int = Field(ge=1)
    service_down_minutes: int = Field(ge=1)

    @classmethod
    def load(cls, path: Path) -> "Thresholds":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the monitoring thresholds file is missing")
        return cls.model_validate(yaml.safe_load(path.read_text()))
