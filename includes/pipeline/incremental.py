# The held-out rows and the training order come from a multiplicative hash of the id,
# in integer arithmetic that every engine evaluates identically: no engine's own hash
# function, nothing that depends on partitions or row order. Ids lie in [0, 2**31).
MODULUS = 2**31
MULTIPLIER = 2654435761
HELD_OUT = "_held_out"
ORDER = "_order"
RECORD = "_record"
# Rows per batch when scoring: the order of the scored rows is fixed, their grouping is not.
EVALUATION_BATCH_ROWS = 20_000


{% include 'includes/pipeline/common.py' %}

def id_hash(salt: int) -> nw.Expr:
    """A seeded permutation of the ids in [0, 2**31), the same on every engine."""
    return ((nw.col(CONTRACT.id_column) + salt) % MODULUS * MULTIPLIER) % MODULUS


def mark_held_out(frame: FrameT, test_size: float, seed: int) -> FrameT:
    """Add the held-out flag: a seeded share `test_size` of the ids, chosen by hash."""
    threshold = round(test_size * MODULUS)
    return (
        nw.from_native(frame).with_columns((id_hash(seed) < threshold).alias(HELD_OUT)).to_native()
    )


def rows(frame: FrameT, *, held_out: bool) -> FrameT:
    """The training (held_out=False) or held-out rows of a frame marked by `mark_held_out`."""
    return nw.from_native(frame).filter(nw.col(HELD_OUT) == held_out).drop(HELD_OUT).to_native()


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split by hash of the id: the same rows on every engine, in any order."""
    marked = mark_held_out(frame.sort_values(CONTRACT.id_column, kind="stable"), test_size, seed)
    train_frame, test_frame = (rows(marked, held_out=flag) for flag in (False, True))
    return train_frame.reset_index(drop=True), test_frame.reset_index(drop=True)


def fixed_size(frames: Iterable[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """Regroup consecutive frames into batches of exactly `size` rows (the last may be short)."""
    pending = pd.DataFrame()
    for frame in frames:
        pending = pd.concat([pending, frame], ignore_index=True) if len(pending) else frame
        start = 0
        while len(pending) - start >= size:
            yield pending.iloc[start : start + size].reset_index(drop=True)
            start += size
        pending = pending.iloc[start:]
    if len(pending):
        yield pending.reset_index(drop=True)


def as_engine_frame(frame: Any) -> Any:
    return from_pandas(frame) if isinstance(frame, pd.DataFrame) else frame


def train(frame: Any, settings: Settings) -> Model:
    """Learn from fixed-size batches, in the order of a seeded hash of the id, epoch by epoch.

    The contract's preprocessing step is fitted on the first batch (its imputation values
    and the one-hot layout of the declared levels), then every batch goes through it.
    """
    ident, target = CONTRACT.id_column, CONTRACT.target
    keyed = nw.from_native(as_engine_frame(frame)).with_columns(
        id_hash(settings.seed + 1).alias(ORDER)
    )
    inputs = build_features(keyed.to_native(), keep=(ORDER, ident, target))
    estimator = build_model(seed=settings.seed, **settings.model.model_dump())
    prepare, seen = None, set()
    size, epochs = settings.engine.batch_size, settings.engine.epochs
    with (
        step("train", batch_size=size, epochs=epochs),
        ordered_batches(inputs, [ORDER, ident]) as batches,
    ):
        for epoch in range(epochs):
            previous = None
            for batch in fixed_size(batches(), size):
                if epoch == 0:
                    previous = check_unique_ids(batch[ident], previous)
                labels = CONTRACT.target_values(batch.pop(target))
                features = batch.drop(columns=[ORDER, ident])
                if prepare is None:
                    prepare = CONTRACT.preprocessor(list(features.columns)).fit(features)
                if CONTRACT.is_classification:
                    seen.update(labels.tolist())
                    estimator.partial_fit(
                        prepare.transform(features), labels, classes=sorted(CONTRACT.classes)
                    )
                else:
                    estimator.partial_fit(prepare.transform(features), labels)
            if epoch == 0:
                check_classes(seen)
    if prepare is None:
        raise DataError("no training rows: lower test_size or add data")
    return with_preprocessing(estimator, prepare)


class HeldOutScores:
    """The held-out scores accumulated batch by batch, with the definitions of `scores`.

    Classification keeps the confusion matrix and the summed log loss (and, for two
    classes, the positive-class probabilities that ROC AUC ranks); regression keeps sums
    of errors and of the target. Memory stays bounded by one batch apart from those.
    """

    def __init__(self, classes: np.ndarray | None) -> None:
        self.classes = None if classes is None else np.asarray(classes)
        self.rows = 0
        if self.classes is not None:
            self.confusion = np.zeros((len(self.classes), len(self.classes)), dtype="int64")
            self.log_loss_total = 0.0
            self.positive: list[np.ndarray] = []
            self.truth: list[np.ndarray] = []
        else:
            self.sums = np.zeros(4)  # squared error, absolute error, target, target squared

    def add(self, truth: np.ndarray, outputs: np.ndarray) -> None:
        self.rows += len(truth)
        if self.classes is None:
            errors = outputs - truth
            self.sums += [np.sum(errors**2), np.sum(np.abs(errors)), truth.sum(), np.sum(truth**2)]
            return
        index = np.searchsorted(self.classes, truth)
        np.add.at(self.confusion, (index, outputs.argmax(axis=1)), 1)
        eps = np.finfo(outputs.dtype).eps
        likelihood = np.clip(outputs[np.arange(len(index)), index], eps, 1 - eps)
        self.log_loss_total -= float(np.log(likelihood).sum())
        if len(self.classes) == 2:
            self.positive.append(outputs[:, 1].astype("float32"))
            self.truth.append(index == 1)

    def scores(self) -> dict[str, float]:
        if self.rows == 0:
            raise DataError("no held-out rows to score: raise test_size or add data")
        if self.classes is None:
            squared, absolute, total, total_squared = self.sums
            variance = total_squared - total**2 / self.rows
            return {
                "rmse": float(np.sqrt(squared / self.rows)),
                "mae": float(absolute / self.rows),
                "r2": float(1 - squared / variance) if variance > 0 else 0.0,
            }
        correct = np.diag(self.confusion)
        actual, predicted = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        seen = (actual + predicted) > 0
        f1 = np.divide(2 * correct, actual + predicted, out=np.zeros(len(correct)), where=seen)
        result = {
            "accuracy": float(correct.sum() / self.rows),
            "f1_macro": float(f1[seen].mean()),
            "log_loss": self.log_loss_total / self.rows,
        }
        if len(self.classes) == 2:
            result["roc_auc"] = float(
                roc_auc_score(np.concatenate(self.truth), np.concatenate(self.positive))
            )
        return result


def evaluate(model: Model, frame: Any) -> dict[str, float]:
    """Held-out scores, batch by batch in the order of the ids (see `HeldOutScores`)."""
    ident, target = CONTRACT.id_column, CONTRACT.target
    inputs = build_features(as_engine_frame(frame), keep=(ident, target))
    held_out = HeldOutScores(model.classes_ if CONTRACT.is_classification else None)
    previous = None
    with step("evaluate"), ordered_batches(inputs, [ident]) as batches:
        for batch in fixed_size(batches(), EVALUATION_BATCH_ROWS):
            previous = check_unique_ids(batch[ident], previous)
            truth = CONTRACT.target_values(batch.pop(target))
            held_out.add(truth, model_outputs(model, batch.drop(columns=[ident])))
    return held_out.scores()


def repeated_ids(frame: Any) -> list:
    """Ids of the records that repeat, in every column but the id, a record with a smaller
    id. Out of core: the rows are sorted by a hash of those columns (then the id), so equal
    records are neighbours, and each run of equal hashes is compared in full."""
    columns, ident = record_columns(), CONTRACT.id_column
    found: list = []
    pending = pd.DataFrame()
    with step("duplicates"), ordered_batches(with_record_hash(frame), [RECORD, ident]) as batches:
        for batch in batches():
            batch = pd.concat([pending, batch], ignore_index=True) if len(pending) else batch
            if batch.empty:
                continue
            # The last run of equal hashes may go on in the next batch: compare it then.
            open_run = batch[RECORD] == batch[RECORD].iloc[-1]
            done, pending = batch[~open_run], batch[open_run]
            found += done.loc[done.duplicated(subset=columns), ident].tolist()
    if len(pending):
        found += pending.loc[pending.duplicated(subset=columns), ident].tolist()
    return found


def without_duplicates(frame: Any) -> Any:
    """The frame under the contract's duplicates policy (see `data.check_duplicates`)."""
    found = repeated_ids(frame)
    if not found:
        return frame
    apply_duplicates_policy(found)
    return nw.from_native(frame).filter(~nw.col(CONTRACT.id_column).is_in(found)).to_native()


def fit(frame: Any, settings: Settings) -> tuple[Model, dict[str, float]]:
    """Train on the training rows of a validated engine frame and score the held-out rows,
    once records repeated under another id are refused or dropped."""
    frame = without_duplicates(frame)
    marked = mark_held_out(frame, settings.test_size, settings.seed)
    model = train(rows(marked, held_out=False), settings)
    return model, evaluate(model, rows(marked, held_out=True))


def fit_dataset(path: Path, settings: Settings) -> tuple[Model, dict[str, float], dict]:
    """Validate, train and score on a CSV or parquet dataset of any size.

    Returns the model, its held-out scores and the description of the input data.
    """
    with engine(settings):
        frame = scan(path, settings)
        model, metrics = fit(frame, settings)
        return model, metrics, describe_input(frame)


def run(frame: pd.DataFrame, settings: Settings) -> RunResult:
    """Train on the training split, score the held-out split, predict every record."""
    ordered = frame.sort_values(CONTRACT.id_column, kind="stable").reset_index(drop=True)
    with engine(settings):
        model, metrics = fit(from_pandas(ordered), settings)
    return RunResult(model=model, metrics=metrics, predictions=predict(model, ordered))
