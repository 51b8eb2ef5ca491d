# Template file (copier-mlops): `copier update` merges new versions into it.
"""PyTorch behind scikit-learn's estimator API: `TorchClassifier` and `TorchRegressor`.

The pipeline trains, scores, saves and loads them exactly like scikit-learn models: they
are the last step of the saved pipeline, after the data contract's preprocessing, so they
receive finite numbers (a numpy array, or a frame of numbers). Each estimator
- standardises its inputs itself (mean and scale of the first data it is fitted on), and
  the regressor its targets too (its predictions come back in the target's units);
- picks the device at run time from the `device` setting (`<PACKAGE>_DEVICE`):
  "auto" takes CUDA when a GPU is visible and the CPU otherwise, and logs the choice;
- trains with deterministic algorithms and seeded generators, in float64 on the CPU (the
  golden scores reproduce exactly) and with mixed precision (torch.autocast) on CUDA;
- trains data-parallel across the processes torchrun starts (distributed.py);
- pickles as plain data (hyper-parameters, numpy arrays), so a model trained on a GPU
  loads on a CPU-only host and joblib saves it like any other model.
What both share is `TorchEstimator` (torch_estimator.py); the device and determinism
helpers are in torch_device.py.
"""

import sys
from typing import Self

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from torch.nn import functional

from .torch_estimator import TorchEstimator

# Saved models name this module by a stable alias instead of the package, so a baseline
# recorded in one project (the template ships one) loads in any other.
PICKLE_MODULE = "mlops_torch_model"
sys.modules.setdefault(PICKLE_MODULE, sys.modules[__name__])


class TorchClassifier(ClassifierMixin, TorchEstimator):
    """A classifier: one output (logit) per class, cross-entropy loss; `predict_proba`,
    `predict` and `classes_` as in scikit-learn."""

    def fit(self, X, y) -> Self:  # noqa: N803 - scikit-learn's name
        """Train from scratch for `epochs` passes over the data."""
        features, labels = self._training_input(X, y, first=True)
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(f"fit needs at least two classes, got only {self.classes_.tolist()}")
        self._start(features)
        self._train(features, labels, self.epochs)
        return self

    def partial_fit(self, X, y, classes=None) -> Self:  # noqa: N803
        """Train one pass over this batch; the first call fixes the classes and the scaling."""
        fitted = hasattr(self, "network_")
        features, labels = self._training_input(X, y, first=not fitted)
        if not fitted:
            if classes is None:
                raise ValueError(
                    "the first call to partial_fit needs classes=[...]: every label the model "
                    "will ever see, since later batches may lack some"
                )
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(
                    f"partial_fit needs at least two classes, got only {self.classes_.tolist()}"
                )
            self._start(features)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes {np.unique(classes).tolist()} differ from those of the first call "
                f"{self.classes_.tolist()}"
            )
        unknown = np.setdiff1d(labels, self.classes_)
        if unknown.size:
            raise ValueError(
                f"labels {unknown.tolist()} are not among the classes {self.classes_.tolist()}"
            )
        self._train(features, labels, 1)
        return self

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _target_tensor(self, targets: np.ndarray, device: torch.device) -> torch.Tensor:
        return torch.as_tensor(np.searchsorted(self.classes_, targets), device=device)

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(outputs, targets, reduction="sum")

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        """Class probabilities, one row per record, columns in the order of `classes_`."""
        probabilities = torch.softmax(torch.from_numpy(self._outputs(X)), dim=1).numpy()
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TorchRegressor(RegressorMixin, TorchEstimator):
    """A regressor: one output, mean squared error on standardised targets (mean and scale
    of the first targets fitted), so the learning rate suits any unit; `predict` returns
    values in the target's own units."""

    def fit(self, X, y) -> Self:  # noqa: N803 - scikit-learn's name
        """Train from scratch for `epochs` passes over the data."""
        features, targets = self._training_input(X, y, first=True)
        targets = self._target_values(targets)
        self._start(features)
        self._start_targets(targets)
        self._train(features, targets, self.epochs)
        return self

    def partial_fit(self, X, y) -> Self:  # noqa: N803
        """Train one pass over this batch; the first call fixes the scaling."""
        fitted = hasattr(self, "network_")
        features, targets = self._training_input(X, y, first=not fitted)
        targets = self._target_values(targets)
        if not fitted:
            self._start(features)
            self._start_targets(targets)
        self._train(features, targets, 1)
        return self

    @staticmethod
    def _target_values(targets: np.ndarray) -> np.ndarray:
        try:
            values = targets.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"regression targets must be numbers: {error}") from error
        if not np.isfinite(values).all():
            raise ValueError("regression targets contain NaN or infinite values")
        return values

    def _start_targets(self, targets: np.ndarray) -> None:
        self.target_mean_ = float(targets.mean())
        scale = float(targets.std())
        self.target_scale_ = scale if scale > 0 else 1.0

    def _n_outputs(self) -> int:
        return 1

    def _target_tensor(self, targets: np.ndarray, device: torch.device) -> torch.Tensor:
        standardised = (targets - self.target_mean_) / self.target_scale_
        return torch.as_tensor(standardised, dtype=self._dtype(device), device=device)

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return functional.mse_loss(outputs[:, 0], targets, reduction="sum")

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Predicted values in the target's units, one per record."""
        return self._outputs(X)[:, 0] * self.target_scale_ + self.target_mean_


# The stable alias pickle records for the classes (see PICKLE_MODULE).
for _estimator in (TorchEstimator, TorchClassifier, TorchRegressor):
    _estimator.__module__ = PICKLE_MODULE
