# Template file (copier-mlops): `copier update` merges new versions into it.
"""`TorchEstimator`: training, prediction, input checks and pickling for PyTorch models.

The base of `TorchClassifier` and `TorchRegressor` (torch_model.py), which say how many
outputs the network has, how targets become tensors and which loss to minimise. It trains
in float64 on the CPU and with mixed precision on CUDA, data-parallel across the
processes torchrun starts (distributed.py), on the device torch_device.py picks.
"""

import importlib
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import distributed
from .log import logger
from .torch_device import deterministic, resolve_device, single_threaded

# Rows scored per forward pass, so a large batch does not need one huge tensor.
PREDICT_CHUNK = 65_536


def _amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed precision on CUDA: bfloat16 where the GPU has it (Ampere and later), else float16."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


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
