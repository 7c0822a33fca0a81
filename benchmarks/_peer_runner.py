"""Run a peer that lives in its own environment (Ax, HEBO, SMAC3) on one problem, many seeds.

Started by `benchmarks._external` as `python -m benchmarks._peer_runner` under the peers'
virtual environment (their pins conflict with ours: Ax pins BoTorch). Reads one JSON request on
stdin, `{"peer", "problem", "budget", "seeds", "n_init", "mode"}`, and writes one JSON answer
on stdout: `{"versions", "traces", "seconds"}`, a list of true objective values per seed in
evaluation order, and the optimization seconds per seed.

No peer here takes conditional parameters as such: each sees the flat space of every parameter,
and the objective reads only the active ones (the values of inactive ones change nothing).
Integer grids and log-scale integers are given as the peer's integers and log scales.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import numpy as np

from benchmarks._drive import drive, noisy
from benchmarks._functions import PROBLEMS, Problem
from lightning_autotune.space import Categorical, Int, SearchSpace

__all__ = ["EXTERNAL_PEERS", "active", "main"]

EXTERNAL_PEERS = ("ax", "hebo", "smac_hpo", "smac_bb")
"""Peers run here; a `_q4` suffix asks each for 4 configurations at a time, `_async4` (Ax only:
its client keeps the running trials as pending points) drives 4 workers refilled one at a time."""

_DISTRIBUTIONS = {"ax": "ax-platform", "hebo": "hebo", "smac_hpo": "smac", "smac_bb": "smac"}


def active(space: SearchSpace, flat: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration `flat` (a value for every parameter) less its inactive parameters."""
    config: dict[str, Any] = {}
    for name in space.order:
        if space[name].is_active(config):
            config[name] = flat[name]
    return config


def _choice_labels(p: Categorical) -> list[str]:
    # peers take string choices; booleans and numbers are mapped back by index
    return [str(c) for c in p.choices]


def _from_label(p: Categorical, label: Any) -> Any:
    return p.choices[_choice_labels(p).index(str(label))]


def _int_levels(p: Int) -> int | None:
    """Number of grid levels of an `Int` with a step other than 1 (None: a plain range)."""
    step = int(p.step or 1)
    return None if step == 1 else (int(p.high) - int(p.low)) // step + 1


