"""Sample efficiency and overhead of BoTorchSampler against Optuna's GPSampler, TPE and random.

Run: `python -m benchmarks.bo [--quick] [--out benchmarks/results/bo]`. Everything runs in this
one process, interleaved (for each seed, each problem, each peer), single-threaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks._functions import PROBLEMS
from benchmarks._peers import BATCH_PEERS, EXTRA_PEERS, PEERS, history_latency, run_peer

QUICK_PROBLEMS = ("branin", "hartmann6", "ackley4", "mixed", "conditional")
LATENCY_SIZES = (25, 100, 400)


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
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
    parser.add_argument("--problems", nargs="*", default=None, help="none given: latency only")
    parser.add_argument("--budgets", nargs="*", type=int, default=None)
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        choices=[*PEERS, *EXTRA_PEERS, *BATCH_PEERS],
        help="ours_q4 and optuna_gp_q4 (4 suggestions at a time), ours_async4 and "
        "optuna_gp_async4 (4 workers refilled as trials of random length end) are reported "
        "against the same peer run sequentially; ours_mo "
        "(the default sampler of constrained or multi-objective studies) is a table column",
    )
    parser.add_argument("--latency-repeats", type=int, default=None)
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument(
        "--merge", nargs="*", default=None, help="combine the raw.json of earlier runs into --out"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        return _merge([Path(d) for d in args.merge], out)
    _limit_threads()

    seeds = args.seeds or (3 if args.quick else 10)
    problems = (
        list(QUICK_PROBLEMS if args.quick else PROBLEMS) if args.problems is None else args.problems
    )
    budgets = sorted(args.budgets or ([20, 50] if args.quick else [20, 50, 100]))
    repeats = args.latency_repeats or (5 if args.quick else 25)
    started = time.time()

    curves: dict[str, dict[str, list[list[float]]]] = {}
    seconds: dict[str, float] = {k: 0.0 for k in args.peers}
    latency: dict[str, dict[str, list[float]]] = {}
    command = "python -m benchmarks.bo " + " ".join(argv if argv is not None else sys.argv[1:])

    def save() -> dict:  # type: ignore[type-arg]
        # written after every problem, so an interrupted run keeps what it finished
        raw = {
            "meta": {
                "command": command,
                "quick": args.quick,
                "seeds": seeds,
                "budgets": budgets,
                "peers": args.peers,
                "problems": list(curves),
                "wall_s": time.time() - started,
                "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            },
            "curves": curves,
            "latency": latency,
            "seconds": seconds,
        }
        (out / "raw.json").write_text(json.dumps(raw))
        return raw

    if not args.no_latency:
        lat_problem = PROBLEMS["hartmann6"]
        for size in LATENCY_SIZES:
            for peer in ("ours", "optuna_gp"):
                if peer in args.peers:
                    latency.setdefault(peer, {})[str(size)] = history_latency(
                        peer, lat_problem, size, repeats
                    )
            print(f"latency at {size} done ({time.time() - started:.0f} s)", flush=True)
        save()

    for name in problems:
        problem = PROBLEMS[name]
        n_init = _n_init(problem.space.dim)
        runs: dict[str, list[list[float]]] = {k: [] for k in args.peers}
        for seed in range(seeds):
            # peers interleaved within each seed, so they meet the same machine state
            for peer in args.peers:
                t0 = time.perf_counter()
                runs[peer].append(run_peer(peer, problem, budgets[-1], seed, n_init))
                seconds[peer] += time.perf_counter() - t0
            print(f"{name} seed {seed} done ({time.time() - started:.0f} s)", flush=True)
        curves[name] = runs
        save()
    return _write(out, [save()])


def _merge(dirs: list[Path], out: Path) -> int:
    raws = [json.loads((d / "raw.json").read_text()) for d in dirs]
    return _write(out, raws)


def _write(out: Path, raws: list[dict]) -> int:  # type: ignore[type-arg]
    curves: dict[str, dict[str, list[list[float]]]] = {}
    latency: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, float] = {}
    for raw in raws:
        # per problem and per peer, so a later run can add a peer to problems already run
        for name, runs in raw["curves"].items():
            curves.setdefault(name, {}).update(runs)
        for peer, by_size in raw["latency"].items():
            latency.setdefault(peer, {}).update(by_size)
        for peer, s in raw["seconds"].items():
            seconds[peer] = seconds.get(peer, 0.0) + s
    metas = [raw["meta"] for raw in raws]
    peers = list(dict.fromkeys(p for m in metas for p in m["peers"]))
    report = _report(metas, peers, curves, latency, seconds)
    (out / "results.md").write_text(report)
    main_peers = [p for p in peers if p not in BATCH_PEERS]
    if curves:
        _plot(out / "regret_curves.png", list(curves), curves, main_peers)
    print(report)
    return 0


def _report(metas, all_peers, curves, latency, seconds) -> str:  # type: ignore[no-untyped-def]
    meta = metas[0]
    budgets, seeds = meta["budgets"], meta["seeds"]
    peers = [p for p in all_peers if p not in BATCH_PEERS]
    lines = [
        "# BoTorchSampler vs peers: log10 regret (median [IQR]; lower is better)",
        "",
        f"- date: {meta['date']}; machine: {platform.machine()}, {os.cpu_count()} cores "
        "shared with other jobs, CPU only, torch.set_num_threads(1)",
        *[f"- command: `{m['command']}` (wall time {m['wall_s']:.0f} s)" for m in metas],
        f"- mode: {'QUICK (development only: few seeds and problems)' if meta['quick'] else 'full'}"
        f"; seeds 0..{seeds - 1}; budgets {budgets}",
        "- regret = best true (noiseless) value among evaluated configs - known optimum; "
        "initial design of every peer that allows it: clip(d + 1, 5, 10) points",
        "",
    ]
    header = "| problem | budget | " + " | ".join(peers) + " | best |"
    lines += [header, "|" + "---|" * (len(peers) + 3)]
    wins = {p: 0 for p in peers}
    for name in curves:
        problem = PROBLEMS[name]
        if not peers or not all(p in curves[name] for p in peers):
            continue  # a batch-only run has no sequential peers to tabulate
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
    lines += [
        "",
        "Wins (lowest median, ties count for each): "
        + ", ".join(f"{p} {w}" for p, w in wins.items()),
        "",
    ]
    if "ours" in peers and "optuna_gp" in peers:
        lines += [
            "## ours vs optuna_gp: median log10 regret difference (negative = ours better)",
            "",
            *_difference_lines(curves, "ours", "optuna_gp", budgets),
            "",
        ]
    lines += _batch_section(curves, budgets)
    if latency:
        lines += [
            "## Suggestion latency on Hartmann6 (seconds; random history of the given size)",
            "",
            "| history | "
            + " | ".join(f"{p} p50 | {p} p95" for p in latency)
            + " | ratio p50 ours/gp |",
            "|" + "---|" * (2 * len(latency) + 2),
        ]
        for size in LATENCY_SIZES:
            cells = []
            for p in latency:
                v = latency[p][str(size)]
                cells += [f"{np.percentile(v, 50):.3f}", f"{np.percentile(v, 95):.3f}"]
            ratio = ""
            if "ours" in latency and "optuna_gp" in latency:
                o, g = latency["ours"][str(size)], latency["optuna_gp"][str(size)]
                ratio = f"{np.median(o) / np.median(g):.2f}"
            lines.append(f"| {size} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    lines.append(
        "Total optimization seconds per peer: "
        + ", ".join(f"{p} {s:.0f}" for p, s in seconds.items())
    )
    return "\n".join(lines) + "\n"


def _median(curves, name: str, peer: str, budget: int) -> float:  # type: ignore[no-untyped-def]
    """Median over seeds of `peer`'s log10 regret on problem `name` after `budget` evaluations."""
    optimum = PROBLEMS[name].optimum
    return float(np.median([_log_regret(t, optimum, budget) for t in curves[name][peer]]))


