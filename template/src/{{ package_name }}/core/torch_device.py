# Template file (copier-mlops): `copier update` merges new versions into it.
"""Where a PyTorch estimator runs, and how reproducibly: the device and determinism.

The device comes from the `device` setting (`<PACKAGE>_DEVICE`) at run time: "auto"
takes CUDA when a GPU is visible and the CPU otherwise. Training and prediction run with
deterministic kernels, and training on the CPU in one thread, so that the golden scores
reproduce exactly.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from . import distributed


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
