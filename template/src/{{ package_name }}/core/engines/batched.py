# Template file (copier-mlops): `copier update` merges new versions into it.
"""What the out-of-core engines share and compute alike, whatever the engine: the
held-out rows and the training order by a seeded hash of the id, fixed-size batches, and
the held-out scores accumulated batch by batch."""

from collections.abc import Iterable, Iterator

import narwhals as nw
import numpy as np
import pandas as pd
from narwhals.typing import FrameT
from sklearn.metrics import roc_auc_score

from ...schema import CONTRACT
from ..data import DataError

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
