"""Tables of the knowledge-base benchmark (`benchmarks.knowledge`): regret, reach, targets."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUDGETS", "OURS", "write_report"]

BUDGETS = (5, 10, 20, 50)
OURS = ("transfer", "zero_shot")
"""The transfer methods the targets are checked for (each on its own)."""
_REACH_TARGET = 12
_NEGATIVE_BOUND = 1.1

Curves = dict[str, dict[str, list[list[float]]]]


def best_so_far(r: list[float], b: int) -> float:
    """log10 of the best regret among the first `b` trials."""
    return float(np.log10(max(min(r[:b]), 1e-12)))


def reach(r: list[float], target: float) -> float:
    """Trials until the best regret is at most `target` (log10); inf if never."""
    for i in range(len(r)):
        if best_so_far(r, i + 1) <= target:
            return float(i + 1)
    return float("inf")


def _reaches(runs: list[list[float]], cold: list[list[float]]) -> list[float]:
    top = max(BUDGETS)
    return [reach(r, best_so_far(c, top)) for r, c in zip(runs, cold, strict=True)]


_NEVER = 1e9
"""Stands in for 'not reached within the budget' (inf) so percentiles stay defined."""


def _stats(v: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = np.percentile(np.minimum(v, _NEVER), [25, 50, 75])
    return float(med), float(q1), float(q3)


def _trials(x: float) -> str:
    return f"{x:g}" if x <= max(BUDGETS) else f">{max(BUDGETS)}"


def _cell(v: list[float]) -> str:
    med, q1, q3 = _stats(v)
    return f"{med:.2f} [{q1:.2f}, {q3:.2f}]"


def _reach_cell(v: list[float]) -> str:
    med, q1, q3 = _stats(v)
    return f"{_trials(med)} [{_trials(q1)}, {_trials(q3)}]"


def summary(curves: Curves, lat: list[list[float]]) -> dict[str, Any]:
    """Medians and IQRs per family and method, and the latency percentiles."""
    out: dict[str, Any] = {
        "latency_cpu_p50_s": float(np.median([c for _, c in lat])) if lat else None,
        "latency_wall_p50_s": float(np.median([w for w, _ in lat])) if lat else None,
        "families": {},
    }
    for fname, by_method in curves.items():
        cold = by_method["cold"]
        out["families"][fname] = {
            m: {
                "log10_regret": {
                    str(b): _stats([best_so_far(r, b) for r in runs]) for b in BUDGETS
                },
                "trials_to_cold50": _stats(_reaches(runs, cold)),
                "runs": len(runs),
            }
            for m, runs in by_method.items()
        }
    return out


def targets(curves: Curves) -> list[str]:
    """One table row per family and transfer method: the issue's targets, met or missed."""
    rows = [
        "| family | method | (a) trials to cold@50 <= 12 | (b) below optuna_enqueue at "
        "5/10/20/50 | (c) unrelated / cold regret at 20, 50 (<= 1.1) |",
        "|---|---|---|---|---|",
    ]
    for fname, by in curves.items():
        cold = by["cold"]
        for m in OURS:
            if m not in by:
                continue
            a = _stats(_reaches(by[m], cold))[0]
            b = (
                [
                    np.median([best_so_far(r, k) for r in by[m]])
                    < np.median([best_so_far(r, k) for r in by["optuna_enqueue"]])
                    for k in BUDGETS
                ]
                if "optuna_enqueue" in by
                else []
            )
            c = (
                [
                    10
                    ** (
                        np.median([best_so_far(r, k) for r in by[f"{m}_unrelated"]])
                        - np.median([best_so_far(r, k) for r in cold])
                    )
                    for k in (20, 50)
                ]
                if f"{m}_unrelated" in by
                else []
            )
            rows.append(
                f"| {fname} | {m} | {_trials(a)} {'met' if a <= _REACH_TARGET else 'missed'} | "
                + (
                    "/".join("yes" if x else "no" for x in b) + (" met" if all(b) else " missed")
                    if b
                    else "n/a"
                )
                + " | "
                + (
                    ", ".join(f"{x:.2f}x" for x in c)
                    + (" met" if all(x <= _NEGATIVE_BOUND for x in c) else " missed")
                    if c
                    else "n/a"
                )
                + " |"
            )
    return rows


def _run_notes(meta: dict[str, Any]) -> str:
    """Wall time, and where the run recorded them, its date, code and machine load."""
    notes = [f"wall time {meta['wall_s']:.0f} s"]
    if meta.get("date"):
        notes.append(f"started {meta['date']}")
    if meta.get("code"):
        notes.append(f"code {meta['code']}")
    if meta.get("load"):
        notes.append(f"load average {meta['load']}")
    return "; ".join(notes)


