"""The results page of `benchmarks.bo`: regret tables, batch tables, latency, and a plot."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._functions import PROBLEMS

__all__ = ["HIGH_DIM", "write_results"]

HIGH_DIM = 20
"""Problems with this many parameters or more are run at the larger budgets."""

_BATCH_SUFFIXES = ("_q4", "_async4")

Raw = dict[str, Any]
Curves = dict[str, dict[str, list[list[float]]]]


def _is_batch(peer: str) -> bool:
    return peer.endswith(_BATCH_SUFFIXES)


def _log_regret(trues: list[float], optimum: float, budget: int) -> float:
    best = min(trues[:budget])
    return float(np.log10(max(best - optimum, 1e-12)))


def _budgets(metas: list[dict[str, Any]], name: str) -> list[int]:
    """The budgets of problem `name` in any of the runs (each run has its own)."""
    high = len(PROBLEMS[name].space.names) >= HIGH_DIM
    found = {
        b for m in metas for b in (m.get("budgets_high", [100, 200]) if high else m["budgets"])
    }
    return sorted(found)


def write_results(out: Path, raws: list[Raw]) -> int:
    """Combine the raw results of one or more runs and write `results.md` and the plot."""
    curves: Curves = {}
    errors: dict[str, dict[str, str]] = {}
    latency: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, float] = {}
    versions: dict[str, str] = {}
    for raw in raws:
        # per problem and per peer, so a later run can add a peer to problems already run
        for name, runs in raw["curves"].items():
            curves.setdefault(name, {}).update(runs)
        for name, failed in raw.get("errors", {}).items():
            errors.setdefault(name, {}).update(failed)
        for peer, by_size in raw["latency"].items():
            latency.setdefault(peer, {}).update(by_size)
        for peer, s in raw["seconds"].items():
            seconds[peer] = seconds.get(peer, 0.0) + s
        versions.update(raw["meta"].get("versions", {}))
    metas = [raw["meta"] for raw in raws]
    peers = list(dict.fromkeys(p for m in metas for p in m["peers"]))
    report = _report(metas, peers, curves, errors, latency, seconds, versions)
    (out / "results.md").write_text(report)
    main_peers = [p for p in peers if not _is_batch(p)]
    if curves:
        _plot(out / "regret_curves.png", list(curves), curves, main_peers)
    print(report)
    return 0


def _header(metas: list[dict[str, Any]], versions: dict[str, str]) -> list[str]:
    meta = metas[0]
    return [
        "# BoTorchSampler vs peers: log10 regret (median [IQR]; lower is better)",
        "",
        f"- date: {meta['date']}; machine: {platform.machine()}, {os.cpu_count()} cores "
        "shared with other jobs, CPU only, one torch thread",
        *[f"- command: `{m['command']}` (wall time {m['wall_s']:.0f} s)" for m in metas],
        f"- mode: {'QUICK (development only: few seeds and problems)' if meta['quick'] else 'full'}"
        "; seeds 0..N-1 and budgets as each command says, "
        f"{meta.get('budgets_high', [100, 200])} for {HIGH_DIM} parameters and more",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "- regret = best true (noiseless) value among evaluated configs - known optimum; "
        "initial design of every peer that allows it: clip(d + 1, 5, 10) points (Ax: its "
        "default generation strategy); every problem's optimum is moved off the centre and "
        "off grid points by a fixed shift (benchmarks/_functions.py); 'not run': the peer was "
        "not run on that problem (the slow peers on a subset, to fit the machine)",
        "",
    ]


def _table(
    curves: Curves,
    errors: dict[str, dict[str, str]],
    metas: list[dict[str, Any]],
    peers: list[str],
) -> tuple[list[str], dict[str, int], int]:
    """Rows of one regret table, wins per peer, and the number of cells."""
    lines = [
        "| problem | budget | " + " | ".join(peers) + " | best |",
        "|" + "---|" * (len(peers) + 3),
    ]
    wins = {p: 0 for p in peers}
    cells_total = 0
    for name in curves:
        if not any(p in curves[name] for p in peers):
            continue
        optimum = PROBLEMS[name].optimum
        for b in _budgets(metas, name):
            cells, medians = [], {}
            for peer in peers:
                runs = curves[name].get(peer)
                if runs and min(len(t) for t in runs) < b:
                    cells.append("not run")
                    continue
                if not runs:
                    error = errors.get(name, {}).get(peer)
                    cells.append(error.split(":")[0] if error else "not run")
                    continue
                r = [_log_regret(t, optimum, b) for t in runs]
                q1, med, q3 = np.percentile(r, [25, 50, 75])
                medians[peer] = med
                cells.append(f"{med:.2f} [{q1:.2f}, {q3:.2f}]")
            if not medians:
                continue
            best = min(medians.values())
            winners = [p for p in medians if medians[p] == best]
            for p in winners:
                wins[p] += 1
            cells_total += 1
            lines.append(f"| {name} | {b} | " + " | ".join(cells) + f" | {', '.join(winners)} |")
    return lines, wins, cells_total


def _report(metas, all_peers, curves, errors, latency, seconds, versions) -> str:  # type: ignore[no-untyped-def]
    lines = _header(metas, versions)
    peers = [p for p in all_peers if not _is_batch(p)]
    batch = [p for p in all_peers if _is_batch(p)]
    for title, group in (("", peers), ("## Batches: 4 suggestions at a time", batch)):
        if not group:
            continue
        if title:
            lines += [
                title,
                "",
                "Each peer asked for 4 configurations at a time (3 still running when the "
                "4th is asked); '_async4': 4 workers each refilled when its trial ends (random "
                "trial lengths), evaluations counted as results arrive.",
                "",
            ]
        rows, wins, total = _table(curves, errors, metas, group)
        lines += rows
        lines += [
            "",
            f"Wins of {total} cells (lowest median, ties count for each): "
            + ", ".join(f"{p} {w}" for p, w in wins.items()),
            "",
        ]
    failed = [(n, p, e) for n, by_peer in errors.items() for p, e in by_peer.items()]
    if failed:
        lines += ["Peers that did not run:", "", *[f"- {p} on {n}: {e}" for n, p, e in failed], ""]
    lines += _latency_lines(latency)
    lines.append(
        "Total optimization seconds per peer: "
        + ", ".join(f"{p} {s:.0f}" for p, s in seconds.items())
    )
    return "\n".join(lines) + "\n"


def _latency_lines(latency: dict[str, dict[str, list[float]]]) -> list[str]:
    if not latency:
        return []
    sizes = sorted({int(s) for by in latency.values() for s in by})
    lines = [
        "## Suggestion latency on Hartmann6 (seconds; random history of the given size)",
        "",
        "| history | "
        + " | ".join(f"{p} p50 | {p} p95" for p in latency)
        + " | ratio p50 ours/gp |",
        "|" + "---|" * (2 * len(latency) + 2),
    ]
    for size in sizes:
        cells = []
        for p in latency:
            v = latency[p].get(str(size), [float("nan")])
            cells += [f"{np.percentile(v, 50):.3f}", f"{np.percentile(v, 95):.3f}"]
        ratio = ""
        if "ours" in latency and "optuna_gp" in latency:
            o, g = latency["ours"][str(size)], latency["optuna_gp"][str(size)]
            ratio = f"{np.median(o) / np.median(g):.2f}"
        lines.append(f"| {size} | " + " | ".join(cells) + f" | {ratio} |")
    return [*lines, ""]


def _plot(path: Path, problems, curves, peers) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(problems))
    rows = (len(problems) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), problems, strict=False):
        opt = PROBLEMS[name].optimum
        for peer in peers:
            if not curves[name].get(peer):
                continue
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
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
