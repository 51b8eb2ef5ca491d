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
"""

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel

from . import distributed
from .log import logger

# Saved models name this module by a stable alias instead of the package, so a baseline
# recorded in one project (the template ships one) loads in any other.
PICKLE_MODULE = "mlops_torch_model"
sys.modules.setdefault(PICKLE_MODULE, sys.modules[__name__])
# Rows scored per forward pass, so a large batch does not need one huge tensor.
PREDICT_CHUNK = 65_536


def device_variable() -> str:
    """The environment variable that sets the device, such as MY_PROJECT_DEVICE."""
    # Imported here: config.py imports the model's parameters, which import this module.
    from .config import Settings

    return f"{Settings.model_config['env_prefix']}DEVICE"


def resolve_device(requested: str) -> torch.device:
    """The device to run on: "cpu", "cuda", or "auto" (CUDA when available, else the CPU)."""
    index = distributed.world().local_rank
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "cuda":
        if not torch.cuda.is_available():
            variable = device_variable()
            raise RuntimeError(
                f"the device setting asks for CUDA ({variable}=cuda) but PyTorch sees no "
                "GPU: check the driver (nvidia-smi) and that the installed torch is a CUDA build, "
                f"or set {variable}=auto to fall back to the CPU"
            )
        return torch.device("cuda", index)
    if requested == "auto":
        return torch.device("cuda", index) if torch.cuda.is_available() else torch.device("cpu")
    raise ValueError(f'unknown device "{requested}": use "auto", "cpu" or "cuda"')


def _amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed precision on CUDA: bfloat16 where the GPU has it (Ampere and later), else float16."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


@contextmanager
def deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels inside the block; the process-wide setting is restored after."""
    previous = torch.are_deterministic_algorithms_enabled()
    if device.type == "cuda":
        # cuBLAS reproduces its results only with a fixed workspace (PyTorch reproducibility).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


