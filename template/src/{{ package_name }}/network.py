# Your file: `copier update` never changes it, and writes it again only if deleted.
"""The network: a multi-layer perceptron over the standardised features.

This file is yours. Any `torch.nn.Module` works whose constructor takes the number of
input features and of outputs first, and whose forward pass maps a (rows, features)
tensor to (rows, outputs): the estimator (torch_model.py) asks for one output per class
(logits) from a classifier and a single one from a regressor. `model.py` passes the
`model.network` section of params.yml as the remaining keyword arguments.
"""

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_sizes: Sequence[int] = (32, 16),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs)
