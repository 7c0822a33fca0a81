"""Samplers and pruners on real learning curves: the tabular benchmark, no training.

Run from the repository root:

    python -m benchmarks.tabular --seeds 10          # the committed results
    python -m benchmarks.tabular --quick            # development only: 2 seeds, 2 tables

Problems: the tables of `benchmarks/data/tabular/` (`benchmarks._tabular`; how they were built:
`benchmarks.tabular_build`), an MLP's validation loss after every epoch over a Sobol sample of
a 6-parameter space, on each offline data set. A suggestion is served by its nearest table
configuration. Regret is a final validation loss minus the table's lowest.

Samplers (seed i for every method, all at full fidelity): `BoTorchSampler` (ours, the study's
default), Optuna's GPSampler and TPE (same initial-design size), random search; best-so-far
regret after 20 and 50 evaluations, driven by `benchmarks._peers.run_peer`.

Pruners (epochs as the resource; every method runs until it has spent `--full-trials` x epochs
epochs): ours as `BoTorchSampler` with no pruner, `MedianPruner` or `SuccessiveHalvingPruner`
(ASHA, rungs 1, 3, 9 epochs), through `Study.optimize` and `TabularProblem.objective`; Optuna
TPE with no pruner and with `HyperbandPruner` (min 1, max epochs, factor 3). Regret of the best
completed trial's final loss after 10 and `--full-trials` trials' worth of epochs.

Outputs: benchmarks/results/tabular/results.md and raw.json (untracked).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks._functions import Problem
from benchmarks._peers import PEERS, _suggest_optuna, run_peer
from benchmarks._tabular import DATA, TabularProblem, load_table, table_names
from lightning_autotune.pruners import MedianPruner, Pruner, SuccessiveHalvingPruner
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study

RESULTS = Path(__file__).parent / "results" / "tabular"
SAMPLER_BUDGETS = (20, 50)
PRUNERS = ("ours", "ours+median", "ours+asha", "tpe", "tpe+hyperband")

Trace = list[tuple[int, float]]
"""(epochs spent, best completed final loss) after each trial."""


def _ours_pruned(tp: TabularProblem, pruner: Pruner | None, seed: int, budget: int) -> Trace:
    study = create_study(
        "tabular", tp.space, InMemoryStorage(), "minimize", pruner=pruner, seed=seed
    )
    tp.epochs_spent, trace, best = 0, [], math.inf
    while tp.epochs_spent < budget:
        study.optimize(tp.objective(), n_trials=1)
        last = study.trials[-1]
        if last.values is not None and len(last.intermediate) == tp.table.epochs:
            best = min(best, last.values[0])
        trace.append((tp.epochs_spent, best))
    return trace


def _optuna_pruned(tp: TabularProblem, hyperband: bool, seed: int, budget: int) -> Trace:
    import optuna

    epochs = tp.table.epochs
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
        if hyperband
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=_n_init(tp)),
        pruner=pruner,
    )
    spent, trace, best = 0, [], math.inf
    while spent < budget:
        trial = study.ask()
        curve = tp.curve(_suggest_optuna(trial, tp.space))
        for e in range(1, epochs + 1):
            spent += 1
            trial.report(float(curve[e - 1]), e)
            if e < epochs and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, float(curve[-1]))
            best = min(best, float(curve[-1]))
        trace.append((spent, best))
    return trace


def _n_init(tp: TabularProblem) -> int:
    return int(min(10, max(5, tp.space.dim + 1)))  # as benchmarks.bo: BoTorchSampler's own


def run_pruner(method: str, tp: TabularProblem, seed: int, budget: int) -> Trace:
    """Run one pruning method on one table until it has spent `budget` epochs."""
    makers: dict[str, Callable[[], Trace]] = {
        "ours": lambda: _ours_pruned(tp, None, seed, budget),
        "ours+median": lambda: _ours_pruned(tp, MedianPruner(n_startup_trials=5), seed, budget),
        "ours+asha": lambda: _ours_pruned(
            tp, SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), seed, budget
        ),
        "tpe": lambda: _optuna_pruned(tp, False, seed, budget),
        "tpe+hyperband": lambda: _optuna_pruned(tp, True, seed, budget),
    }
    return makers[method]()


def _best_at(trace: Trace, epochs: int) -> float:
    return min((b for spent, b in trace if spent <= epochs), default=math.inf)


def _cell(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        return f"{len(values) - len(finite)}/{len(values)} none"
    q = (
        statistics.quantiles(finite, n=4, method="inclusive")
        if len(finite) > 1
        else [finite[0]] * 3
    )
    return f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]"


def _sampler_table(raw: dict[str, Any]) -> list[str]:
    peers = list(next(iter(raw.values())))
    lines = [
        "| table | budget | " + " | ".join(peers) + " |",
        "|---|---|" + "---|" * len(peers),
    ]
    for name, runs in raw.items():
        for b in SAMPLER_BUDGETS:
            cells = [_cell([min(regrets[:b]) for regrets in runs[p]]) for p in peers]
            lines.append(f"| {name} | {b} | " + " | ".join(cells) + " |")
    return lines


def _pruner_table(raw: dict[str, Any], epochs: int, full_trials: int) -> list[str]:
    shares = (10, full_trials)
    head = " | ".join(f"regret at {s} x {epochs} epochs" for s in shares)
    lines = [f"| table | method | {head} | trials run |", "|---|---|" + "---|" * 3]
    for name, runs in raw.items():
        for m, traces in runs.items():
            cells = [_cell([_best_at(t, s * epochs) for t in traces]) for s in shares]
            trials = statistics.median(len(t) for t in traces)
            lines.append(f"| {name} | {m} | " + " | ".join(cells) + f" | {trials:g} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--tables", nargs="+", default=None)
    p.add_argument("--full-trials", type=int, default=25)
    p.add_argument("--skip", choices=["samplers", "pruners"], default=None)
    p.add_argument("--quick", action="store_true", help="2 seeds, 2 tables (development only)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--data", type=Path, default=DATA, help="the tables' folder")
    p.add_argument("--rows", type=int, default=None, help="first configurations only")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    seeds = 2 if a.quick else a.seeds
    names = a.tables or (["wine", "digits"] if a.quick else list(table_names(a.data)))
    started = time.perf_counter()
    sampler_raw: dict[str, dict[str, list[list[float]]]] = {}
    pruner_raw: dict[str, dict[str, list[Trace]]] = {}
    for name in names:
        tp = TabularProblem(load_table(name, a.data, a.rows))
        if a.skip != "samplers":
            problem = Problem(name, tp.space, tp.evaluate, tp.table.best)
            sampler_raw[name] = {
                peer: [
                    [tp.regret(v) for v in run_peer(peer, problem, 50, s, _n_init(tp))]
                    for s in range(seeds)
                ]
                for peer in PEERS
            }
            print(f"{name}: samplers {time.perf_counter() - started:.0f}s", flush=True)
        if a.skip != "pruners":
            budget = a.full_trials * tp.table.epochs
            pruner_raw[name] = {
                m: [run_pruner(m, tp, s, budget) for s in range(seeds)] for m in PRUNERS
            }
            print(f"{name}: pruners {time.perf_counter() - started:.0f}s", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    raw = _merge(a, sampler_raw, pruner_raw, seeds, names, time.perf_counter() - started)
    (a.out / "results.md").write_text(_report(a, raw))
    print((a.out / "results.md").read_text())


def _merge(
    a: argparse.Namespace,
    sampler_raw: dict[str, Any],
    pruner_raw: dict[str, Any],
    seeds: int,
    names: list[str],
    seconds: float,
) -> dict[str, Any]:
    """Write this run's sections to raw.json, keeping the other section when one was skipped.

    The samplers and the pruners can so run as two processes (`--skip pruners`, `--skip
    samplers`) and the second to finish writes the report of both.
    """
    path = a.out / "raw.json"
    raw: dict[str, Any] = json.loads(path.read_text()) if a.skip and path.exists() else {}
    tp = TabularProblem(load_table(names[0], a.data, a.rows))
    run = {
        "command": "python -m benchmarks.tabular " + " ".join(sys.argv[1:]),
        "seeds": seeds,
        "tables": names,
        "configs": len(tp.table.configs),
        "epochs": tp.table.epochs,
        "full_trials": a.full_trials,
        "seconds": round(seconds),
        "quick": a.quick,
    }
    if sampler_raw:
        raw["samplers"] = {"run": run, "runs": sampler_raw}
    if pruner_raw:
        raw["pruners"] = {"run": run, "runs": pruner_raw}
    path.write_text(json.dumps(raw))
    return raw


def _report(a: argparse.Namespace, raw: dict[str, Any]) -> str:
    versions = ", ".join(
        f"{d} {version(d)}" for d in ("lightning-autotune", "botorch", "torch", "optuna")
    )
    sections = [raw[k]["run"] for k in ("samplers", "pruners") if k in raw]
    lines = [
        "# Tabular benchmark: samplers and pruners on real MLP learning curves",
        "",
        *(
            ["**QUICK RUN (development only; not a result).**", ""]
            if any(r["quick"] for r in sections)
            else []
        ),
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        *(f"- command: `{r['command']}` ({r['seconds']} s)" for r in sections),
        f"- versions: {versions}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs",
        f"- tables: {', '.join(sections[0]['tables'])}, the first {sections[0]['configs']} "
        f"configurations of each (`benchmarks/data/tabular/manifest.json`); "
        f"{sections[0]['seeds']} seeds",
        "",
        "Cells: median [lower quartile, upper quartile] over seeds of the regret (final "
        "validation loss of the best configuration found minus the table's lowest final loss).",
        "",
    ]
    if "samplers" in raw:
        lines += ["## Samplers (full fidelity, best so far after n evaluations)", ""]
        lines += [*_sampler_table(raw["samplers"]["runs"]), ""]
    if "pruners" in raw:
        r = raw["pruners"]["run"]
        lines += [
            f"## Pruners (epochs spent; a full trial is {r['epochs']} epochs)",
            "",
            "Regret of the best completed trial once the method has spent that many epochs; "
            "trials run: median number of trials within the whole budget.",
            "",
        ]
        lines += [*_pruner_table(raw["pruners"]["runs"], r["epochs"], r["full_trials"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
