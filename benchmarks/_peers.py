"""Run one optimizer on one problem: ours through a Study, the Optuna peers through theirs.

Every runner returns the true (noiseless) objective value of each evaluated configuration, in
evaluation order, so regret curves are computed the same way for everyone.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from benchmarks._drive import drive, noisy
from benchmarks._functions import Problem
from lightning_autotune.samplers import BoTorchSampler, MultiObjectiveBoTorchSampler, RandomSampler
from lightning_autotune.samplers._base import Sampler
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import Study, create_study

__all__ = [
    "BATCH_PEERS",
    "EXTRA_PEERS",
    "PEERS",
    "history_latency",
    "run_peer",
    "time_optuna",
    "time_ours",
]

PEERS = ("ours", "optuna_gp", "optuna_tpe", "random")
# Not in the main table: a peer asked for 4 configurations at a time (the earlier ones
# running), as 4 parallel workers would, compared with the same peer run sequentially at equal
# evaluation counts. Optuna's GPSampler handles running trials itself (qLogEI over them).
BATCH_PEERS = ("ours_q4", "optuna_gp_q4", "ours_async4", "optuna_gp_async4")
# The *_async4 peers are 4 workers refilled one at a time, each as soon as its trial ends (what
# `Study.optimize(n_workers=4)` does): trial lengths are drawn at random, so results arrive one by
# one and every suggestion after the first four has 3 trials running. Evaluations are counted in
# the order results arrive.
# Not run by default, tabulated with the main peers when asked for: the sampler a study gets by
# default for a constrained space or several objectives, on these single-objective problems.
EXTRA_PEERS = ("ours_mo",)


def _ours(
    problem: Problem,
    budget: int,
    seed: int,
    n_init: int,
    sampler: Sampler | None,
    mode: str = "seq",
) -> list[float]:
    # Without a sampler, ours is the one create_study makes by default (BoTorchSampler
    # scrambled with the study's seed), so the benchmark measures what a user gets.
    study = create_study(
        f"{problem.name}-{seed}",
        problem.space,
        InMemoryStorage(),
        "minimize",
        sampler=sampler,
        seed=seed,
    )
    if sampler is None:
        default = study.sampler
        assert isinstance(default, BoTorchSampler), default
        assert default.initial_points(problem.space) == n_init, "peers must share n_init"
    f = noisy(problem, seed)

    def tell(trial: Any) -> float:
        # trials asked and not yet told are RUNNING, so the sampler sees them as pending
        observed, true = f(trial.params)
        study.tell(trial, observed)
        return true

    return drive(study.ask, tell, budget, seed, mode)


def _suggest_optuna(trial: Any, space: SearchSpace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in space.order:
        p = space[name]
        if not p.is_active(config):
            continue
        if isinstance(p, Float):
            config[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, Int):
            config[name] = trial.suggest_int(
                name, int(p.low), int(p.high), log=p.log, step=int(p.step or 1)
            )
        elif isinstance(p, Categorical):
            config[name] = trial.suggest_categorical(name, list(p.choices))
        else:
            raise NotImplementedError(f"{name}: parent-dependent choices are not benchmarked")
    return config


def _optuna_sampler(peer: str, seed: int, n_init: int) -> Any:
    import optuna

    if peer == "optuna_gp":
        return optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=n_init, warn_independent_sampling=False
        )
    if peer == "optuna_tpe":
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=n_init, warn_independent_sampling=False
        )
    raise ValueError(peer)


def _optuna(
    problem: Problem, budget: int, seed: int, n_init: int, peer: str, mode: str = "seq"
) -> list[float]:
    import optuna

    study = optuna.create_study(sampler=_optuna_sampler(peer, seed, n_init))
    f = noisy(problem, seed)

    def ask() -> tuple[Any, dict[str, Any]]:
        trial = study.ask()
        return trial, _suggest_optuna(trial, problem.space)

    def tell(asked: tuple[Any, dict[str, Any]]) -> float:
        # as for ours: trials asked and not yet told are RUNNING
        trial, config = asked
        observed, true = f(config)
        study.tell(trial, observed)
        return true

    return drive(ask, tell, budget, seed, mode)


def run_peer(peer: str, problem: Problem, budget: int, seed: int, n_init: int) -> list[float]:
    """True objective values of the `budget` configurations `peer` evaluated, in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if peer == "ours":
            return _ours(problem, budget, seed, n_init, None)
        if peer == "random":
            return _ours(problem, budget, seed, n_init, RandomSampler())
        if peer == "ours_q4":
            return _ours(problem, budget, seed, n_init, None, mode="q4")
        if peer == "optuna_gp_q4":
            return _optuna(problem, budget, seed, n_init, "optuna_gp", mode="q4")
        if peer == "ours_async4":
            return _ours(problem, budget, seed, n_init, None, mode="async4")
        if peer == "optuna_gp_async4":
            return _optuna(problem, budget, seed, n_init, "optuna_gp", mode="async4")
        if peer == "ours_mo":
            mo = MultiObjectiveBoTorchSampler(n_initial_points=n_init, seed=seed)
            return _ours(problem, budget, seed, n_init, mo)
        return _optuna(problem, budget, seed, n_init, peer)


def history_latency(
    peer: str,
    problem: Problem,
    n_history: int,
    repeats: int,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per suggestion with `n_history` random trials already in the history.

    See `time_ours` and `time_optuna` for how suggestions are timed; `clock` is wall time, or
    `time.process_time` for the CPU seconds of this process (steadier on a loaded machine).
    """
    import optuna

    configs = problem.space.sample(n_history, seed)
    values = [problem.objective(c) for c in configs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if peer == "ours":
            study: Study = create_study(
                "latency",
                problem.space,
                InMemoryStorage(),
                "minimize",
                sampler=BoTorchSampler(seed=seed),
                seed=seed,
            )
            return time_ours(study, configs, values, repeats, clock)
        ostudy = optuna.create_study(sampler=_optuna_sampler(peer, seed, 10))
        return time_optuna(ostudy, problem.space, configs, values, repeats, clock)


def time_ours(
    study: Study,
    configs: list[dict[str, Any]],
    values: list[Any],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Tell `study` the history (`configs` with their `values`), then time `repeats` asks.

    Each timed suggestion is told FAILED afterwards, so the history stays the same size. One
    untimed suggestion comes first, so one-time costs of the process (importing BoTorch on
    first use) are not counted as a suggestion's.
    """
    for c, v in zip(configs, values, strict=True):
        study.tell(study.ask(c), v)
    times: list[float] = []
    for i in range(repeats + 1):
        t0 = clock()
        trial = study.ask()
        if i:
            times.append(clock() - t0)
        study.tell(trial, state=_failed())
    return times


def time_optuna(
    ostudy: Any,
    space: SearchSpace,
    configs: list[dict[str, Any]],
    values: list[Any],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """`time_ours` for an Optuna study: the history enqueued and told, then timed asks."""
    from optuna.trial import TrialState as OptunaState

    for c, v in zip(configs, values, strict=True):
        ostudy.enqueue_trial(c)
        t = ostudy.ask()
        _suggest_optuna(t, space)
        ostudy.tell(t, v)
    times: list[float] = []
    for i in range(repeats + 1):
        t0 = clock()
        t = ostudy.ask()
        _suggest_optuna(t, space)
        if i:
            times.append(clock() - t0)
        ostudy.tell(t, state=OptunaState.FAIL)
    return times


def _failed() -> Any:
    from lightning_autotune.trial import TrialState

    return TrialState.FAILED
