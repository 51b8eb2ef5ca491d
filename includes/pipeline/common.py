class Model(Protocol):
    """What the pipeline needs of the estimator `build_model` returns (see model.py)."""

    classes_: np.ndarray

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...


@dataclass
class RunResult:
    model: Model
    metrics: dict[str, float]
    predictions: pd.DataFrame


def predict(model: Model, frame: pd.DataFrame) -> pd.DataFrame:
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


def save_model(model: Model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load_model(path: Path) -> Model:
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {path}: run `make train` first")
    return joblib.load(path)