def _decode(space: SearchSpace, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A peer's flat suggestion back to this space's values."""
    out: dict[str, Any] = {}
    for name in space.order:
        p, v = space[name], raw[name]
        if isinstance(p, Categorical):
            out[name] = _from_label(p, v)
        elif isinstance(p, Int):
            levels = _int_levels(p)
            out[name] = int(v) if levels is None else int(p.low) + int(v) * int(p.step or 1)
        else:
            out[name] = float(min(max(float(v), p.low), p.high))
    return active(space, out)


# -- Ax ----------------------------------------------------------------------------------------


def _ax(problem: Problem, budget: int, seed: int, n_init: int, q: int, mode: str) -> list[float]:
    import logging

    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    params: list[Any] = []
    for name in problem.space.order:
        p = problem.space[name]
        if isinstance(p, Categorical):
            params.append(
                ChoiceParameterConfig(
                    name=name, parameter_type="str", values=_choice_labels(p), is_ordered=False
                )
            )
        elif isinstance(p, Int):
            levels = _int_levels(p)
            low, high = (int(p.low), int(p.high)) if levels is None else (0, levels - 1)
            params.append(
                RangeParameterConfig(
                    name=name,
                    parameter_type="int",
                    bounds=(low, high),
                    scaling="log" if p.log else "linear",
                )
            )
        else:
            params.append(
                RangeParameterConfig(
                    name=name,
                    parameter_type="float",
                    bounds=(p.low, p.high),
                    scaling="log" if p.log else "linear",
                )
            )
    logging.getLogger("ax").setLevel(logging.WARNING)
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=params, name=f"{problem.name}-{seed}")
    client.configure_optimization(objective="-loss")
    f = noisy(problem, seed)
    queue: list[tuple[int, dict[str, Any]]] = []

    def ask() -> tuple[int, dict[str, Any]]:
        if not queue:
            queue.extend(client.get_next_trials(max_trials=q).items())
        index, raw = queue.pop(0)
        return index, _decode(problem.space, raw)

    def tell(asked: tuple[int, dict[str, Any]]) -> float:
        index, config = asked
        observed, true = f(config)
        client.complete_trial(trial_index=index, raw_data={"loss": observed})
        return true

    return drive(ask, tell, budget, seed, mode)


# -- HEBO --------------------------------------------------------------------------------------


def _hebo(problem: Problem, budget: int, seed: int, n_init: int, q: int, mode: str) -> list[float]:
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    np.random.seed(seed)
    torch.manual_seed(seed)
    spec: list[dict[str, Any]] = []
    for name in problem.space.order:
        p = problem.space[name]
        if isinstance(p, Categorical):
            spec.append({"name": name, "type": "cat", "categories": _choice_labels(p)})
        elif isinstance(p, Int):
            levels = _int_levels(p)
            if p.log:
                spec.append({"name": name, "type": "pow_int", "lb": p.low, "ub": p.high})
            else:
                low, high = (int(p.low), int(p.high)) if levels is None else (0, levels - 1)
                spec.append({"name": name, "type": "int", "lb": low, "ub": high})
        elif p.log:
            spec.append({"name": name, "type": "pow", "lb": p.low, "ub": p.high, "base": 10})
        else:
            spec.append({"name": name, "type": "num", "lb": p.low, "ub": p.high})
    opt = HEBO(DesignSpace().parse(spec), rand_sample=n_init, scramble_seed=seed)
    f = noisy(problem, seed)
    queue: list[Any] = []

    def ask() -> Any:
        if not queue:
            rec = opt.suggest(n_suggestions=q)
            queue.extend(rec.iloc[[i]] for i in range(len(rec)))
        return queue.pop(0)

    def tell(row: Any) -> float:
        config = _decode(problem.space, row.iloc[0].to_dict())
        observed, true = f(config)
        opt.observe(row, np.array([[observed]]))
        return true

    return drive(ask, tell, budget, seed, mode)


# -- SMAC3 -------------------------------------------------------------------------------------


def _smac(
    problem: Problem, budget: int, seed: int, n_init: int, facade_name: str, mode: str
) -> list[float]:
    """SMAC3 through ask and tell, with the facade's own defaults apart from the initial design.

    `HyperparameterOptimizationFacade` ("hpo") models log-scaled costs with a random forest,
    refits it every 8 configurations and draws 20% of its configurations at random. At 20 and 50
    evaluations of a smooth 6-dimensional function (Hartmann6) this scores about as well as
    random search (on one seed, refitting after every configuration did not change that); the
    costs reach SMAC's run history unchanged and its incumbent is the best observation. Its
    Gaussian-process facade ("bb", `BlackBoxFacade`) is the one to compare against on such
    problems.
    """
    from ConfigSpace import Categorical as CSCategorical
    from ConfigSpace import ConfigurationSpace
    from ConfigSpace import Float as CSFloat
    from ConfigSpace import Integer as CSInteger
    from smac import BlackBoxFacade, HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    cs = ConfigurationSpace(seed=seed)
    for name in problem.space.order:
        p = problem.space[name]
        if isinstance(p, Categorical):
            cs.add(CSCategorical(name, _choice_labels(p)))
        elif isinstance(p, Int):
            levels = _int_levels(p)
            low, high = (int(p.low), int(p.high)) if levels is None else (0, levels - 1)
            cs.add(CSInteger(name, (low, high), log=p.log))
        else:
            cs.add(CSFloat(name, (p.low, p.high), log=p.log))
    facade = HyperparameterOptimizationFacade if facade_name == "hpo" else BlackBoxFacade
    f = noisy(problem, seed)
    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(
            cs, deterministic=True, n_trials=budget + 10, seed=seed, output_directory=out
        )
        smac = facade(
            scenario,
            _never_called,
            initial_design=facade.get_initial_design(scenario, n_configs=n_init),
            overwrite=True,
            logging_level=40,
        )

        def ask() -> Any:
            return smac.ask()

        def tell(info: Any) -> float:
            config = _decode(problem.space, dict(info.config))
            observed, true = f(config)
            smac.tell(info, TrialValue(cost=observed))
            return true

        return drive(ask, tell, budget, seed, mode)


def _never_called(config: Any, seed: int = 0) -> float:
    raise AssertionError("ask/tell only: SMAC never calls the target function")


def _runner(peer: str) -> tuple[Callable[..., list[float]], str]:
    """The run function of `peer` (`ax`, `hebo_q4`, ...) and its drive mode."""
    base = peer.removesuffix("_q4").removesuffix("_async4")
    mode = "q4" if peer.endswith("_q4") else "async4" if peer.endswith("_async4") else "seq"
    q = 4 if mode == "q4" else 1

    def run(problem: Problem, budget: int, seed: int, n_init: int) -> list[float]:
        if base == "ax":
            return _ax(problem, budget, seed, n_init, q, mode)
        if base == "hebo" and mode != "async4":
            return _hebo(problem, budget, seed, n_init, q, mode)
        if base in ("smac_hpo", "smac_bb"):
            return _smac(problem, budget, seed, n_init, base.removeprefix("smac_"), mode)
        raise ValueError(
            f"unknown peer {peer!r}: one of {EXTERNAL_PEERS}, optionally + '_q4' ('_async4': ax)"
        )

    return run, _DISTRIBUTIONS.get(base, base)


def main() -> int:
    request = json.loads(sys.stdin.read())
    peer = request["peer"]
    run, distribution = _runner(peer)
    import torch

    torch.set_num_threads(1)
    problem = PROBLEMS[request["problem"]]
    traces: list[list[float]] = []
    seconds: list[float] = []
    # a library's own prints go to stderr, so stdout carries the answer alone
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        for seed in request["seeds"]:
            t0 = time.perf_counter()
            traces.append(run(problem, request["budget"], seed, request["n_init"]))
            seconds.append(time.perf_counter() - t0)
            print(f"{peer} {problem.name} seed {seed}: {seconds[-1]:.0f} s", file=sys.stderr)
    answer = {
        "versions": {distribution: version(distribution)},
        "traces": traces,
        "seconds": seconds,
    }
    sys.stdout.write("\n" + json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