def _difference_lines(curves, a: str, b: str, budgets) -> list[str]:  # type: ignore[no-untyped-def]
    """Per budget, each problem's median log10 regret of peer `a` minus that of peer `b`."""
    names = [n for n in curves if a in curves[n] and b in curves[n]]
    return [
        f"- budget {x}: "
        + ", ".join(
            f"{n} {_median(curves, n, a, x) - _median(curves, n, b, x):+.2f}" for n in names
        )
        for x in budgets
    ]


# (sequential peer, the same peer 4 at a time, label)
_BATCH_PAIRS = (
    ("ours", "ours_q4", "ours"),
    ("optuna_gp", "optuna_gp_q4", "GPSampler"),
    ("ours", "ours_async4", "ours async"),
    ("optuna_gp", "optuna_gp_async4", "GPSampler async"),
)


def _batch_section(curves, budgets) -> list[str]:  # type: ignore[no-untyped-def]
    """Regret of 4-at-a-time suggestions over sequential ones, at equal evaluation counts."""
    pairs = [
        (seq, bat, label)
        for seq, bat, label in _BATCH_PAIRS
        if any(seq in runs and bat in runs for runs in curves.values())
    ]
    names = [n for n in curves if any(s in curves[n] and b in curves[n] for s, b, _ in pairs)]
    if not names:
        return []
    # a batch run may have used a shorter budget than the main one
    longest = min(
        len(t) for n in names for _, b, _ in pairs if b in curves[n] for t in curves[n][b]
    )
    budgets = [b for b in budgets if b <= longest]
    header = [f"{label} at {b}" for _, _, label in pairs for b in budgets]
    lines = [
        "## Batches: 4 suggestions at a time (3 running) vs one at a time",
        "",
        "Median regret of a peer asked 4 at a time / its median regret asked one at a time, "
        "at equal evaluation counts (1.00 = no loss from batching; the target for ours is "
        "<= 1.5). 'async': 4 workers each refilled when its trial ends (random trial "
        "lengths), evaluations counted as results arrive.",
        "",
        "| problem | " + " | ".join(header) + " |",
        "|" + "---|" * (len(header) + 1),
    ]
    for name in names:
        cells = []
        for seq_peer, bat_peer, _ in pairs:
            for b in budgets:
                if seq_peer not in curves[name] or bat_peer not in curves[name]:
                    cells.append("")
                    continue
                gap = _median(curves, name, bat_peer, b) - _median(curves, name, seq_peer, b)
                cells.append(f"{10**gap:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for ours, theirs in (("ours_q4", "optuna_gp_q4"), ("ours_async4", "optuna_gp_async4")):
        if any(ours in runs and theirs in runs for runs in curves.values()):
            lines += [
                "",
                f"{ours} - {theirs}, median log10 regret (negative = ours better):",
                "",
                *_difference_lines(curves, ours, theirs, budgets),
            ]
    return [*lines, ""]


def _plot(path: Path, problems, curves, peers) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(5, len(problems))
    rows = (len(problems) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), problems, strict=False):
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
    for ax in axes.ravel()[len(problems) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
