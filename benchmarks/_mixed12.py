"""A 12-parameter mixed space with conditional parameters, shaped like a training recipe.

An optimizer choice (SGD or Adam) with its own learning-rate optimum and one parameter only it
has (momentum, beta1), then weight decay, dropout, depth, width, activation, batch size, warm-up
and label smoothing. Every term is a non-negative bowl (log-scale parameters in log10), so the
minimum is 0, at `MIXED12_MINIMIZER`; the best dropout depends on the width, and SGD's best is
0.15 above Adam's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lightning_autotune.space import Categorical, Float, Int, SearchSpace

__all__ = ["MIXED12_MINIMIZER", "MIXED12_SPACE", "mixed12"]

MIXED12_SPACE = SearchSpace(
    {
        "optimizer": Categorical(["sgd", "adam"]),
        "lr": Float(1e-5, 1.0, log=True),
        "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
        "beta1": Float(0.8, 0.99, when={"optimizer": "adam"}),
        "weight_decay": Float(1e-6, 1e-1, log=True),
        "dropout": Float(0.0, 0.5),
        "n_layers": Int(1, 8),
        "width": Int(16, 512, log=True),
        "activation": Categorical(["relu", "gelu", "tanh", "silu"]),
        "batch_size": Int(16, 256, step=16),
        "warmup": Float(0.0, 0.2),
        "label_smoothing": Float(0.0, 0.3),
    }
)

MIXED12_MINIMIZER: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 10**-3.5,
    "beta1": 0.93,
    "weight_decay": 10**-3.7,
    "dropout": 0.13,
    "n_layers": 4,
    "width": 180,
    "activation": "gelu",
    "batch_size": 96,
    "warmup": 0.06,
    "label_smoothing": 0.07,
}

_ACTIVATION_COST = {"gelu": 0.0, "silu": 0.05, "relu": 0.1, "tanh": 0.3}


def mixed12(c: Mapping[str, Any]) -> float:
    """The objective (0 at `MIXED12_MINIMIZER`)."""
    lr = math.log10(c["lr"])
    if c["optimizer"] == "sgd":
        branch = 0.15 + 0.3 * (lr + 1.3) ** 2 + 3.0 * (c["momentum"] - 0.87) ** 2
    else:
        branch = 0.3 * (lr + 3.5) ** 2 + 8.0 * (c["beta1"] - 0.93) ** 2
    width = math.log2(c["width"]) - math.log2(180)
    return (
        branch
        + 0.05 * (math.log10(c["weight_decay"]) + 3.7) ** 2
        + 2.0 * (c["dropout"] - 0.13 - 0.05 * width) ** 2
        + 0.02 * (c["n_layers"] - 4) ** 2
        + 0.1 * width**2
        + _ACTIVATION_COST[c["activation"]]
        + 5e-5 * (c["batch_size"] - 96) ** 2
        + 5.0 * (c["warmup"] - 0.06) ** 2
        + 3.0 * (c["label_smoothing"] - 0.07) ** 2
    )
