"""Sample efficiency and overhead of BoTorchSampler against Optuna's GPSampler, TPE and random.

Run: `python -m benchmarks.bo [--quick] [--out benchmarks/results/bo]`. Everything runs in this
one process, interleaved (for each seed, each problem, each peer), single-threaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks._functions import PROBLEMS
from benchmarks._peers import PEERS, history_latency, run_peer

QUICK_PROBLEMS = ("branin", "hartmann6", "ackley4", "mixed", "conditional")
LATENCY_SIZES = (25, 100, 400)


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass


def _n_init(dim: int) -> int:
    # BoTorchSampler's automatic size, given to every peer that lets us set it.
    return int(min(10, max(5, dim + 1)))


def _log_regret(trues: list[float], optimum: float, budget: int) -> float:
    best = min(trues[:budget])
    return float(np.log10(max(best - optimum, 1e-12)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer seeds and problems (dev)")
    parser.add_argument("--out", default="benchmarks/results/bo")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--problems", nargs="*", default=None)
    parser.add_argument("--budgets", nargs="*", type=int, default=None)
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--latency-repeats", type=int, default=None)
    args = parser.parse_args(argv)
    _limit_threads()

    seeds = args.seeds or (3 if args.quick else 10)
    problems = args.problems or list(QUICK_PROBLEMS if args.quick else PROBLEMS)
    budgets = sorted(args.budgets or ([20, 50] if args.quick else [20, 50, 100]))
    repeats = args.latency_repeats or (3 if args.quick else 7)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    curves: dict[str, dict[str, list[list[float]]]] = {p: {k: [] for k in args.peers} for p in problems}
    seconds: dict[str, float] = {k: 0.0 for k in args.peers}
    for seed in range(seeds):
        for name in problems:
            problem = PROBLEMS[name]
            n_init = _n_init(problem.space.dim)
            for peer in args.peers:
                t0 = time.perf_counter()
                trues = run_peer(peer, problem, budgets[-1], seed, n_init)
                seconds[peer] += time.perf_counter() - t0
                curves[name][peer].append(trues)
            print(f"seed {seed} {name} done ({time.time() - started:.0f} s)", flush=True)

    latency: dict[str, dict[int, list[float]]] = {}
    lat_problem = PROBLEMS["hartmann6"]
    for size in LATENCY_SIZES:
        for peer in ("ours", "optuna_gp"):
            if peer in args.peers:
                latency.setdefault(peer, {})[size] = history_latency(
                    peer, lat_problem, size, repeats
                )
        print(f"latency at {size} done ({time.time() - started:.0f} s)", flush=True)

    report = _report(args, seeds, problems, budgets, curves, latency, seconds, started)
    (out / "results.md").write_text(report)
    (out / "raw.json").write_text(
        json.dumps({"curves": curves, "latency": {k: {str(s): v for s, v in d.items()}
                                                  for k, d in latency.items()}})
    )
    _plot(out / "regret_curves.png", problems, curves, args.peers)
    print(report)
    return 0


def _report(args, seeds, problems, budgets, curves, latency, seconds, started) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "# BoTorchSampler vs peers: log10 regret (median [IQR]; lower is better)",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores (shared), CPU, "
        "torch.set_num_threads(1)",
        f"- command: `python -m benchmarks.bo {' '.join(_argv_echo(args))}`",
        f"- mode: {'QUICK (development only: few seeds and problems)' if args.quick else 'full'};"
        f" seeds 0..{seeds - 1}; budgets {budgets}; wall time {time.time() - started:.0f} s",
        "- regret = best true (noiseless) value among evaluated configs - known optimum; "
        "initial design of every peer that allows it: clip(d + 1, 5, 10) points",
        "",
    ]
    peers = args.peers
    header = "| problem | budget | " + " | ".join(peers) + " | best |"
    lines += [header, "|" + "---|" * (len(peers) + 3)]
    wins = {p: 0 for p in peers}
    for name in problems:
        problem = PROBLEMS[name]
        for b in budgets:
            cells, medians = [], {}
            for peer in peers:
                r = [_log_regret(t, problem.optimum, b) for t in curves[name][peer]]
                q1, med, q3 = np.percentile(r, [25, 50, 75])
                medians[peer] = med
                cells.append(f"{med:.2f} [{q1:.2f}, {q3:.2f}]")
            best = min(medians.values())
            winners = [p for p in peers if medians[p] == best]
            for p in winners:
                wins[p] += 1
            lines.append(f"| {name} | {b} | " + " | ".join(cells) + f" | {', '.join(winners)} |")
    lines += ["", "Wins (lowest median, ties count for each): "
              + ", ".join(f"{p} {w}" for p, w in wins.items()), ""]
    if "ours" in peers and "optuna_gp" in peers:
        lines += ["## ours vs optuna_gp at each budget (median log10 regret difference, "
                  "negative = ours better)", ""]
        for b in budgets:
            diffs = []
            for name in problems:
                o = np.median([_log_regret(t, PROBLEMS[name].optimum, b) for t in curves[name]["ours"]])
                g = np.median([_log_regret(t, PROBLEMS[name].optimum, b)
                               for t in curves[name]["optuna_gp"]])
                diffs.append(f"{name} {o - g:+.2f}")
            lines.append(f"- budget {b}: " + ", ".join(diffs))
        lines.append("")
    if latency:
        lines += ["## Suggestion latency on Hartmann6 (seconds; random history of the given size)",
                  "", "| history | " + " | ".join(f"{p} p50 | {p} p95" for p in latency)
                  + " | ratio p50 ours/gp |", "|" + "---|" * (2 * len(latency) + 2)]
        for size in LATENCY_SIZES:
            cells = []
            for p in latency:
                v = latency[p][size]
                cells += [f"{np.percentile(v, 50):.3f}", f"{np.percentile(v, 95):.3f}"]
            ratio = ""
            if "ours" in latency and "optuna_gp" in latency:
                ratio = (f"{np.median(latency['ours'][size]) / np.median(latency['optuna_gp'][size]):.2f}")
            lines.append(f"| {size} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    lines.append("Total optimization seconds per peer in this run: "
                 + ", ".join(f"{p} {s:.0f}" for p, s in seconds.items()))
    return "\n".join(lines) + "\n"


def _argv_echo(args) -> list[str]:  # type: ignore[no-untyped-def]
    out = ["--quick"] if args.quick else []
    return out + [f"--out {args.out}"]


def _plot(path: Path, problems, curves, peers) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(5, len(problems))
    rows = (len(problems) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), problems):
        opt = PROBLEMS[name].optimum
        for peer in peers:
            runs = np.array([np.minimum.accumulate(t) for t in curves[name][peer]])
            reg = np.log10(np.maximum(runs - opt, 1e-12))
            x = np.arange(1, reg.shape[1] + 1)
            q1, med, q3 = np.percentile(reg, [25, 50, 75], axis=0)
            ax.plot(x, med, label=peer)
            ax.fill_between(x, q1, q3, alpha=0.2)
        ax.set_title(name)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("log10 regret")
    for ax in axes.ravel()[len(problems):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
