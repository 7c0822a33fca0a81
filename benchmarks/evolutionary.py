"""CmaEsSampler and NSGA2Sampler against Optuna's CmaEsSampler / NSGAIISampler and our BO samplers.

Run: `python -m benchmarks.evolutionary [--quick] [--seeds N] [--budgets 100 300]
[--mo-budgets 300] [--bo-budget 100] [--mo-bo-budget 40] [--bo-seeds 3]`. Everything runs in
this one process, interleaved (for each problem and seed, every peer in turn), single-threaded.

Part of a table: `--parts so` (or `mo`) runs one of the two sections, `--peers` some of their
peers, `--problems` / `--mo-problems` some problems; `--keep OLD.json` takes every cell not
rerun (part, problem, peer) from an earlier run's `results.json`, and the page names the runs
its cells come from. Peers compared by a verdict or a time ratio should be rerun together, so
each pair met the same machine state.

Single objective (the BO problems of `benchmarks/_functions.py`): log10 regret at each budget.
Several objectives and a constrained problem (those of `benchmarks/multiobjective.py`): log10
hypervolume regret, or log10 regret of the best feasible value. Time per suggestion is the wall
time of a whole run (ask, the toy objective, tell) over its number of trials, for each peer
through its own study; ratios are taken per seed, so each pair met the same machine state.
The GP samplers are far slower, so they run a smaller budget on fewer seeds (the results say so).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks._drive import noisy
from benchmarks._functions import PROBLEMS
from benchmarks._peers import _ours, _suggest_optuna
from benchmarks.multiobjective import _constrained, _evaluate, _problems, _score, run_optuna

OUT = Path("benchmarks/results/evolutionary")
SO_PEERS = ("ours_cmaes", "optuna_cmaes", "ours_bo")
MO_PEERS = ("ours_nsga2", "optuna_nsga2", "ours_mo_bo")
_DISTS = ("lightning-autotune", "optuna", "cmaes", "botorch", "numpy")


def _run_so(peer: str, name: str, budget: int, seed: int) -> list[float]:
    """True values of each evaluated configuration, in order."""
    from lightning_autotune.samplers import BoTorchSampler, CmaEsSampler

    problem = PROBLEMS[name]
    if peer == "ours_cmaes":
        return _ours(problem, budget, seed, 0, CmaEsSampler(seed=seed))
    if peer == "ours_bo":
        return _ours(problem, budget, seed, 0, BoTorchSampler(seed=seed))
    import optuna

    study = optuna.create_study(
        sampler=optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    )
    f = noisy(problem, seed)
    trues = []
    for _ in range(budget):
        trial = study.ask()
        observed, true = f(_suggest_optuna(trial, problem.space))
        study.tell(trial, observed)
        trues.append(true)
    return trues


def _run_mo(peer: str, problem: Any, budget: int, seed: int) -> tuple[list[Any], list[Any]]:
    from lightning_autotune.samplers import MultiObjectiveBoTorchSampler, NSGA2Sampler
    from lightning_autotune.space import Float, SearchSpace
    from lightning_autotune.study import create_study

    if peer == "optuna_nsga2":
        return run_optuna(problem, budget, seed, "optuna-NSGAII")
    d = problem.dim
    n_con = problem.num_constraints if _constrained(problem) else 0
    cons = [f"slack_{j} >= 0" for j in range(n_con)]
    sampler: Any
    if peer == "ours_nsga2":
        sampler = NSGA2Sampler(outcome_constraints=cons, seed=seed)
    else:
        sampler = MultiObjectiveBoTorchSampler(
            outcome_constraints=cons,
            reference_point=None if n_con else list(problem._ref_point),
            n_initial_points=min(2 * (d + 1), 10),
            seed=seed,
        )
    n_obj = 1 if n_con else problem.num_objectives
    space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(d)})
    study = create_study(space=space, directions=["minimize"] * n_obj, sampler=sampler, seed=seed)
    ys, slacks = [], []
    for _ in range(budget):
        trial = study.ask()
        y, s = _evaluate(problem, [trial.params[f"x{i}"] for i in range(d)])
        if s:
            trial.report(0, y[0], metrics={f"slack_{j}": v for j, v in enumerate(s)})
        study.tell(trial, y[0] if n_con else y)
        ys.append(y)
        slacks.append(s)
    return ys, slacks


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, small budgets (development)")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--budgets", type=int, nargs="+", default=None)
    p.add_argument("--mo-budgets", type=int, nargs="+", default=None)
    p.add_argument("--bo-budget", type=int, default=None, help="budget of the GP peers")
    p.add_argument("--mo-bo-budget", type=int, default=None)
    p.add_argument("--bo-seeds", type=int, default=None, help="seeds of the GP peers")
    p.add_argument("--problems", nargs="*", default=None)
    p.add_argument("--mo-problems", nargs="*", default=None)
    p.add_argument("--parts", nargs="+", choices=("so", "mo"), default=["so", "mo"])
    p.add_argument("--peers", nargs="+", choices=SO_PEERS + MO_PEERS, default=None)
    p.add_argument(
        "--keep", default=None, help="results.json of an earlier run: cells not rerun come from it"
    )
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    peers = set(args.peers or SO_PEERS + MO_PEERS)
    quick = args.quick
    seeds = args.seeds or (2 if quick else 10)
    budgets = sorted(args.budgets or ([50] if quick else [100, 300]))
    mo_budgets = sorted(args.mo_budgets or ([60] if quick else [300]))
    bo_budget = args.bo_budget or (20 if quick else 100)
    mo_bo_budget = args.mo_bo_budget or (15 if quick else 40)
    bo_seeds = args.bo_seeds if args.bo_seeds is not None else (1 if quick else 3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.evolutionary " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    _warm_up()
    started = time.time()
    raw: dict[str, Any] = {
        "meta": {
            "command": command,
            "quick": quick,
            "seeds": seeds,
            "budgets": budgets,
            "mo_budgets": mo_budgets,
            "bo_budget": bo_budget,
            "mo_bo_budget": mo_bo_budget,
            "bo_seeds": bo_seeds,
            "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "versions": {k: version(k) for k in _DISTS if _installed(k)},
            "machine": f"{platform.machine()}, {os.cpu_count()} cores shared, CPU only",
        },
        "so": {},
        "mo": {},
    }
    kept = json.loads(Path(args.keep).read_text()) if args.keep else None

    def save() -> None:
        raw["meta"]["wall_s"] = time.time() - started
        raw["meta"].setdefault("load", []).append(round(os.getloadavg()[0], 1))
        merged = merge(kept, raw) if kept is not None else raw
        (out / "results.json").write_text(json.dumps(merged))

    so_problems = args.problems if args.problems is not None else list(PROBLEMS)
    for name in so_problems if "so" in args.parts else []:
        problem = PROBLEMS[name]
        cell = raw["so"].setdefault(name, {})
        for seed in range(seeds):
            for peer in SO_PEERS:
                if peer not in peers or (peer == "ours_bo" and seed >= bo_seeds):
                    continue
                budget = bo_budget if peer == "ours_bo" else budgets[-1]
                trues, took = _timed(lambda: _run_so(peer, name, budget, seed))  # noqa: B023
                regrets = {
                    str(b): math.log10(max(min(trues[:b]) - problem.optimum, 1e-12))
                    for b in {*budgets, bo_budget}
                    if b <= budget
                }
                cell.setdefault(peer, []).append({"regret": regrets, "s_per_trial": took / budget})
            print(f"{name} seed {seed} ({time.time() - started:.0f} s)", flush=True)
        save()
    mo_problems = _problems()
    mo_names = args.mo_problems if args.mo_problems is not None else list(mo_problems)
    for name in mo_names if "mo" in args.parts else []:
        problem = mo_problems[name]
        cell = raw["mo"].setdefault(name, {})
        for seed in range(seeds):
            for peer in MO_PEERS:
                if peer not in peers or (peer == "ours_mo_bo" and seed >= bo_seeds):
                    continue
                budget = mo_bo_budget if peer == "ours_mo_bo" else mo_budgets[-1]
                (ys, slacks), took = _timed(lambda: _run_mo(peer, problem, budget, seed))  # noqa: B023
                regrets = {
                    str(b): _score(problem, ys[:b], slacks[:b])
                    for b in {*mo_budgets, mo_bo_budget}
                    if b <= budget
                }
                cell.setdefault(peer, []).append({"regret": regrets, "s_per_trial": took / budget})
            print(f"{name} seed {seed} ({time.time() - started:.0f} s)", flush=True)
        save()
    save()
    from benchmarks._evolutionary_report import write_report

    write_report(out, merge(kept, raw) if kept is not None else raw)
    return 0


def merge(kept: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new`'s cells over `kept`'s: a (part, problem, peer) that `new` ran replaces the kept one.

    The result's meta is `new`'s, with `sources`: for each run, its command and date and the
    cells taken from it, so the page can say which run each cell comes from.
    """
    out: dict[str, Any] = {"meta": dict(new["meta"]), "so": {}, "mo": {}}
    ran: list[str] = []
    took: list[str] = []
    for part in ("so", "mo"):
        for name in {**kept.get(part, {}), **new[part]}:
            old_cell, new_cell = kept.get(part, {}).get(name, {}), new[part].get(name, {})
            cell = {**old_cell, **new_cell}
            if cell:
                out[part][name] = cell
            ran += [f"{name}/{peer}" for peer in new_cell]
            took += [f"{name}/{peer}" for peer in old_cell if peer not in new_cell]
    # A kept run without sources made every cell it holds; a source whose cells were all
    # rerun since is dropped (an empty list would otherwise read as 'every cell').
    earlier = kept["meta"].get("sources") or [{**_source(kept["meta"], []), "cells": took}]
    sources = [{**s, "cells": [c for c in s["cells"] if c in took]} for s in earlier]
    out["meta"]["sources"] = [_source(new["meta"], ran)] + [s for s in sources if s["cells"]]
    return out


def _source(meta: dict[str, Any], cells: list[str]) -> dict[str, Any]:
    source = {"command": meta["command"], "date": meta["date"], "cells": cells}
    # The machine's load is the run's, not the page's: each source keeps its own.
    return source | {k: meta[k] for k in ("load", "load_note") if meta.get(k)}


def _warm_up() -> None:
    """One short run of every peer, so no timed run pays for first imports."""
    for peer in SO_PEERS:
        _run_so(peer, "branin", 12, 0)
    problem = _problems()["ZDT1"]
    for peer in MO_PEERS:
        _run_mo(peer, problem, 12, 0)


def _installed(dist: str) -> bool:
    try:
        version(dist)
    except Exception:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
