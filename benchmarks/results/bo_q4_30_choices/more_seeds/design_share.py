"""How much of the batches' loss is the larger initial design rather than the batch rule.

A batch of 4 asked for after 4 results, with fewer results than the initial design, takes 4
Sobol points, so rounds of 4 evaluate 8 Sobol points where a sequential run evaluates 5-7
(12 where it evaluates 10); 4 asynchronous workers evaluate the design plus 3. Run from the
repository root:

- `PYTHONPATH=. python .../design_share.py basins` groups the Hartmann6 seeds by the basin
  (global or local minimum) of the best design point, for the sequential design and for the
  larger one, and counts the runs out of the local minimum after 50 evaluations (log10 regret
  below -1.2): rounds of 4 on the 90 stored seeds, 4 asynchronous workers on the 60 stored
  seeds of `results/async4/ours_60_seeds/` (with, for those, how far the runs that are out
  have got after 40 and 50 evaluations).
- `PYTHONPATH=. python .../design_share.py run OUT.json <problems>` runs sequential studies
  with the design a round of 4 ends up with (8 Sobol points, 12 for the mixed and conditional
  spaces) on the 90 seeds of `screen_rounds.py`.
- `PYTHONPATH=. python .../design_share.py compare OUT.json ...` prints, after 20 and 50
  evaluations, the batch / sequential ratio of median regrets against the stored sequential
  runs (their own design) and against those runs (the batch's design), with the stored batch
  runs of the current rule, and in brackets what the larger design does to sequential runs;
  then, for Hartmann6, the runs out of its local minimum after 30, 40 and 50 evaluations.
"""

from __future__ import annotations

import gzip
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.bo import PROBLEMS, _log_regret, _n_init

sys.path.insert(0, str(Path(__file__).parent))
from screen_rounds import SEEDS, _regrets, load_many, run, stored

RESULTS = Path(__file__).resolve().parents[2]
# Hartmann6's global minimum and its deepest local one (-3.2032), in the unit cube
_GLOBAL = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
_LOCAL = np.array([0.4047, 0.8824, 0.8461, 0.5739, 0.1389, 0.0385])
_ESCAPED = -1.2


def _batch_design(name: str) -> int:
    """Sobol points a run in rounds of 4 evaluates: whole rounds until n_init results."""
    n_init = _n_init(PROBLEMS[name].space.dim)
    return 4 * -(-n_init // 4)


def _design_basins(seed: int, sizes: tuple[int, int]) -> str:
    """'G' or 'L' for the best of the first `sizes[0]` and of the first `sizes[1]` Sobol
    points of the Hartmann6 study with this seed (the design the sampler evaluates)."""
    from lightning_autotune.samplers._random import sobol_points

    problem = PROBLEMS["hartmann6"]
    configs = sobol_points(problem.space, start=0, n=max(sizes), seed=seed)
    values = np.array([problem.objective(c) for c in configs])
    X = problem.space.encode(configs)
    out = ""
    for n in sizes:
        best = X[np.argmin(values[:n])]
        out += "G" if np.linalg.norm(best - _GLOBAL) < np.linalg.norm(best - _LOCAL) else "L"
    return out


def _escaped(curve: list[float]) -> bool:
    return _log_regret(curve, PROBLEMS["hartmann6"].optimum, 50) < _ESCAPED


def _print_strata(label: str, rows: list[tuple[str, bool, bool]]) -> None:
    counts = Counter(key for key, _, _ in rows)
    print(f"{label}: design basins (sequential design -> larger design), runs escaped by 50")
    for key in sorted(counts):
        sub = [r for r in rows if r[0] == key]
        seq_out = sum(r[1] for r in sub)
        batch_out = sum(r[2] for r in sub)
        print(f"  {key}: {len(sub):3d} seeds, sequential {seq_out:3d}, {label} {batch_out:3d}")


def basins() -> None:
    seq, cur = stored()
    n_init = _n_init(PROBLEMS["hartmann6"].space.dim)
    sizes = (n_init, _batch_design("hartmann6"))
    rows = [
        (_design_basins(s, sizes), _escaped(seq["hartmann6"][s]), _escaped(cur["hartmann6"][s]))
        for s in SEEDS
    ]
    _print_strata("rounds of 4", rows)
    with gzip.open(RESULTS / "async4" / "ours_60_seeds" / "raw_A.json.gz", "rt") as f:
        runs = json.load(f)["curves"]["hartmann6"]
    rows = [
        (_design_basins(s, (n_init, n_init + 3)), _escaped(a), _escaped(b))
        for s, (a, b) in enumerate(zip(runs["ours"], runs["ours_async4"], strict=True))
    ]
    _print_strata("async", rows)
    optimum = PROBLEMS["hartmann6"].optimum
    for budget in (40, 50):
        regrets = [
            np.array([_log_regret(c, optimum, budget) for c in runs[peer]])
            for peer in ("ours", "ours_async4")
        ]
        out = [r[r < _ESCAPED] for r in regrets]
        print(
            f"  after {budget}: out {len(out[0])} sequential, {len(out[1])} async; their median "
            f"log10 regret {np.median(out[0]):.2f} and {np.median(out[1]):.2f}"
        )


def _sequential_with_batch_design(name: str, seed: int) -> list[float]:
    from benchmarks._peers import _ours
    from lightning_autotune.samplers import BoTorchSampler

    problem, n = PROBLEMS[name], _batch_design(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _ours(problem, 50, seed, n, BoTorchSampler(n_initial_points=n, seed=seed))


def compare(paths: list[str]) -> None:
    seq, cur = stored()
    same = load_many(paths)
    for budget in (20, 50):
        print(
            f"after {budget}: batch / sequential, own design -> the batch's design; "
            "[sequential, the batch's design / own design]"
        )
        for name, runs in same.items():
            seeds = sorted(runs, key=int)
            batch = _median(cur[name], [int(s) for s in seeds], name, budget)
            own = _median(seq[name], [int(s) for s in seeds], name, budget)
            larger = _median(runs, seeds, name, budget)
            print(
                f"  {name:16s} design {_batch_design(name):2d}: "
                f"{10 ** (batch - own):7.2f} -> {10 ** (batch - larger):7.2f}  "
                f"[{10 ** (larger - own):5.2f}]"
            )
    if "hartmann6" in same:
        runs = same["hartmann6"]
        print("Hartmann6 runs out of the local minimum: sequential (own / batch design), batch")
        for budget in (30, 40, 50):
            out = [
                sum(_log_regret(c, PROBLEMS["hartmann6"].optimum, budget) < _ESCAPED for c in cs)
                for cs in (
                    [seq["hartmann6"][int(s)] for s in runs],
                    list(runs.values()),
                    [cur["hartmann6"][int(s)] for s in runs],
                )
            ]
            print(f"  after {budget}: {out[0]} / {out[1]}, {out[2]} of {len(runs)}")


def _median(curves: dict, keys: list, name: str, budget: int) -> float:
    return float(np.median(_regrets(curves, keys, PROBLEMS[name].optimum, budget)))


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "basins":
        basins()
    elif command == "run":
        run(rest[0], rest[1:], runner=_sequential_with_batch_design)
    else:
        compare(rest)
