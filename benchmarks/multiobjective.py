"""Multi-objective and constrained BO: lightning_autotune against Optuna, side by side.

Problems (BoTorch's test functions, minimized):
- BraninCurrin (d=2), DTLZ2 (d=6, 2 objectives), ZDT1 (d=6): log10 hypervolume regret
  (max_hv - hv of the observed points, with each problem's reference point) at each budget.
- ConstrainedGramacy (d=2, 2 outcome constraints): regret of the best feasible value.

Peers: Optuna GPSampler, NSGAIISampler and TPESampler (multivariate), each with seed i, the same
budgets and, for the constrained problem, `constraints_func`. Ours: MultiObjectiveBoTorchSampler
(qLogNEHVI / constrained qLogNEI) through `create_study` / ask / tell.

Usage:
    PYTHONPATH=. python benchmarks/multiobjective.py                 # 10 seeds, 50 and 100 evals
    PYTHONPATH=. python benchmarks/multiobjective.py --quick         # development only
Writes benchmarks/results/multiobjective/results.md (the table) and raw.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

OUT = Path(__file__).parent / "results" / "multiobjective"


def _problems() -> dict[str, Any]:
    from botorch.test_functions.multi_objective import DTLZ2, ZDT1, BraninCurrin
    from botorch.test_functions.synthetic import ConstrainedGramacy

    return {
        "BraninCurrin": BraninCurrin(),
        "DTLZ2": DTLZ2(dim=6, num_objectives=2),
        "ZDT1": ZDT1(dim=6),
        "ConstrainedGramacy": ConstrainedGramacy(),
    }


def _evaluate(problem: Any, x: list[float]) -> tuple[list[float], list[float]]:
    """Objectives (minimized) and slacks (feasible when >= 0) at x in the unit cube."""
    lo, hi = problem.bounds[0].double(), problem.bounds[1].double()
    X = (lo + torch.tensor([x], dtype=torch.float64) * (hi - lo)).to(problem.bounds.dtype)
    y = problem.evaluate_true(X).reshape(-1).tolist()
    slack = problem.evaluate_slack_true(X).reshape(-1).tolist() if _constrained(problem) else []
    return y, slack


def _constrained(problem: Any) -> bool:
    return hasattr(problem, "num_constraints")


def _score(problem: Any, ys: list[list[float]], slacks: list[list[float]]) -> float:
    """log10 regret of the points seen so far."""
    if _constrained(problem):
        feasible = [y[0] for y, s in zip(ys, slacks, strict=True) if min(s) >= 0]
        if not feasible:
            return math.inf
        return math.log10(max(min(feasible) - problem.optimal_value, 1e-12))
    from lightning_autotune.multiobjective import hypervolume

    hv = hypervolume(np.array(ys), problem._ref_point)
    return math.log10(max(problem.max_hv - hv, 1e-12))


def run_ours(problem: Any, budget: int, seed: int) -> tuple[list[list[float]], list[list[float]]]:
    from lightning_autotune.samplers import MultiObjectiveBoTorchSampler
    from lightning_autotune.space import Float, SearchSpace
    from lightning_autotune.study import create_study

    d = problem.dim
    space = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(d)})
    n_con = problem.num_constraints if _constrained(problem) else 0
    sampler = MultiObjectiveBoTorchSampler(
        outcome_constraints=[f"slack_{j} >= 0" for j in range(n_con)],
        reference_point=None if n_con else list(problem._ref_point),
        n_initial_points=min(2 * (d + 1), 10),
        seed=seed,
    )
    n_obj = 1 if n_con else problem.num_objectives
    study = create_study(space=space, directions=["minimize"] * n_obj, sampler=sampler, seed=seed)
    ys, slacks = [], []
    for _ in range(budget):
        trial = study.ask()
        y, s = _evaluate(problem, [trial.params[f"x{i}"] for i in range(d)])
        if s:
            trial.report(0, y[0], metrics={f"slack_{j}": v for j, v in enumerate(s)})
        study.tell(trial, y)
        ys.append(y)
        slacks.append(s)
    return ys, slacks


def run_optuna(
    problem: Any, budget: int, seed: int, kind: str
) -> tuple[list[list[float]], list[list[float]]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = problem.dim
    constrained = _constrained(problem)
    cfunc: Callable[[Any], list[float]] | None = (
        (lambda t: [-v for v in t.user_attrs["slack"]]) if constrained else None
    )
    sampler = {
        "optuna-GP": lambda: optuna.samplers.GPSampler(
            seed=seed, constraints_func=cfunc, n_startup_trials=min(2 * (d + 1), 10)
        ),
        "optuna-NSGAII": lambda: optuna.samplers.NSGAIISampler(seed=seed, constraints_func=cfunc),
        "optuna-TPE": lambda: optuna.samplers.TPESampler(
            seed=seed, constraints_func=cfunc, multivariate=True
        ),
    }[kind]()
    n_obj = 1 if constrained else problem.num_objectives
    study = optuna.create_study(directions=["minimize"] * n_obj, sampler=sampler)
    ys, slacks = [], []

    def objective(trial: Any) -> Any:
        y, s = _evaluate(problem, [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(d)])
        trial.set_user_attr("slack", s)
        ys.append(y)
        slacks.append(s)
        return y[0] if constrained else tuple(y)

    study.optimize(objective, n_trials=budget)
    return ys, slacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 20 (development)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="run seeds first..first+seeds-1 (split runs)"
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=None)
    parser.add_argument("--problems", nargs="+", default=None)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=OUT, help="folder of results.md and raw.json")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 10)
    budgets = sorted(args.budgets or ([20] if args.quick else [50, 100]))
    problems = _problems()
    names = args.problems or list(problems)
    methods = args.methods or ["ours", "optuna-GP", "optuna-NSGAII", "optuna-TPE"]
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict[int, list[float]]]] = {}
    seconds: dict[str, dict[str, list[float]]] = {}
    for name in names:
        problem = problems[name]
        for seed in range(args.first_seed, args.first_seed + seeds):
            for method in methods:  # interleaved: each seed runs every method in turn
                start = time.perf_counter()
                try:
                    if method == "ours":
                        ys, slacks = run_ours(problem, budgets[-1], seed)
                    else:
                        ys, slacks = run_optuna(problem, budgets[-1], seed, method)
                except Exception as err:  # a peer that cannot run a problem is reported, not hidden
                    print(f"{name} {method} seed {seed}: failed ({type(err).__name__}: {err})")
                    continue
                took = time.perf_counter() - start
                per = results.setdefault(name, {}).setdefault(method, {})
                for b in budgets:
                    per.setdefault(b, []).append(_score(problem, ys[:b], slacks[:b]))
                seconds.setdefault(name, {}).setdefault(method, []).append(took)
                scores = [round(per[b][-1], 3) for b in budgets]
                line = f"{name} {method} seed {seed}: log10 regret {scores} ({took:.1f}s)"
                print(line, flush=True)
    _write(results, seconds, seeds, budgets, args.quick, args.first_seed, args.out)


def _write(
    results: dict[str, Any],
    seconds: dict[str, Any],
    seeds: int,
    budgets: list[int],
    quick: bool,
    first_seed: int = 0,
    out: Path = OUT,
) -> None:
    command = " ".join(["python benchmarks/multiobjective.py", *sys.argv[1:]])
    lines = [
        "# Multi-objective and constrained BO: log10 regret (lower is better)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; command: `{command}`; "
        f"{os.cpu_count()} cores shared with other jobs, 1-minute load "
        f"{os.getloadavg()[0]:.1f} at the end",
        "",
        f"Seeds: {seeds} ({first_seed}..{first_seed + seeds - 1}); budgets: {budgets}; "
        "median [IQR] over seeds."
        + (" QUICK MODE: development only, not a result." if quick else ""),
        "",
        "| problem | budget | method | median | IQR | wins | wall s (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, per in results.items():
        for b in budgets:
            table = {m: np.array(v[b]) for m, v in per.items()}
            n = min(len(v) for v in table.values())
            stacked = np.stack([table[m][:n] for m in table]) if n else np.empty((0, 0))
            best = stacked.min(axis=0) if n else np.array([])
            for m, vals in table.items():
                q1, med, q3 = np.percentile(vals, [25, 50, 75])
                wins = int(np.sum(vals[:n] <= best + 1e-12)) if n else 0
                wall = float(np.median(seconds[name][m]))
                lines.append(
                    f"| {name} | {b} | {m} | {med:.3f} | [{q1:.3f}, {q3:.3f}] | {wins}/{n} | "
                    f"{wall:.1f} |"
                )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    serial = {
        name: {m: {str(b): v for b, v in per.items()} for m, per in d.items()}
        for name, d in results.items()
    }
    (out / "raw.json").write_text(json.dumps({"scores": serial, "seconds": seconds}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
