"""Test problems with known optima, expressed as lightning_autotune search spaces.

Every problem is minimized; `regret = best value found - optimum`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_autotune.space import Categorical, Float, Int, SearchSpace

__all__ = ["PROBLEMS", "Problem"]


@dataclass(frozen=True)
class Problem:
    """A minimization problem: a space, an objective on configs, and its known minimum.

    Attributes:
        name: Short name used in tables.
        space: The search space.
        objective: config -> value (noisy problems take an rng through `noise_std`).
        optimum: The known minimum of the noiseless objective.
        noise_std: Standard deviation of additive Gaussian noise (0: deterministic).
    """

    name: str
    space: SearchSpace
    objective: Callable[[Mapping[str, Any]], float]
    optimum: float
    noise_std: float = 0.0


def _floats(d: int, low: float, high: float) -> SearchSpace:
    return SearchSpace({f"x{i}": Float(low, high) for i in range(d)})


def _vec(config: Mapping[str, Any], d: int) -> np.ndarray:
    return np.array([config[f"x{i}"] for i in range(d)], dtype=np.float64)


def branin(c: Mapping[str, Any]) -> float:
    x1, x2 = c["x0"], c["x1"]
    b, cc, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(c: Mapping[str, Any]) -> float:
    x = _vec(c, 6)
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def ackley(c: Mapping[str, Any]) -> float:
    x = _vec(c, 4)
    d = len(x)
    return float(
        -20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d))
        - np.exp(np.sum(np.cos(2 * np.pi * x)) / d)
        + 20
        + math.e
    )


def levy(c: Mapping[str, Any]) -> float:
    x = _vec(c, 4)
    w = 1 + (x - 1) / 4
    head = np.sin(np.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def rosenbrock(c: Mapping[str, Any]) -> float:
    x = _vec(c, 4)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def styblinski_tang(c: Mapping[str, Any]) -> float:
    x = _vec(c, 4)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def michalewicz(c: Mapping[str, Any]) -> float:
    x = _vec(c, 5)
    i = np.arange(1, 6)
    return float(-np.sum(np.sin(x) * np.sin(i * x**2 / np.pi) ** 20))


# Mixed space: a shifted sphere in 3 floats, two integers and two categoricals.
# Optimum 0 at x=(0.3, -0.5, 0.7), n1=3, n2=12, kind='b', act='relu'.
_MIXED_SPACE = SearchSpace(
    {
        "x0": Float(-1.0, 1.0),
        "x1": Float(-1.0, 1.0),
        "x2": Float(-1.0, 1.0),
        "n1": Int(0, 7),
        "n2": Int(1, 20),
        "kind": Categorical(["a", "b", "c"]),
        "act": Categorical(["relu", "tanh", "gelu", "silu"]),
    }
)
_KIND_COST = {"a": 0.6, "b": 0.0, "c": 1.2}
_ACT_COST = {"relu": 0.0, "tanh": 0.5, "gelu": 0.25, "silu": 0.9}


def mixed(c: Mapping[str, Any]) -> float:
    x = np.array([c["x0"], c["x1"], c["x2"]])
    cont = float(np.sum((x - np.array([0.3, -0.5, 0.7])) ** 2))
    ints = 0.1 * (c["n1"] - 3) ** 2 + 0.02 * (c["n2"] - 12) ** 2
    interaction = 0.5 * abs(c["x0"] - 0.3) * (c["kind"] != "b")
    return cont + ints + _KIND_COST[c["kind"]] + _ACT_COST[c["act"]] + interaction


# Conditional space: an optimizer choice with its own hyper-parameters.
# Optimum 0 at opt='sgd', lr=0.1 (log10 = -1), momentum=0.9, nesterov=True, width=0.4.
_COND_SPACE = SearchSpace(
    {
        "opt": Categorical(["sgd", "adam", "rmsprop"]),
        "lr": Float(1e-4, 1.0, log=True),
        "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
        "nesterov": Categorical([False, True], when={"opt": "sgd"}),
        "beta2": Float(0.9, 0.9999, when={"opt": "adam"}),
        "alpha": Float(0.8, 0.999, when={"opt": "rmsprop"}),
        "width": Float(0.0, 1.0),
    }
)


def conditional(c: Mapping[str, Any]) -> float:
    width = (c["width"] - 0.4) ** 2
    if c["opt"] == "sgd":
        lr = (math.log10(c["lr"]) + 1.0) ** 2 / 4
        return lr + 4 * (c["momentum"] - 0.9) ** 2 + 0.3 * (not c["nesterov"]) + width
    if c["opt"] == "adam":
        lr = (math.log10(c["lr"]) + 3.0) ** 2 / 4
        return 0.2 + lr + 20 * (c["beta2"] - 0.999) ** 2 + width
    lr = (math.log10(c["lr"]) + 2.5) ** 2 / 4
    return 0.35 + lr + 2 * (c["alpha"] - 0.95) ** 2 + width


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "branin",
            SearchSpace({"x0": Float(-5, 10), "x1": Float(0, 15)}),
            branin,
            0.397887357729738,
        ),
        Problem("hartmann6", _floats(6, 0.0, 1.0), hartmann6, -3.322368011391339),
        Problem("ackley4", _floats(4, -32.768, 32.768), ackley, 0.0),
        Problem("levy4", _floats(4, -10.0, 10.0), levy, 0.0),
        Problem("rosenbrock4", _floats(4, -5.0, 10.0), rosenbrock, 0.0),
        Problem("styblinski4", _floats(4, -5.0, 5.0), styblinski_tang, -39.16616570377142 * 4),
        Problem("michalewicz5", _floats(5, 0.0, math.pi), michalewicz, -4.687658179),
        Problem("hartmann6_noisy", _floats(6, 0.0, 1.0), hartmann6, -3.322368011391339, 0.1),
        Problem("mixed", _MIXED_SPACE, mixed, 0.0),
        Problem("conditional", _COND_SPACE, conditional, 0.0),
    ]
}
