"""Our CmaEsSampler against Optuna's on more seeds: is a gap of the 10-seed table chance?

Run: `python -m benchmarks.evolutionary_seeds [--problems ackley4 levy4] [--seeds 210]
[--split 10] [--budgets 100 300 1000]`. Both samplers at their defaults, through the same
runner as `benchmarks/evolutionary.py` (seed i for both), interleaved seed by seed. The page gives
each cell twice: over the seeds the main table uses (`0 .. split-1`) and over the others, which
played no part in spotting the gap.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks._evolutionary_report import _cell, _p_worse, _verdict
from benchmarks._functions import PROBLEMS
from benchmarks.evolutionary import _run_so

OUT = Path("benchmarks/results/evolutionary_seeds")
PEERS = ("ours_cmaes", "optuna_cmaes")


def main(argv: list[str] | None = None) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", nargs="+", default=["ackley4", "levy4"])
    p.add_argument("--seeds", type=int, default=210)
    p.add_argument("--split", type=int, default=10, help="seeds of the main table")
    p.add_argument("--budgets", type=int, nargs="+", default=[100, 300, 1000])
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    budgets = sorted(args.budgets)
    command = "python -m benchmarks.evolutionary_seeds " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    started = time.time()
    raw: dict[str, Any] = {
        "meta": {
            "command": command,
            "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "seeds": args.seeds,
            "split": args.split,
            "budgets": budgets,
            "versions": {k: version(k) for k in ("lightning-autotune", "optuna", "cmaes")},
            "machine": f"{platform.machine()}, {os.cpu_count()} cores shared, CPU only",
            "load": [],
        },
        "so": {},
    }
    for name in args.problems:
        problem = PROBLEMS[name]
        cell = raw["so"].setdefault(name, {})
        for seed in range(args.seeds):
            for peer in PEERS:
                trues = _run_so(peer, name, budgets[-1], seed)
                regret = {
                    str(b): math.log10(max(min(trues[:b]) - problem.optimum, 1e-12))
                    for b in budgets
                }
                cell.setdefault(peer, []).append({"regret": regret})
            if seed % 20 == 19:
                print(f"{name} seed {seed} ({time.time() - started:.0f} s)", flush=True)
        raw["meta"]["load"].append(round(os.getloadavg()[0], 1))
    raw["meta"]["wall_s"] = round(time.time() - started)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(raw))
    (out / "results.md").write_text(report(raw))
    return 0


def report(raw: dict[str, Any]) -> str:
    """The results page: each cell over the main table's seeds and over the others."""
    m = raw["meta"]
    split, n = m["split"], m["seeds"]
    load = m["load"]
    lines = [
        "# CmaEsSampler against Optuna's CmaEsSampler on more seeds",
        "",
        f"- date: {m['date']}; machine: {m['machine']}",
        f"- command: `{m['command']}` (wall time {m['wall_s']} s)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- machine load: 1-minute load average {min(load)} to {max(load)} (after each problem)",
        f"- seeds 0..{split - 1} are those of the main table (benchmarks/results/evolutionary); "
        f"seeds {split}..{n - 1} are fresh",
        "- cells: median [IQR] of log10 regret (lower is better); verdict and p (ours worse, "
        "one-sided Mann-Whitney) as on the main page",
        "",
        "| problem | budget | seeds | ours_cmaes | optuna_cmaes | verdict | p (ours worse) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in raw["so"].items():
        for b in m["budgets"]:
            for lo, hi in ((0, split), (split, n)):
                ours, peer = runs["ours_cmaes"][lo:hi], runs["optuna_cmaes"][lo:hi]
                key = str(b)
                lines.append(
                    f"| {name} | {b} | {lo}..{hi - 1} | {_cell(ours, key)} | {_cell(peer, key)} "
                    f"| {_verdict(ours, peer, key)} | {_p_worse(ours, peer, key)} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
