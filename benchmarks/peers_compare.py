"""One results page from several `benchmarks.bo` runs of ours and the peers, with where ours loses.

The slow peers (Ax, HEBO, SMAC3) are run one per process so they finish within the machine's
time (`python -m benchmarks.bo --peers ax --out /tmp/x ...`); this module merges those runs'
`raw.json` files into one page through `benchmarks._bo_report.write_results`, then adds, per
problem and budget, ours against the best other peer (the gap in log10 regret and the regret
ratio it stands for), and the machine's load while the runs went on.

Run: `python -m benchmarks.peers_compare --merge DIR... --out DIR [--compare OURS:PEER,PEER ...]
[--load-log FILE] [--note TEXT]`: each `--compare` adds a table of `OURS` against the best of
the peers listed (none listed: every other non-batch peer; default `ours:`). The load log is
`HH:MM load1 load5 load15` lines (what `echo "$(date -u +%H:%M) $(cut -d' ' -f1-3
/proc/loadavg)"` prints once a minute).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._bo_report import _budgets, _is_batch, _log_regret, write_results
from benchmarks._functions import PROBLEMS

__all__ = ["Gap", "gaps", "load_line", "main", "render_gaps"]


@dataclass(frozen=True)
class Gap:
    """Ours against the best other peer in one problem-budget cell (medians of log10 regret).

    Attributes:
        problem: Problem name.
        budget: Evaluations.
        ours: Median log10 regret of ours.
        other: The other peer with the lowest median.
        other_median: Its median log10 regret.
        rank: Ours' place among the peers with numbers in the cell (1: lowest median).
        peers: How many peers have numbers in the cell.
    """

    problem: str
    budget: int
    ours: float
    other: str
    other_median: float
    rank: int
    peers: int

    @property
    def difference(self) -> float:
        """Ours minus the best other, in log10 regret: negative where ours is ahead."""
        return self.ours - self.other_median


def _medians(runs: dict[str, list[list[float]]], optimum: float, budget: int) -> dict[str, float]:
    out = {}
    for peer, traces in runs.items():
        if traces and min(len(t) for t in traces) >= budget:
            out[peer] = float(np.median([_log_regret(t, optimum, budget) for t in traces]))
    return out


def gaps(
    curves: dict[str, dict[str, list[list[float]]]],
    budgets: dict[str, list[int]],
    ours: str,
    peers: list[str],
) -> list[Gap]:
    """Ours against the best of `peers` in every cell where ours and one of them have numbers.

    Args:
        curves: Problem -> peer -> one trace of true values per seed.
        budgets: Problem -> budgets to compare at.
        ours: The peer name of ours (`ours`, `ours_q4`, ...).
        peers: The others to compare with (names missing from a cell are skipped).
    """
    found = []
    for name, runs in curves.items():
        for budget in budgets.get(name, []):
            medians = _medians(runs, PROBLEMS[name].optimum, budget)
            others = {p: m for p, m in medians.items() if p in peers and p != ours}
            if ours not in medians or not others:
                continue
            best = min(others, key=lambda p: others[p])
            rank = 1 + sum(m < medians[ours] for m in others.values())
            found.append(
                Gap(name, budget, medians[ours], best, others[best], rank, len(others) + 1)
            )
    return found


def render_gaps(found: list[Gap], ours: str) -> list[str]:
    """Markdown lines: one row per cell, then how many cells ours leads, ties and trails."""
    lines = [
        f"| problem | budget | {ours} | best other | its median | difference (log10) "
        f"| regret ratio {ours}/other | rank of {ours} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in found:
        lines.append(
            f"| {g.problem} | {g.budget} | {g.ours:.2f} | {g.other} | {g.other_median:.2f} "
            f"| {g.difference:+.2f} | {10**g.difference:.2g} | {g.rank} of {g.peers} |"
        )
    ahead = sum(g.difference < 0 for g in found)
    level = sum(g.difference == 0 for g in found)
    worst = sum(g.rank == g.peers for g in found)
    lines += [
        "",
        f"{ours} has the lowest median in {ahead + level} of {len(found)} cells ({level} tied), "
        f"trails the best other in {len(found) - ahead - level}, and is last in {worst}.",
    ]
    return lines


def load_line(log: str) -> str:
    """One line summarizing a load log of `HH:MM load1 load5 load15` lines."""
    samples = [line.split() for line in log.splitlines() if len(line.split()) == 4]
    if not samples:
        return "- machine load: not recorded"
    one = [float(s[1]) for s in samples]
    return (
        f"- machine load (1-minute average, {len(one)} samples {samples[0][0]}-{samples[-1][0]} "
        f"UTC): median {np.median(one):.1f}, min {min(one):.1f}, max {max(one):.1f} on "
        "2 cores; every run under `nice -n 10`, so seconds per suggestion are inflated"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merge", nargs="+", required=True, help="dirs with a raw.json each")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--compare",
        action="append",
        default=None,
        help="OURS:PEER,PEER (e.g. ours_q4:optuna_gp_q4,ax_q4); repeatable; default 'ours:'",
    )
    parser.add_argument("--load-log", default=None)
    parser.add_argument("--note", default=None, help="a line added under the header")
    args = parser.parse_args(argv)
    out = Path(args.out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    raws: list[dict[str, Any]] = []
    for d in args.merge:
        raw = json.loads((Path(d) / "raw.json").read_text())
        raws.append(raw)
        (out / "raw" / f"{Path(d).name}.json").write_text(json.dumps(raw))
    write_results(out, raws)
    curves: dict[str, dict[str, list[list[float]]]] = {}
    for raw in raws:
        for name, runs in raw["curves"].items():
            curves.setdefault(name, {}).update(runs)
    metas = [raw["meta"] for raw in raws]
    peers = list(dict.fromkeys(p for m in metas for p in m["peers"]))
    budgets = {name: _budgets(metas, name) for name in curves}
    page = (out / "results.md").read_text().splitlines()
    extra = [load_line(Path(args.load_log).read_text()) if args.load_log else ""]
    if args.note:
        extra.append(f"- note: {args.note}")
    # after the header's list of `- date`, `- command` ... lines
    at = next(i for i in range(1, len(page)) if page[i] == "" and page[i - 1].startswith("- "))
    page[at:at] = [line for line in extra if line]
    for spec in args.compare or ["ours:"]:
        ours, _, listed = spec.partition(":")
        against = listed.split(",") if listed else [p for p in peers if not _is_batch(p)]
        against = [p for p in against if p != ours]
        page += ["", f"## {ours} against the best of {', '.join(against)}, cell by cell", ""]
        page += render_gaps(gaps(curves, budgets, ours, against), ours)
    (out / "results.md").write_text("\n".join(page) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
