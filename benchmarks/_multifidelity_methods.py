"""The problems and methods of `benchmarks.multifidelity` (see its docstring)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._mf_functions import LOW, STEPS, MFProblem
from lightning_autotune.pruners import SuccessiveHalvingPruner
from lightning_autotune.samplers import BoTorchSampler, MultiFidelitySampler
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.stages import Narrowing, Stage, run_stages
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialState

PLAIN_TRIALS = 50


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
    return _staged(p, seed, budget, None)


def staged_mf(p: MFProblem, seed: int, budget: float) -> Run:
    """`staged` with the second stage's model fitted on the first stage's trials too."""
    return _staged(p, seed, budget, "multifidelity")


def _staged(p: MFProblem, seed: int, budget: float, second: str | None) -> Run:
    started, tr = time.perf_counter(), Trace()
    # 40% of the budget on coarse trials at a quarter fidelity, the rest at full fidelity
    coarse, fine = round(0.4 * budget / 0.25), round(0.6 * budget)
    plan = [
        Stage(trials=coarse, data_fraction=0.25, narrow=Narrowing(top_k=5, margin=0.1)),
        Stage(trials=fine, promote=2, sampler=second),
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


def smac_mf(p: MFProblem, seed: int, budget: float) -> Run:
    """SMAC3's multi-fidelity facade, in the peers' environment (`_peer_runner_mf`)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        ["/work/venv-peers/bin/python", "-m", "benchmarks._peer_runner_mf"],
        input=json.dumps({"problem": p.name, "seed": seed, "budget": budget}),
        capture_output=True, text=True, cwd=root, check=True,
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    answer = json.loads(done.stdout)
    best = [math.inf if b is None else b for b in answer["best_full"]]
    return Run(answer["compute"], best, answer["seconds"], answer["trials"])


SMAC_METHOD = "SMAC3 MF facade (Hyperband + RF)"

METHODS: dict[str, Callable[[MFProblem, int, float], Run]] = {
    "plain BO (full fidelity)": plain_bo,
    "ours + ASHA": asha,
    "staged (ours)": staged,
    "staged, MF model in stage 2 (ours)": staged_mf,
    "MF BO (ours)": mf_bo,
    "Optuna TPE + Hyperband": optuna_hyperband,
    SMAC_METHOD: smac_mf,
}
