"""Test problems with known optima, expressed as lightning_autotune search spaces.

Every problem is minimized; `regret = best value found - optimum`.

Every problem is shifted: its objective reads each float parameter moved by a fixed offset, so
the optimum sits neither at the centre of the box nor on a grid point (an optimizer whose first
point is the centre, as Ax's is, gains nothing from where a textbook function puts its optimum).
The offset of each float is drawn once from a generator seeded with the problem's name: a
magnitude between 3% and 10% of the parameter's range (of its log10 range for log-scale
parameters), with the sign that keeps the moved minimizer inside the box. The optimum value is
unchanged; `Problem.minimizer` is where it now is (tests/test_benchmark_problems.py checks both).
"""

from __future__ import annotations

import math
import zlib
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
    minimizer: Mapping[str, Any] | None = None
    """A configuration where the noiseless objective equals `optimum`."""


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


def levy(c: Mapping[str, Any], d: int = 4) -> float:
    x = _vec(c, d)
    w = 1 + (x - 1) / 4
    head = np.sin(np.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def rosenbrock(c: Mapping[str, Any], d: int = 4) -> float:
    x = _vec(c, d)
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


def _offsets(name: str, space: SearchSpace, minimizer: Mapping[str, Any]) -> dict[str, float]:
    """Per float parameter, the fixed offset of problem `name` (see the module docstring)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    out: dict[str, float] = {}
    for pname in space.order:
        p = space[pname]
        if not isinstance(p, Float):
            continue
        lo, hi = (math.log10(p.low), math.log10(p.high)) if p.log else (p.low, p.high)
        size = rng.uniform(0.03, 0.10) * (hi - lo)
        sign = rng.choice([-1.0, 1.0])
        if pname in minimizer:
            at = math.log10(minimizer[pname]) if p.log else float(minimizer[pname])
            if not lo < at + sign * size < hi:
                sign = -sign
        out[pname] = float(sign * size)
    return out


def _move(space: SearchSpace, offsets: Mapping[str, float], c: Mapping[str, Any], sign: float):  # type: ignore[no-untyped-def]
    moved = dict(c)
    for k, off in offsets.items():
        if k in moved:
            moved[k] = moved[k] * 10 ** (sign * off) if space[k].log else moved[k] + sign * off
    return moved


def shifted(
    name: str,
    space: SearchSpace,
    f: Callable[[Mapping[str, Any]], float],
    optimum: float,
    minimizer: Mapping[str, Any],
    noise_std: float = 0.0,
) -> Problem:
    """Problem `name`: `f` with its float parameters moved by the problem's fixed offsets."""
    offsets = _offsets(name, space, minimizer)

    def objective(c: Mapping[str, Any]) -> float:
        return f(_move(space, offsets, c, -1.0))

    return Problem(
        name, space, objective, optimum, noise_std, _move(space, offsets, minimizer, 1.0)
    )


def _point(values: list[float]) -> dict[str, float]:
    return {f"x{i}": v for i, v in enumerate(values)}


_H6_ARGMIN = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
_H6_OPT = -3.322368011391339
_MICH5_ARGMIN = [2.202906, 1.570796, 1.284992, 1.923058, 1.720470]


def _embedded_hartmann6(d: int) -> tuple[Callable[[Mapping[str, Any]], float], dict[str, float]]:
    """Hartmann6 on 6 of `d` unit columns (a fixed random choice); the others do nothing."""
    active = sorted(np.random.default_rng(d).choice(d, size=6, replace=False).tolist())

    def f(c: Mapping[str, Any]) -> float:
        return hartmann6({f"x{j}": c[f"x{i}"] for j, i in enumerate(active)})

    at = [0.5] * d
    for j, i in enumerate(active):
        at[i] = _H6_ARGMIN[j]
    return f, _point(at)


def _problems() -> list[Problem]:
    from benchmarks._mixed12 import MIXED12_MINIMIZER, MIXED12_SPACE, mixed12

    h20, h20_at = _embedded_hartmann6(20)
    h40, h40_at = _embedded_hartmann6(40)
    return [
        shifted(
            "branin",
            SearchSpace({"x0": Float(-5, 10), "x1": Float(0, 15)}),
            branin,
            0.397887357729738,
            _point([math.pi, 2.275]),
        ),
        shifted("hartmann6", _floats(6, 0.0, 1.0), hartmann6, _H6_OPT, _point(_H6_ARGMIN)),
        shifted("ackley4", _floats(4, -32.768, 32.768), ackley, 0.0, _point([0.0] * 4)),
        shifted("levy4", _floats(4, -10.0, 10.0), levy, 0.0, _point([1.0] * 4)),
        shifted("rosenbrock4", _floats(4, -5.0, 10.0), rosenbrock, 0.0, _point([1.0] * 4)),
        shifted(
            "styblinski4",
            _floats(4, -5.0, 5.0),
            styblinski_tang,
            -39.16616570377142 * 4,
            _point([-2.903534018185960] * 4),
        ),
        shifted(
            "michalewicz5",
            _floats(5, 0.0, math.pi),
            michalewicz,
            -4.687658179,
            _point(_MICH5_ARGMIN),
        ),
        shifted(
            "hartmann6_noisy",
            _floats(6, 0.0, 1.0),
            hartmann6,
            _H6_OPT,
            _point(_H6_ARGMIN),
            0.1,
        ),
        shifted(
            "mixed",
            _MIXED_SPACE,
            mixed,
            0.0,
            {"x0": 0.3, "x1": -0.5, "x2": 0.7, "n1": 3, "n2": 12, "kind": "b", "act": "relu"},
        ),
        shifted(
            "conditional",
            _COND_SPACE,
            conditional,
            0.0,
            {"opt": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "width": 0.4},
        ),
        shifted("mixed12", MIXED12_SPACE, mixed12, 0.0, MIXED12_MINIMIZER),
        shifted("levy10", _floats(10, -10.0, 10.0), lambda c: levy(c, 10), 0.0, _point([1.0] * 10)),
        shifted("hartmann6_d20", _floats(20, 0.0, 1.0), h20, _H6_OPT, h20_at),
        shifted("hartmann6_d40", _floats(40, 0.0, 1.0), h40, _H6_OPT, h40_at),
        shifted("levy20", _floats(20, -10.0, 10.0), lambda c: levy(c, 20), 0.0, _point([1.0] * 20)),
        shifted(
            "rosenbrock20",
            _floats(20, -5.0, 10.0),
            lambda c: rosenbrock(c, 20),
            0.0,
            _point([1.0] * 20),
        ),
    ]


PROBLEMS: dict[str, Problem] = {p.name: p for p in _problems()}
"""Every problem by name; those of 20 dimensions and more come last."""
