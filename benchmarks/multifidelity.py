"""Multi-fidelity benchmark: how much compute each method needs to reach plain BO's result.

Run from the repository root:

    python -m benchmarks.multifidelity --seeds 3 --budget 12.5             # results.md
    python -m benchmarks.multifidelity --suite real --seeds 3 --budget 5   # real.md
    python -m benchmarks.multifidelity --quick                 # development only: 2 seeds

`--suite real` trains an MLP on digits and the MNIST subset (`_multifidelity_real`: plain BO
20 full trials, the same methods but SMAC3, the validation error as the figure).

Problems: the multi-fidelity Branin of Kandasamy et al. (2017) and BoTorch's augmented
Hartmann6 (the first alpha lowered by 0.1 (1 - s)), both minimized on the unit cube; fidelity
`s` in [0.1, 1], the target s = 1. A trial at fidelity s costs s full-trial units; a trial that
reports once per step (s = r / 9 at step r, like epochs) and is stopped at step r costs r / 9.

Methods (seed i for every method):
- plain BO: `BoTorchSampler` at full fidelity, 50 trials (the reference: 50 units).
- ours + ASHA: `BoTorchSampler` with our `SuccessiveHalvingPruner` (rungs 1, 3, 9 steps).
- staged: `fit`'s staged plan: 40% of the budget on trials at s = 0.25, then the rest at full
  fidelity in the box around the best 5 (the best 2 promoted); 20 + 8 trials for 12.5 units;
  and the same plan with `Stage(sampler='multifidelity')` in stage 2 (one model over both).
- MF BO: our `MultiFidelitySampler` (one multi-fidelity GP, cost-aware fidelity choice).
- Optuna TPE + HyperbandPruner (steps as the resource, min 1, max 9, factor 3).
- SMAC3 multi-fidelity facade (Hyperband + random forest, `_peer_runner_mf`): run in
  /work/venv-peers in a subprocess; a "not installed" row where that has no smac.
Every method other than plain BO runs until it has spent the compute budget (`--budget`,
e.g. 12.5 units: a quarter of plain BO's 50, the issue's target for reaching its result).

Figures: the compute each method spent until its best full-fidelity value reached plain BO's
best at 50 trials (median over seeds; "not reached" counts), and the log10 regret of the best
full-fidelity value at fixed compute budgets. Wall time is each method's own total.

Outputs: benchmarks/results/multifidelity/results.md and raw.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
import warnings
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import _multifidelity_real as real
from benchmarks._mf_functions import PROBLEMS
from benchmarks._multifidelity_methods import (
    METHODS,
    PLAIN_TRIALS,
    SMAC_METHOD,
    Run,
    smac_available,
)

RESULTS = Path(__file__).parent / "results" / "multifidelity"
BUDGET_SHARES = (0.2, 0.4, 0.8, 1.0)
"""Compute budgets at which regret is reported, as shares of `--budget`."""


def compute_to_reach(run: Run, target: float) -> float:
    """Compute spent when the best full value first reached `target` (inf: never)."""
    for c, b in zip(run.compute, run.best_full, strict=True):
        if b <= target + 1e-12:
            return c
    return math.inf


def best_at(run: Run, budget: float) -> float:
    best = math.inf
    for c, b in zip(run.compute, run.best_full, strict=True):
        if c > budget + 1e-9:
            break
        best = b
    return best


def optima(runs: dict[str, dict[str, list[Run]]]) -> dict[str, float]:
    """Each problem's optimum: known for the synthetic ones, else the best value any run found."""
    out = {}
    for prob, by_method in runs.items():
        found = [b for rs in by_method.values() for r in rs for b in r.best_full[-1:]]
        out[prob] = PROBLEMS[prob].optimum if prob in PROBLEMS else min(found, default=math.inf)
    return out


