# Template file (copier-mlops): `copier update` merges new versions into it.
"""Experiment tracking with MLflow: parameters, metrics and the model of each training run.

Runs go to a local SQLite store (`mlflow.db`) unless MLFLOW_TRACKING_URI points at a
tracking server. A SQLite store keeps its artifacts in `mlruns/` beside the database, so
a container that may only write its models volume can track there. Browse them with
`make mlflow-ui`.
"""

import os
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from .config import Settings


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: `mlruns/` beside a SQLite store (MLflow
    would use `./mlruns` under the working directory); a server's own default otherwise."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
    return (database.parent / "mlruns").as_uri()


def use_experiment(settings: Settings) -> None:
    """Point MLflow at the tracking store and the project's experiment, creating it."""
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(settings.mlflow_experiment) is None:
        try:
            mlflow.create_experiment(
                settings.mlflow_experiment, artifact_location=artifact_location(tracking_uri)
            )
        except MlflowException:
            # Another training run created it first.
            if mlflow.get_experiment_by_name(settings.mlflow_experiment) is None:
                raise
    mlflow.set_experiment(settings.mlflow_experiment)


def log_training_run(
    settings: Settings, record: dict, model_path: Path, tags: dict[str, str]
) -> str:
    """Record one training run (a reports/history.jsonl record) and return its MLflow run id.

    Held-out metrics, input shape and step durations become MLflow metrics; the value
    ranges of the features are stored as the artifact input_profile.json.
    """
    use_experiment(settings)
    params = settings.params()
    flat_params = {key: value for key, value in params.items() if key != "model"}
    flat_params |= {f"model.{key}": value for key, value in params["model"].items()}
    descriptive = {
        "input_rows": record["input"]["rows"],
        "input_columns": record["input"]["columns"],
        "duration_s": record["duration_s"],
        **{f"step_seconds.{name}": value for name, value in record["step_seconds"].items()},
    }
    with mlflow.start_run(tags={**tags, "optimised_metric": record["optimised_metric"]}) as run:
        mlflow.log_params(flat_params)
        mlflow.log_metrics({**record["metrics"], **descriptive})
        mlflow.log_dict(record["input"], "input_profile.json")
        mlflow.log_artifact(str(model_path), artifact_path="model")
    return run.info.run_id
