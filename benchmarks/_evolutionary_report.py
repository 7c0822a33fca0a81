"""The results page of `benchmarks/evolutionary.py`, from its raw.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report"]


def _stats(values: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(med), float(q1), float(q3)


def _cell(runs: list[dict[str, Any]], budget: str) -> str:
    vals = [r["regret"][budget] for r in runs if budget in r["regret"]]
    if not vals:
        return "-"
    med, q1, q3 = _stats(vals)
    return f"{med:.2f} [{q1:.2f}, {q3:.2f}] (n={len(vals)})"


def _verdict(ours: list[dict[str, Any]], peer: list[dict[str, Any]], budget: str) -> str:
    """'better', 'tie' (ours' median within the peer's IQR) or 'worse'."""
    a = [r["regret"][budget] for r in ours]
    b = [r["regret"][budget] for r in peer]
    if not a or not b:
        return "-"
    ma, (mb, _, q3) = float(np.median(a)), _stats(b)
    if ma <= mb:
        return "better"
    return "tie (in IQR)" if ma <= q3 else "worse"


def _p_worse(ours: list[dict[str, Any]], peer: list[dict[str, Any]], budget: str) -> str:
    """One-sided Mann-Whitney p-value of 'ours' regrets are larger than the peer's'."""
    from scipy.stats import mannwhitneyu

    a = [r["regret"][budget] for r in ours]
    b = [r["regret"][budget] for r in peer]
    if not a or not b:
        return "-"
    return f"{mannwhitneyu(a, b, alternative='greater').pvalue:.2f}"


def false_alarm(n: int, trials: int = 200_000) -> float:
    """Chance of a 'worse' verdict between two samplers with the same regret distribution.

    Monte Carlo over `n` seeds each (any continuous distribution gives the same chance: the
    verdict compares order statistics only).
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, trials, n))
    return float(np.mean(np.median(a, axis=1) > np.percentile(b, 75, axis=1)))


def _time_ratio(ours: list[dict[str, Any]], peer: list[dict[str, Any]]) -> float:
    """Median over seeds of ours' time per trial / the peer's (same seed, same machine state)."""
    n = min(len(ours), len(peer))
    return float(np.median([ours[i]["s_per_trial"] / peer[i]["s_per_trial"] for i in range(n)]))


def _section(
    title: str, data: dict[str, Any], ours: str, peer: str, gp: str, budgets: list[int], gp_b: int
) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"| problem | budget | {ours} | {peer} | {ours} vs {peer} | {gp} at {gp_b} | "
        f"{ours} at {gp_b} | s/trial {ours} | s/trial {peer} | time ratio {ours}/{peer} | "
        "p (ours worse) |",
        "|" + "---|" * 11,
    ]
    counts = {"better": 0, "tie (in IQR)": 0, "worse": 0}
    significant = 0
    seeds = 0
    for name, runs in data.items():
        for b in budgets:
            key = str(b)
            verdict = _verdict(runs[ours], runs[peer], key)
            counts[verdict] = counts.get(verdict, 0) + 1
            p_worse = _p_worse(runs[ours], runs[peer], key)
            significant += p_worse != "-" and float(p_worse) < 0.05
            seeds = max(seeds, len(runs[ours]))
            so = np.median([r["s_per_trial"] for r in runs[ours]])
            sp = np.median([r["s_per_trial"] for r in runs[peer]])
            gp_cell = _cell(runs.get(gp, []), str(gp_b))
            ours_at_gp = _cell(runs[ours][: len(runs.get(gp, []))], str(gp_b))
            lines.append(
                f"| {name} | {b} | {_cell(runs[ours], key)} | {_cell(runs[peer], key)} | "
                f"{verdict} | {gp_cell} | {ours_at_gp} | {so:.4f} | {sp:.4f} | "
                f"{_time_ratio(runs[ours], runs[peer]):.2f} | {p_worse} |"
            )
    cells = sum(counts.values())
    chance = false_alarm(seeds)
    lines += [
        "",
        f"{ours} against {peer}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f". Two samplers with the same regret distribution get 'worse' with chance "
        f"{chance:.3f} per cell at {seeds} seeds, {chance * cells:.1f} of these {cells} cells "
        f"expected; p (ours worse) < 0.05 on {significant} cells, {0.05 * cells:.1f} expected.",
        "",
    ]
    return lines


