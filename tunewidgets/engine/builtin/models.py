"""Model builders: an MLP, a small CNN and a small ResNet, all sized from ``HParams``.

A user factory is any callable ``(hparams, data) -> torch.nn.Module``; put it in
``HParams(model=factory)``. Builders are plain functions so that adding one is one function here.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ...hparams import HParams
from .data import Data

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "leaky_relu": nn.LeakyReLU,
}


def build_mlp(hp: HParams, data: Data) -> nn.Module:
    """Flatten, then ``layers`` x (Linear(units), activation, Dropout), then a linear head."""
    n_in = 1
    for d in data.input_shape:
        n_in *= d
    blocks: list[nn.Module] = [nn.Flatten()] if len(data.input_shape) > 1 else []
    width = n_in
    for _ in range(hp.layers):
        blocks += [nn.Linear(width, hp.units), _ACTIVATIONS[hp.activation]()]
        if hp.dropout > 0:
            blocks.append(nn.Dropout(hp.dropout))
        width = hp.units
    blocks.append(nn.Linear(width, data.n_outputs))
    return nn.Sequential(*blocks)


def require_images(hp: HParams, data: Data) -> tuple[int, int, int]:
    if not data.is_image:
        raise ValueError(f"model={hp.model!r} needs image data shaped (channels, height, width), but the data "
                         f"has input shape {data.input_shape}: use load_dataset('digits', images=True) or "
                         f"model='mlp'")
    return data.input_shape  # type: ignore[return-value]


def build_cnn(hp: HParams, data: Data) -> nn.Module:
    """``layers`` conv blocks (3x3 conv, batch norm, activation, 2x2 max-pool while the map is >= 2 px),
    then global average pooling, dropout and a linear head."""
    channels, height, width = require_images(hp, data)
    blocks: list[nn.Module] = []
    c_in = channels
    for _ in range(hp.layers):
        blocks += [nn.Conv2d(c_in, hp.units, 3, padding=1, bias=False), nn.BatchNorm2d(hp.units),
                   _ACTIVATIONS[hp.activation]()]
        if min(height, width) >= 2:
            blocks.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        c_in = hp.units
    blocks += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if hp.dropout > 0:
        blocks.append(nn.Dropout(hp.dropout))
    blocks.append(nn.Linear(c_in, data.n_outputs))
    return nn.Sequential(*blocks)


class ResidualBlock(nn.Module):
    """The basic residual block: conv-BN-act-conv-BN plus the identity, then the activation."""

    def __init__(self, channels: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
            _ACTIVATIONS[activation](), nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )
        self.act = _ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def build_resnet(hp: HParams, data: Data) -> nn.Module:
    """A stem conv to ``units`` channels, ``layers`` residual blocks, global pooling, linear head."""
    channels, _, _ = require_images(hp, data)
    return nn.Sequential(
        nn.Conv2d(channels, hp.units, 3, padding=1, bias=False), nn.BatchNorm2d(hp.units),
        _ACTIVATIONS[hp.activation](),
        *[ResidualBlock(hp.units, hp.activation, hp.dropout) for _ in range(hp.layers)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hp.units, data.n_outputs),
    )


BUILDERS: dict[str, Callable[[HParams, Data], nn.Module]] = {
    "mlp": build_mlp, "cnn": build_cnn, "resnet": build_resnet,
}


def build_model(hp: HParams, data: Data) -> nn.Module:
    """Build the model ``hp.model`` names (or call the user's factory) and check it is a module."""
    factory = hp.model if callable(hp.model) else BUILDERS[hp.model]
    model = factory(hp, data)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model factory {hp.model_name!r} returned {type(model).__name__}, "
                         f"but it must return a torch.nn.Module")
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