def summarize(runs: dict[str, dict[str, list[Run]]], budget: float) -> list[dict[str, Any]]:
    rows = []
    best = optima(runs)
    for prob, by_method in runs.items():
        plain = by_method["plain BO (full fidelity)"]
        if not plain:
            continue
        for method, rs in by_method.items():
            n = min(len(rs), len(plain))  # seeds every method of the pair has finished
            if not n:
                continue
            rs = rs[:n]
            targets = [r.best_full[-1] for r in plain[:n]]
            reach = [compute_to_reach(r, t) for r, t in zip(rs, targets, strict=True)]
            row: dict[str, Any] = {
                "problem": prob,
                "method": method,
                "seeds": len(rs),
                "reached": sum(math.isfinite(c) for c in reach),
                "compute_to_reach_median": statistics.median(reach),
                "wall_s_median": statistics.median(r.seconds for r in rs),
                "trials_median": statistics.median(r.trials for r in rs),
                "compute_median": statistics.median(r.compute[-1] for r in rs),
                "value_final": statistics.median(r.best_full[-1] for r in rs),
                "log10_regret_final": statistics.median(
                    _log_regret(r.best_full[-1] - best[prob]) for r in rs
                ),
            }
            for b in (share * budget for share in BUDGET_SHARES):
                regrets = [best_at(r, b) - best[prob] for r in rs]
                logs = [
                    math.log10(max(x, 1e-12)) if math.isfinite(x) else math.inf for x in regrets
                ]
                row[f"log10_regret_{b:g}"] = statistics.median(logs)
                row[f"value_{b:g}"] = statistics.median(best_at(r, b) for r in rs)
            rows.append(row)
    return rows


def _log_regret(x: float) -> float:
    return math.log10(max(x, 1e-12)) if math.isfinite(x) else math.inf


def _fmt(x: float, missing: str = "not reached", digits: int = 2) -> str:
    return missing if not math.isfinite(x) else f"{x:.{digits}f}"


def table(rows: list[dict[str, Any]], smac: bool, budget: float, suite: str = "synthetic") -> str:
    """The markdown table: log10 regret (synthetic) or the validation error (real training)."""
    budgets = [share * budget for share in BUDGET_SHARES]
    synthetic = suite == "synthetic"
    plain_n = PLAIN_TRIALS if synthetic else real.PLAIN_TRIALS
    what = "log10 regret" if synthetic else "val error"
    head = (
        f"| problem | method | seeds reaching plain BO@{plain_n} | compute to reach (median) | "
        + " | ".join(f"{what} @ {b:g}" for b in budgets)
        + f" | compute spent | {what} at the end | wall s (median) |\n|"
        + "---|" * (7 + len(budgets))
        + "\n"
    )
    key = "log10_regret" if synthetic else "value"
    digits = 2 if synthetic else 3
    lines = []
    for r in rows:
        cells = " | ".join(_fmt(r[f"{key}_{b:g}"], "no full trial yet", digits) for b in budgets)
        lines.append(
            f"| {r['problem']} | {r['method']} | {r['reached']}/{r['seeds']} | "
            f"{_fmt(r['compute_to_reach_median'])} | {cells} | {r['compute_median']:.1f} | "
            f"{_fmt(r[f'{key}_final'], 'no full trial', digits)} | {r['wall_s_median']:.1f} |"
        )
    if synthetic and not smac:
        for prob in dict.fromkeys(r["problem"] for r in rows):
            lines.append(
                f"| {prob} | {SMAC_METHOD} | not installed (/work/venv-peers has no "
                "smac) | | " + " | ".join("" for _ in budgets) + " | | | |"
            )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="development only: 2 seeds")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--budget",
        type=float,
        default=25.0,
        help="compute budget of the methods other than plain BO",
    )
    parser.add_argument(
        "--suite",
        choices=("synthetic", "real"),
        default="synthetic",
        help="synthetic functions (results.md) or real training (real.md)",
    )
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument(
        "--table-from-raw",
        action="store_true",
        help="rewrite results.md from the stored raw.json (no new runs)",
    )
    args = parser.parse_args(argv)
    if args.table_from_raw:
        rewrite_table(args.budget, args.suite)
        return
    synthetic = args.suite == "synthetic"
    seeds = (2 if synthetic else 1) if args.quick else args.seeds
    budget = (12.5 if synthetic else 4.0) if args.quick else args.budget
    problems: dict[str, Any] = PROBLEMS if synthetic else real.PROBLEMS
    methods: dict[str, Any] = dict(METHODS) if synthetic else dict(real.METHODS)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    smac = smac_available()
    if not smac:
        methods.pop(SMAC_METHOD, None)
    runs: dict[str, dict[str, list[Run]]]
    runs = {prob: {m: [] for m in methods} for prob in args.problems or problems}
    for seed in range(seeds):
        for prob in runs:
            for method, fn in methods.items():
                t0 = time.perf_counter()
                runs[prob][method].append(fn(problems[prob], seed, budget))
                print(f"{prob} seed {seed} {method}: {time.perf_counter() - t0:.0f} s", flush=True)
            write(runs, args, seeds, budget, smac, started)