def _report(metas: list[dict[str, Any]], curves: Curves, lat: list[list[float]]) -> str:
    meta = metas[0]
    lines = [
        "# Knowledge base: warm start and transfer across related tasks",
        "",
        "log10 regret (median [IQR] over held-out tasks and seeds; lower is better), and trials "
        "needed to reach the cold sampler's 50-trial result on the same task and seed (median "
        "[IQR]; >50: not within 50).",
        "",
        f"- date: {meta['date']}; machine: {platform.machine()}, {os.cpu_count()} cores shared "
        "with other jobs, CPU only, torch.set_num_threads(1)",
        *[f"- command: `{m['command']}` ({_run_notes(m)})" for m in metas],
        *[
            f"- planned: {m['scope']}; a run stops starting held-out tasks after its "
            "--stop-after, so each family's section says how many finished"
            for m in metas
            if m.get("scope")
        ],
        f"- versions: {meta['versions']}",
        "- unrelated: the same earlier studies with their values shuffled among their trials",
        "",
        "## Targets",
        "",
        *targets(curves),
        "",
    ]
    for fname, by_method in curves.items():
        cold = by_method["cold"]
        lines += [
            f"## {fname}",
            "",
            f"{len(cold)} (held-out task, seed) pair(s) completed.",
            "",
            "| method | " + " | ".join(f"regret@{b}" for b in BUDGETS) + " | trials to cold@50 |",
            "|" + "---|" * (len(BUDGETS) + 2),
        ]
        for m, runs in by_method.items():
            cells = [_cell([best_so_far(r, b) for r in runs]) for b in BUDGETS]
            lines.append(
                f"| {m} | " + " | ".join(cells) + f" | {_reach_cell(_reaches(runs, cold))} |"
            )
        lines.append("")
    if lat:
        cpu, wall = [c for _, c in lat], [w for w, _ in lat]
        lines += [
            "## Suggestion latency",
            "",
            "Transfer suggestion with 8 earlier studies of 125 observations (1,000 in all) and "
            f"20 of the task's own, Hartmann6, {len(lat)} suggestions: CPU time (single thread) "
            f"p50 {np.median(cpu):.3f} s, p95 {np.percentile(cpu, 95):.3f} s; wall time on the "
            f"shared machine p50 {np.median(wall):.3f} s, p95 {np.percentile(wall, 95):.3f} s.",
            "",
        ]
    return "\n".join(lines)


def write_report(
    out: Path, metas: list[dict[str, Any]], curves: Curves, lat: list[list[float]]
) -> str:
    """Write results.md and results.json under `out`; return the markdown."""
    report = _report(metas, curves, lat)
    (out / "results.md").write_text(report)
    (out / "results.json").write_text(json.dumps(summary(curves, lat), indent=1))
    return report


PairsOf = Callable[[dict[str, Any], str, int], list[list[int]]]
"""(run's meta, family, number of runs) -> the runs' (held-out task, seed) pairs."""


def merge(dirs: list[Path], out: Path, pairs_of: PairsOf) -> str:
    """Combine the raw.json of several runs into one report under `out`.

    Runs are matched by family, method and (held-out task, seed) pair: a later run's run of a
    method on a pair replaces an earlier one's (a rerun of some methods after a change), new
    pairs are added (another family or seed range). Every method of a family must end up with
    the cold sampler's pairs, as the reach and the targets compare runs pair by pair.

    Raises:
        ValueError: A method of a family lacks some of the cold sampler's pairs.
    """
    out.mkdir(parents=True, exist_ok=True)
    metas: list[dict[str, Any]] = []
    keyed: dict[str, dict[str, dict[tuple[int, int], list[float]]]] = {}
    lat: list[list[float]] = []
    for d in dirs:
        raw = json.loads((d / "raw.json").read_text())
        metas.append(raw["meta"])
        for fname, by in raw["curves"].items():
            n_runs = max(len(runs) for runs in by.values())
            pairs = raw.get("pairs", {}).get(fname) or pairs_of(raw["meta"], fname, n_runs)
            for m, runs in by.items():
                slot = keyed.setdefault(fname, {}).setdefault(m, {})
                for pair, run in zip(pairs, runs, strict=True):
                    slot[(int(pair[0]), int(pair[1]))] = run
        lat += [x for x in raw["latency"] if isinstance(x, list)]
    curves: Curves = {}
    for fname, by_method in keyed.items():
        order = list(by_method["cold"])
        for m, slot in by_method.items():
            missing = [p for p in order if p not in slot]
            if missing:
                raise ValueError(
                    f"merge: {fname} {m} lacks the (held-out task, seed) pairs {missing} that "
                    "the cold sampler has; rerun it on them (--pairs) or leave its run out"
                )
            curves.setdefault(fname, {})[m] = [slot[p] for p in order]
    pairs = {f: [list(p) for p in by["cold"]] for f, by in keyed.items()}
    raw_out = {"meta": metas[0], "curves": curves, "latency": lat, "pairs": pairs}
    (out / "raw.json").write_text(json.dumps(raw_out))
    return write_report(out, metas, curves, lat)