def _load(meta: dict[str, Any]) -> str:
    """The 1-minute load averages the run recorded, or what its page says about them."""
    if meta.get("load_note"):
        return str(meta["load_note"])
    load = meta.get("load") or []
    if not load:
        return "not recorded"
    return f"1-minute load average {min(load)} to {max(load)} (read after each problem)"


def _cells(cells: list[str]) -> str:
    """'peer on N problems' for each peer of a list of 'problem/peer' cells."""
    by_peer: dict[str, int] = {}
    for c in cells:
        peer = c.rsplit("/", 1)[1]
        by_peer[peer] = by_peer.get(peer, 0) + 1
    return ", ".join(f"{peer} ({n} problems)" for peer, n in by_peer.items()) or "none"


def write_report(out: Path, raw: dict[str, Any]) -> None:
    """Write `out/results.md` from the raw results."""
    m = raw["meta"]
    lines = [
        "# Evolutionary samplers against Optuna's and our BO samplers",
        "",
        f"- date: {m['date']}; machine: {m['machine']}; torch.set_num_threads(1)",
        f"- command: `{m['command']}` (wall time {m.get('wall_s', 0):.0f} s)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}",
        f"- machine load: {_load(m)}",
        *([f"- note: {m['note']}"] if m.get("note") else []),
        f"- mode: {'QUICK (development only, not a result)' if m['quick'] else 'full'}; "
        f"seeds 0..{m['seeds'] - 1} for the evolutionary samplers and Optuna's; the GP samplers "
        f"ran seeds 0..{m['bo_seeds'] - 1} only, at a capped budget ({m['bo_budget']} "
        f"evaluations single-objective, {m['mo_bo_budget']} multi-objective), because a GP "
        "suggestion costs seconds where an evolutionary one costs milliseconds",
        "- cells: median [IQR] of log10 regret over seeds (lower is better); single-objective "
        "regret = best true value - optimum; multi-objective = log10 hypervolume regret, or "
        "log10 regret of the best feasible value (ConstrainedGramacy)",
        "- verdict: 'better' = our median <= Optuna's; 'tie (in IQR)' = ours above Optuna's "
        "median but within its interquartile range; 'worse' = above its upper quartile",
        "- s/trial: wall time of a run / its trials (ask + toy objective + tell, each library "
        "through its own in-memory study); ratio = median over seeds of the per-seed ratio",
        "- every sampler at its defaults: ours CmaEsSampler() (no restarts), Optuna "
        "CmaEsSampler() (categorical parameters drawn independently at random, its documented "
        "treatment), BoTorchSampler(); NSGA2Sampler() and Optuna NSGAIISampler() with "
        "population 50",
        "- p (ours worse): one-sided Mann-Whitney U test of 'our regrets are larger than the "
        "peer's' over the seeds; the count of 'worse' cells is compared below with what chance "
        "gives two samplers of the same regret distribution",
    ]
    for src in m.get("sources", []):
        load = f"; machine load: {_load(src)}" if src.get("load") or src.get("load_note") else ""
        lines.append(f"- cells {_cells(src['cells'])}: `{src['command']}` ({src['date']}{load})")
    lines += [
        "",
    ]
    so_b = [int(b) for b in m["budgets"]]
    mo_b = [int(b) for b in m["mo_budgets"]]
    if raw["so"]:
        lines += _section(
            "One objective: CmaEsSampler vs Optuna CmaEsSampler",
            raw["so"],
            "ours_cmaes",
            "optuna_cmaes",
            "ours_bo",
            so_b,
            m["bo_budget"],
        )
    if raw["mo"]:
        lines += _section(
            "Several objectives / constrained: NSGA2Sampler vs Optuna NSGAIISampler",
            raw["mo"],
            "ours_nsga2",
            "optuna_nsga2",
            "ours_mo_bo",
            mo_b,
            m["mo_bo_budget"],
        )
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/evolutionary")
    write_report(target, json.loads((target / "results.json").read_text()))
