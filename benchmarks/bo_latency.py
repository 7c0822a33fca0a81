"""Suggestion time of BoTorchSampler against Optuna's GPSampler as the history grows, and the
cost and the regret effect of thinning long histories.

Part 1: seconds per suggestion (p50 over `--repeats` timed asks after one untimed warm-up, each
told FAILED so the history keeps its size: `benchmarks._peers.history_latency`) on Hartmann6
with 25, 100 and 400 random trials of history for both samplers, and 2,000 for ours, with its
thinning (`lightning_autotune.samplers._gp.select_history`: the best half of 300 and the most
recent others) and without (the whole history fitted).

Part 2: the thinning's effect on regret. A full study past 300 trials is beyond this machine, so
the same rule is applied at a smaller limit (`--limit`, default 40) and compared with no limit
over `--budget` sequential evaluations (default 100) on a few problems and seeds.

Run: `python -m benchmarks.bo_latency [--quick] [--out benchmarks/results/bo_latency]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks._bo_report import _log_regret
from benchmarks._functions import PROBLEMS
from benchmarks._peers import history_latency, run_peer
from benchmarks.bo import _limit_threads, _n_init, _versions

__all__ = ["history_limit", "latency_rows", "main"]

NO_LIMIT = 10**9


@contextmanager
def history_limit(limit: int) -> Iterator[None]:
    """Within the block, BoTorchSampler fits on at most `limit` trials (`NO_LIMIT`: all)."""
    from lightning_autotune.samplers import _gp

    original = _gp.select_history
    # the sampler imports select_history from the module on each suggestion
    _gp.select_history = partial(original, limit=limit)  # type: ignore[assignment]
    try:
        yield
    finally:
        _gp.select_history = original  # type: ignore[assignment]


def latency_rows(times: dict[str, dict[str, list[float]]]) -> list[str]:
    """Markdown rows: per history size, each sampler's p50 and ours over GPSampler.

    Args:
        times: Sampler -> history size (as a string) -> seconds of each timed suggestion.
    """
    samplers = list(times)
    sizes = sorted({int(s) for by in times.values() for s in by})
    head = " | ".join(f"{s} p50 (s)" for s in samplers)
    both = {"ours", "optuna_gp"} <= set(samplers)
    ratio_head = " ours / optuna_gp |" if both else ""
    lines = [f"| history | {head} |{ratio_head}", "|---" * (len(samplers) + 1 + both) + "|"]
    for size in sizes:
        p50 = {s: float(np.median(times[s][str(size)])) for s in samplers if str(size) in times[s]}
        cells = " | ".join(f"{p50[s]:.3f}" if s in p50 else "-" for s in samplers)
        ratio = ""
        if both:
            ratio = f" {p50['ours'] / p50['optuna_gp']:.2f} |" if len(p50) == 2 else " - |"
        lines.append(f"| {size} | {cells} |{ratio}")
    return lines


def _regret_rows(regret: dict[str, dict[str, list[list[float]]]], budgets: list[int]) -> list[str]:
    variants = sorted({v for by in regret.values() for v in by})
    lines = [
        "| problem | budget | " + " | ".join(variants) + " |",
        "|---" * (len(variants) + 2) + "|",
    ]
    for name, by in regret.items():
        for b in budgets:
            cells = []
            for v in variants:
                r = [_log_regret(t, PROBLEMS[name].optimum, b) for t in by.get(v, [])]
                if r:
                    q1, med, q3 = np.percentile(r, [25, 50, 75])
                    cells.append(f"{med:.2f} [{q1:.2f}, {q3:.2f}]")
                else:
                    cells.append("not run")
            lines.append(f"| {name} | {b} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs (dev)")
    parser.add_argument("--out", default="benchmarks/results/bo_latency")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--large", type=int, default=None, help="history of ours alone")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--large-repeats", type=int, default=None)
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: this process's CPU seconds, steady on a loaded machine (default); wall",
    )
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    quick = args.quick
    sizes = args.sizes if args.sizes is not None else ([25] if quick else [25, 100, 400])
    large = args.large if args.large is not None else (200 if quick else 2000)
    repeats = args.repeats or (2 if quick else 10)
    large_repeats = args.large_repeats or (1 if quick else 3)
    problems = args.problems if args.problems is not None else ["hartmann6", "branin"]
    seeds = args.seeds or (1 if quick else 5)
    budget = args.budget or (30 if quick else 100)
    _limit_threads()
    started, load_before = time.time(), os.getloadavg()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lat = PROBLEMS["hartmann6"]
    times: dict[str, dict[str, list[float]]] = {"ours": {}, "optuna_gp": {}}
    large_times: dict[str, dict[str, list[float]]] = {}
    regret: dict[str, dict[str, list[list[float]]]] = {}
    limited = f"limit {args.limit}"

    def save() -> None:
        raw = {"times": times, "large": large_times, "regret": regret, "args": vars(args)}
        (out / "raw.json").write_text(json.dumps(raw))

    for size in sizes:
        for peer in times:
            times[peer][str(size)] = history_latency(peer, lat, size, repeats, clock=clock)
        print(f"latency {size}: {time.time() - started:.0f} s", flush=True)
        save()
    for variant, limit in (("thinned (300)", 300), ("whole history", NO_LIMIT)):
        with history_limit(limit):
            large_times[variant] = {
                str(large): history_latency("ours", lat, large, large_repeats, clock=clock)
            }
        print(f"latency {large} {variant}: {time.time() - started:.0f} s", flush=True)
        save()
    for name in problems:
        problem = PROBLEMS[name]
        for seed in range(seeds):
            for variant, limit in ((limited, args.limit), ("whole history", NO_LIMIT)):
                with history_limit(limit):
                    trace = run_peer("ours", problem, budget, seed, _n_init(problem.space.dim))
                regret.setdefault(name, {}).setdefault(variant, []).append(trace)
            print(f"{name} seed {seed}: {time.time() - started:.0f} s", flush=True)
            save()
    command = "python -m benchmarks.bo_latency " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    versions = ", ".join(f"{k} {v}" for k, v in sorted(_versions().items()))
    budgets = sorted({min(b, budget) for b in (budget // 2, budget)})
    lines = [
        "# BoTorchSampler suggestion time against Optuna's GPSampler, and history thinning",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} "
        f"cores shared with other jobs (1-minute load {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end), CPU only, one torch thread",
        f"- command: `{command}` (wall time {time.time() - started:.0f} s)",
        f"- versions: {versions}",
        f"- thread settings: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} (unset lets "
        "NumPy's BLAS in GPSampler's fit spin extra threads, counted in CPU seconds)",
        f"- Hartmann6, random history, p50 of {repeats} timed suggestions ({large_repeats} at "
        f"{large}), {'CPU seconds of the process' if args.clock == 'cpu' else 'wall seconds'}"
        "; target: ours at most 0.5x GPSampler at 25, 100, 400, under 1 s at 2,000",
        "",
        *latency_rows(times),
        "",
        f"## Ours at {large} trials of history",
        "",
        *latency_rows(large_times),
        "",
        f"## Regret with the history thinned to {args.limit} trials against the whole history",
        "",
        f"log10 regret, median [IQR] over {seeds} seeds, sequential; the thinning rule of 300 "
        f"trials applied at {args.limit}, so it acts from evaluation {args.limit + 1} on.",
        "",
        *_regret_rows(regret, budgets),
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
