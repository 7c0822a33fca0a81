"""The problems and methods of `benchmarks.multifidelity` (see its docstring)."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._functions import _H6_A, _H6_ALPHA, _H6_P
from lightning_autotune.pruners import SuccessiveHalvingPruner
from lightning_autotune.samplers import BoTorchSampler, MultiFidelitySampler
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.stages import Narrowing, Stage, run_stages
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialState

STEPS = 9
LOW = 0.1
PLAIN_TRIALS = 50


@dataclass(frozen=True)
class MFProblem:
    """A minimization problem with a fidelity `s` in [LOW, 1] (1: the target)."""

    name: str
    dim: int
    f: Callable[[np.ndarray, float], float]
    optimum: float

    def space(self) -> SearchSpace:
        return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(self.dim)})

    def at(self, params: dict[str, Any], s: float) -> float:
        return self.f(np.array([params[f"x{i}"] for i in range(self.dim)]), s)


def branin_mf(x: np.ndarray, s: float) -> float:
    x1, x2 = 15 * x[0] - 5, 15 * x[1]
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - s)
    c = 5 / math.pi - 0.1 * (1 - s)
    t = 1 / (8 * math.pi) + 0.05 * (1 - s)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6_mf(x: np.ndarray, s: float) -> float:
    alpha = _H6_ALPHA.copy()
    alpha[0] -= 0.1 * (1 - s)
    return float(-np.sum(alpha * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


PROBLEMS = {
    "branin_mf": MFProblem("branin_mf", 2, branin_mf, 0.397887357729738),
    "hartmann6_mf": MFProblem("hartmann6_mf", 6, hartmann6_mf, -3.322368011391339),
}


@dataclass
class Run:
    """One method on one problem and seed: the (compute, best full value) trace."""

    compute: list[float]
    best_full: list[float]
    seconds: float
    trials: int


class Trace:
    def __init__(self) -> None:
        self.spent = 0.0
        self.best = math.inf
        self.compute: list[float] = []
        self.best_full: list[float] = []

    def add(self, cost: float, full_value: float | None) -> None:
        self.spent += cost
        if full_value is not None:
            self.best = min(self.best, full_value)
        self.compute.append(self.spent)
        self.best_full.append(self.best)

    def run(self, started: float, trials: int) -> Run:
        return Run(self.compute, self.best_full, time.perf_counter() - started, trials)


def plain_bo(p: MFProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    study = create_study("plain", p.space(), InMemoryStorage(), sampler=BoTorchSampler(), seed=seed)
    for _ in range(PLAIN_TRIALS):
        trial = study.ask()
        v = p.at(trial.params, 1.0)
        study.tell(trial, v)
        tr.add(1.0, v)
    return tr.run(started, PLAIN_TRIALS)


def asha(p: MFProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    study = create_study(
        "asha",
        p.space(),
        InMemoryStorage(),
        sampler=BoTorchSampler(),
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        seed=seed,
    )
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1
        for r in range(1, STEPS + 1):
            v = p.at(trial.params, max(LOW, r / STEPS))
            trial.report(r, v)
            if r < STEPS and trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                tr.add(r / STEPS, None)
                break
        else:
            study.tell(trial, v)
            tr.add(1.0, v)
    return tr.run(started, n)


def mf_bo(p: MFProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    space = SearchSpace({**dict(p.space().items()), "s": Float(LOW, 1.0)})
    study = create_study(
        "mf", space, InMemoryStorage(), sampler=MultiFidelitySampler("s"), seed=seed
    )
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1
        s = trial.params["s"]
        v = p.at(trial.params, s)
        study.tell(trial, v)
        tr.add(s, v if s == 1.0 else None)
    return tr.run(started, n)


def staged(p: MFProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    # 40% of the budget on coarse trials at a quarter fidelity, the rest at full fidelity
    coarse, fine = round(0.4 * budget / 0.25), round(0.6 * budget)
    plan = [
        Stage(trials=coarse, data_fraction=0.25, narrow=Narrowing(top_k=5, margin=0.1)),
        Stage(trials=fine, promote=2),
    ]

    def objective(stage: Stage) -> Callable[[Any], float]:
        def run(trial: Any) -> float:
            v = p.at(trial.params, stage.data_fraction)
            tr.add(stage.data_fraction, v if stage.data_fraction == 1.0 else None)
            return v

        return run

    run_stages(
        plan,
        objective,
        p.space(),
        storage=InMemoryStorage(),
        study_name="staged",
        direction=Direction.MINIMIZE,
        sampler=BoTorchSampler(),
        pruner=None,
        seed=seed,
        announce=lambda _: None,
    )
    return tr.run(started, coarse + fine)


def optuna_hyperband(p: MFProblem, seed: int, budget: float) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started, tr = time.perf_counter(), Trace()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=STEPS, reduction_factor=3
        ),
    )
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1
        params = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(p.dim)}
        for r in range(1, STEPS + 1):
            v = p.at(params, max(LOW, r / STEPS))
            trial.report(v, r)
            if r < STEPS and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                tr.add(r / STEPS, None)
                break
        else:
            study.tell(trial, v)
            tr.add(1.0, v)
    return tr.run(started, n)


def smac_available() -> bool:
    python = Path("/work/venv-peers/bin/python")
    if not python.exists():
        return False
    done = subprocess.run([str(python), "-c", "import smac"], capture_output=True, check=False)
    return done.returncode == 0


METHODS: dict[str, Callable[[MFProblem, int, float], Run]] = {
    "plain BO (full fidelity)": plain_bo,
    "ours + ASHA": asha,
    "staged (ours)": staged,
    "MF BO (ours)": mf_bo,
    "Optuna TPE + Hyperband": optuna_hyperband,
}
