"""The pruning benchmark's report: the per-policy table, raw JSON and figure."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.pruning import PolicyRun

__all__ = ["summarize", "table", "write"]


def summarize(all_runs: list[dict[str, PolicyRun]]) -> list[dict[str, Any]]:
    """One row per policy, totals over every sequence."""
    rows = []
    names = list(all_runs[0])
    base_epochs = sum(r["no pruning"].epochs for r in all_runs)
    base_seconds = sum(r["no pruning"].seconds for r in all_runs)
    for name in names:
        epochs = sum(r[name].epochs for r in all_runs)
        seconds = sum(r[name].seconds for r in all_runs)
        accs, deltas, false_prunes, pruned = [], [], 0, 0
        for runs in all_runs:
            winner = runs["no pruning"].best()
            best = runs[name].best()
            acc = best.test_accuracy if best is not None else math.nan
            base = winner.test_accuracy if winner is not None else math.nan
            accs.append(acc)
            deltas.append(acc - base)  # type: ignore[operator]
            if winner is not None and runs[name].trials[winner.number].pruned:
                false_prunes += 1
            pruned += sum(t.pruned for t in runs[name].trials)
        rows.append(
            {
                "policy": name,
                "epochs": epochs,
                "epoch_reduction": base_epochs / epochs if epochs else math.inf,
                "seconds": seconds,
                "time_ratio": seconds / base_seconds,
                "best_test_accuracy_mean": statistics.fmean(accs),
                "accuracy_delta_worst": min(deltas),
                "false_prunes": false_prunes,
                "pruned_trials": pruned,
            }
        )
    return rows


def table(rows: list[dict[str, Any]], n_seq: int) -> str:
    head = (
        "| policy | epochs | fewer epochs (x) | wall s | time / no pruning | best test acc % "
        f"(mean of {n_seq}) | worst acc delta (pts) | false prunes of winner | pruned trials |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['policy']} | {r['epochs']:.0f} | {r['epoch_reduction']:.2f} | {r['seconds']:.0f} "
        f"| {r['time_ratio']:.2f} | {r['best_test_accuracy_mean']:.2f} "
        f"| {r['accuracy_delta_worst']:+.2f} | {r['false_prunes']}/{n_seq} "
        f"| {r['pruned_trials']} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [r["policy"] for r in rows]
    colors = [
        "grey" if n == "no pruning" else ("tab:orange" if n.startswith("optuna") else "tab:blue")
        for n in names
    ]
    ax.barh(names, [r["epochs"] for r in rows], color=colors)
    for i, r in enumerate(rows):
        ax.text(r["epochs"], i, f" {r['best_test_accuracy_mean']:.1f}%", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("total training epochs (label: best test accuracy found)")
    ax.set_title("Pruning on digits: epochs spent for the same trial configs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    all_runs: list[dict[str, PolicyRun]],
    quick: bool,
    started: float,
    n_trials: int,
    max_epochs: int,
    results: Path,
) -> None:
    """Write the table, raw JSON and figure for the sequences run so far."""
    n_seq = len(all_runs)
    rows = summarize(all_runs)
    md = table(rows, n_seq)
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only"
    command = "python -m benchmarks.pruning" + (" --quick" if quick else "")
    note = "QUICK MODE (development only, too small to conclude)\n\n" if quick else ""
    header = (
        f"{note}Date {stamp}; `{command}`; {machine}; torch threads 1; "
        f"{n_seq} config sequence(s) x {n_trials} trials x up to {max_epochs} epochs on digits; "
        f"total run {time.perf_counter() - started:.0f} s.\n\n"
    )
    (results / "results.md").write_text(header + md)
    (results / "raw.json").write_text(
        json.dumps(
            {
                "command": command,
                "date": stamp,
                "machine": machine,
                "rows": rows,
                "runs": [
                    {name: [asdict(t) for t in run.trials] for name, run in runs.items()}
                    for runs in all_runs
                ],
            },
            indent=1,
        )
    )
    plot(rows, results / "pruning.png")
    print(header + md)
