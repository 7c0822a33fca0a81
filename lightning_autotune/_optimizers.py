"""Torch optimizers by name, for search spaces that choose the optimizer as a categorical."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from lightning_autotune.exceptions import ConfigError

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def make_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float,
    *,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Build a torch optimizer by name: 'adam', 'adamw', 'sgd' or 'rmsprop'.

    `momentum` applies to SGD and RMSprop only.

    Raises:
        ConfigError: Unknown name.
    """
    cls = OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ConfigError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
    if cls in (torch.optim.SGD, torch.optim.RMSprop):
        kwargs["momentum"] = momentum
    return cls(params, **kwargs)