def write(
    runs: dict[str, dict[str, list[Run]]],
    args: argparse.Namespace,
    seeds: int,
    budget: float,
    smac: bool,
    started: float,
) -> None:
    rows = summarize(runs, budget)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only"
    synthetic = args.suite == "synthetic"
    command = "python -m benchmarks.multifidelity" + (
        " --quick" if args.quick else f" --seeds {seeds} --budget {budget:g}"
    )
    if not synthetic:
        command += " --suite real"
    if args.problems:
        command += " --problems " + " ".join(args.problems)
    import botorch
    import optuna

    note = "QUICK MODE (development only, too small to conclude)\n\n" if args.quick else ""
    header = (
        f"{note}Date {stamp}; `{command}`; {machine}; torch threads 1; botorch "
        f"{botorch.__version__}, optuna {optuna.__version__}"
        f"{'' if not smac or not synthetic else ', smac ' + _smac_version()}; plain BO "
        f"{PLAIN_TRIALS if synthetic else real.PLAIN_TRIALS} full-fidelity trials, every "
        f"other method {budget:g} full-trial units of compute; "
        f"seeds per problem as listed (a run stopped early lists fewer); total run "
        f"{time.perf_counter() - started:.0f} s.\n\n"
    )
    md, raw = _files(args.suite)
    (RESULTS / md).write_text(header + table(rows, smac, budget, args.suite))
    (RESULTS / raw).write_text(
        json.dumps(
            {
                "command": command,
                "date": stamp,
                "machine": machine,
                "rows": [
                    {
                        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                        for k, v in r.items()
                    }
                    for r in rows
                ],
                "runs": {
                    prob: {m: [asdict(r) for r in rs] for m, rs in by.items()}
                    for prob, by in runs.items()
                },
            },
            indent=1,
            default=lambda x: None,
        )
    )


def _files(suite: str) -> tuple[str, str]:
    return ("results.md", "raw.json") if suite == "synthetic" else ("real.md", "raw_real.json")


def _smac_version() -> str:
    import subprocess

    code = "from importlib.metadata import version; print(version('smac'))"
    done = subprocess.run(
        ["/work/venv-peers/bin/python", "-c", code], capture_output=True, text=True, check=False
    )
    return f"{done.stdout.strip() or 'unknown'} (/work/venv-peers)"


def rewrite_table(budget: float, suite: str) -> None:
    """The table again from the raw file, with the header of the run that wrote it."""
    md, raw_name = _files(suite)
    raw = json.loads((RESULTS / raw_name).read_text())
    runs = {
        prob: {m: [Run(**r) for r in rs] for m, rs in by.items()}
        for prob, by in raw["runs"].items()
    }
    rows = summarize(runs, budget)
    header = (RESULTS / md).read_text().split("\n\n| problem")[0]
    (RESULTS / md).write_text(header + "\n\n" + table(rows, smac_available(), budget, suite))


if __name__ == "__main__":
    main()