@contextmanager
def single_threaded(device: torch.device) -> Iterator[None]:
    """One CPU thread while training: mini-batches are too small to share between threads
    (which only wait on each other, worst on a busy machine), and the results then do not
    depend on the machine's core count."""
    previous = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TorchEstimator(BaseEstimator):
    """Training, prediction, devices and pickling shared by the classifier and the regressor.

    A scikit-learn estimator (`get_params`, `clone` and pipelines work as usual) over a
    network built as `network(n_features, n_outputs, **network_params)`, which maps a
    (rows, features) tensor to (rows, n_outputs) outputs; a subclass says how many outputs,
    how targets become tensors and which loss to minimise.
    """

    def __init__(
        self,
        network: type[nn.Module],
        network_params: dict[str, Any] | None = None,
        *,
        epochs: int = 50,
        learning_rate: float = 0.01,
        batch_size: int = 32,
        weight_decay: float = 0.0,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        if epochs < 1 or batch_size < 1:
            raise ValueError(f"epochs ({epochs}) and batch_size ({batch_size}) must be at least 1")
        if learning_rate <= 0 or weight_decay < 0:
            raise ValueError(
                f"learning_rate ({learning_rate}) must be positive and weight_decay "
                f"({weight_decay}) not negative"
            )
        self.network = network
        self.network_params = dict(network_params or {})
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        # None: the `device` setting decides when the model runs, not when it is built.
        self.device = device

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.network.__name__}, {self.network_params}, "
            f"epochs={self.epochs}, learning_rate={self.learning_rate}, "
            f"batch_size={self.batch_size}, weight_decay={self.weight_decay}, seed={self.seed})"
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    # -- what a subclass decides ---------------------------------------------------------

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _target_tensor(self, targets: np.ndarray, device: torch.device) -> torch.Tensor:
        raise NotImplementedError

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss summed (not averaged) over the rows."""
        raise NotImplementedError

    # -- training ------------------------------------------------------------------------

    def _start(self, features: np.ndarray) -> None:
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.epochs_trained_ = 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.network_ = self._build_network()
        self._optimizer = None

    def _build_network(self) -> nn.Module:
        return self.network(self.n_features_in_, self._n_outputs(), **self.network_params)

    def _train(self, features: np.ndarray, targets: np.ndarray, epochs: int) -> None:
        device = self._device()
        network = self._place(device)
        inputs = torch.as_tensor(
            self._standardise(features), dtype=self._dtype(device), device=device
        )
        expected = self._target_tensor(targets, device)
        world = distributed.world()
        if world.size > 1:
            distributed.join(device)
            network = DistributedDataParallel(
                network, device_ids=[device.index] if device.type == "cuda" else None
            )
        if self._optimizer is None:
            self._optimizer = torch.optim.AdamW(
                self.network_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
        amp_dtype = _amp_dtype(device)
        # float16 needs loss scaling against underflow; bfloat16 does not.
        scaler = torch.amp.GradScaler(
            device.type, enabled=device.type == "cuda" and amp_dtype == torch.float16
        )
        cuda_devices = [device.index] if device.type == "cuda" else []
        with (
            deterministic(device),
            single_threaded(device),
            torch.random.fork_rng(devices=cuda_devices),
        ):
            network.train()
            for _ in range(epochs):
                # Same seed on every process: each draws the same order and takes its share.
                torch.manual_seed(self.seed + self.epochs_trained_)
                generator = torch.Generator().manual_seed(self.seed + self.epochs_trained_)
                order = torch.randperm(len(inputs), generator=generator)
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    rows = distributed.shard(batch).to(device)
                    with torch.autocast(
                        device.type, dtype=amp_dtype, enabled=device.type == "cuda"
                    ):
                        outputs = network(inputs[rows])
                    # Summed and divided by the whole batch, so shares of any size add up
                    # to the mean over the batch (DDP averages gradients over processes).
                    # The loss is taken in full precision, outside autocast.
                    loss = self._loss(outputs.to(inputs.dtype), expected[rows])
                    loss = loss * world.size / len(batch)
                    self._optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(self._optimizer)
                    scaler.update()
                self.epochs_trained_ += 1
        self.network_.eval()

    # -- prediction ----------------------------------------------------------------------

    def _outputs(self, X) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        """The network's outputs (float64), one row per record, scored chunk by chunk."""
        if not hasattr(self, "network_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        features = self._features(X)
        self._check_columns(X, features)
        device = self._device()
        network = self._place(device)
        network.eval()
        chunks = []
        with torch.inference_mode(), deterministic(device):
            for start in range(0, len(features), PREDICT_CHUNK):
                part = self._standardise(features[start : start + PREDICT_CHUNK])
                inputs = torch.as_tensor(part, dtype=self._dtype(device), device=device)
                with torch.autocast(
                    device.type, dtype=_amp_dtype(device), enabled=device.type == "cuda"
                ):
                    outputs = network(inputs)
                chunks.append(outputs.double().cpu().numpy())
        return np.concatenate(chunks)

    # -- input checks ----------------------------------------------------------------------

    def _features(self, X) -> np.ndarray:  # noqa: N803
        """The inputs as a float64 (rows, columns) array: a numpy array or a numeric frame."""
        try:
            features = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"features must be numeric: {error}") from error
        if features.ndim != 2:
            raise ValueError(f"features must be a 2-D table (rows, columns), not {features.ndim}-D")
        if len(features) == 0:
            raise ValueError("features have no rows")
        if not np.isfinite(features).all():
            raise ValueError(
                "features contain NaN or infinite values: impute them before the model "
                "(the pipeline's prepare step does)"
            )
        # Row-major, whatever the source: a frame's column-major copy rounds differently.
        return np.ascontiguousarray(features)

    def _training_input(self, X, y, *, first: bool) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        features = self._features(X)
        targets = np.asarray(y)
        if targets.ndim != 1 or len(targets) != len(features):
            raise ValueError(
                f"y must hold one target per row: {len(features)} rows, y shaped {targets.shape}"
            )
        if first:
            self.n_features_in_ = features.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            if hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        else:
            self._check_columns(X, features)
        return features, targets

    def _check_columns(self, X, features: np.ndarray) -> None:  # noqa: N803
        """The same number of columns as in training and, when both carry names, the same
        names in the same order (an array has no names: only its width is checked)."""
        if features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"the model was trained on {self.n_features_in_} features, got {features.shape[1]}"
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None and hasattr(X, "columns") and list(X.columns) != list(names):
            raise ValueError(
                f"feature columns {list(X.columns)} differ from those the model was trained on "
                f"{list(names)}"
            )

    # -- devices and precision -------------------------------------------------------------

    def _device(self) -> torch.device:
        # Imported here: config.py imports the model's parameters, which import this module.
        from .config import get_settings

        requested = self.device or get_settings().device
        device = resolve_device(requested)
        if getattr(self, "_logged_device", None) != (requested, device):
            logger.info(
                "torch_device",
                device=str(device),
                requested=requested,
                cuda_available=torch.cuda.is_available(),
            )
            self._logged_device = (requested, device)
        return device

    @staticmethod
    def _dtype(device: torch.device) -> torch.dtype:
        return torch.float64 if device.type == "cpu" else torch.float32

    def _place(self, device: torch.device) -> nn.Module:
        return self.network_.to(device=device, dtype=self._dtype(device))

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean_) / self.scale_

    # -- pickling as plain data ------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = {
            name: value
            for name, value in self.__dict__.items()
            if name not in {"network", "network_", "_optimizer", "_logged_device"}
        }
        state["network"] = _reference(self.network)
        if hasattr(self, "network_"):
            state["weights"] = {
                name: tensor.detach().cpu().numpy()
                for name, tensor in self.network_.state_dict().items()
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        weights = state.pop("weights", None)
        self.__dict__.update(state)
        self.network = _resolve(state["network"])
        self._optimizer = None
        if weights is not None:
            self.network_ = self._build_network()
            # assign=True keeps the stored precision (float64 from a CPU run).
            self.network_.load_state_dict(
                {name: torch.from_numpy(array) for name, array in weights.items()}, assign=True
            )
            self.network_.eval()


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


def _reference(network: type[nn.Module]) -> str:
    """Where the network class lives, relative to the project's package (this module is in
    its core/) when it is one of its modules: ".network:MLP", as every project saves it."""
    package = (__package__ or "").rpartition(".")[0]
    module = network.__module__
    if package and module.startswith(package + "."):
        module = module[len(package) :]
    return f"{module}:{network.__qualname__}"


def _resolve(reference: str) -> type[nn.Module]:
    module, _, name = reference.partition(":")
    package = (__package__ or "").rpartition(".")[0]
    return getattr(importlib.import_module(module, package or None), name)
