"""Screen a rule for rounds of 4 on 90 seeds and pair it with the stored runs of the current one.

Run from the repository root:

- `PYTHONPATH=<worktree> python benchmarks/results/bo_q4_30_choices/more_seeds/screen_rounds.py
  run OUT.json hartmann6 branin ...` runs `ours_q4` (rounds of 4) for 50 evaluations on seeds
  0-29, 100-129 and 200-229 with the sampler of `<worktree>` (a rule switched on there by an
  environment variable reaches it); `--seeds N` runs only the first N of them;
- `PYTHONPATH=. python .../screen_rounds.py compare OUT.json ...` prints, after 20 and 50
  evaluations, the batch / sequential ratio of median regrets for the current rule and for the
  screened one (10 to the power of the difference of median log10 regrets, as in
  benchmarks/README.md), and the paired runs the screened rule ends lower / higher than the
  current one by more than 0.05 in log10 regret. Sequential runs and the current rule's batch
  runs are the stored ones behind the table "Batches of 4 over 90 seeds".
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks._screens import print_paired
from benchmarks.bo import PROBLEMS, _log_regret, _n_init

RESULTS = Path(__file__).resolve().parents[2]
SEEDS = [*range(30), *range(100, 130), *range(200, 230)]


def _load(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        data = json.load(f)
    return data.get("curves", data)


def stored() -> tuple[dict, dict]:
    """Sequential and current batch curves, `{problem: {seed: curve}}` each."""
    seq: dict = {}
    cur: dict = {}
    for name in ("raw_A.json.gz", "raw_B.json.gz"):  # seeds 0-29
        for problem, peers in _load(RESULTS / "bo_q4_30_box" / name).items():
            seq.setdefault(problem, {}).update(dict(enumerate(peers["ours"])))
            cur.setdefault(problem, {}).update(dict(enumerate(peers["ours_q4"])))
    for name in ("raw_C.json.gz", "raw_D.json.gz"):  # the box for the best point's choices
        for problem, peers in _load(RESULTS / "bo_q4_30_choices" / name).items():
            cur[problem].update(dict(enumerate(peers["ours_q4"])))
    for name in ("raw_seeds_100_129_200_229.json.gz", "raw_seeds_100_129_200_229_rest.json.gz"):
        for problem, peers in _load(Path(__file__).parent / name).items():
            seq[problem].update({int(s): c for s, c in peers["ours"].items()})
            cur[problem].update({int(s): c for s, c in peers["ours_q4"].items()})
    return seq, cur


def load_many(paths: list[str]) -> dict:
    """The curves of several result files, `{problem: {seed: curve}}`, merged."""
    curves: dict = {}
    for p in paths:
        curves.update(_load(Path(p)))
    return curves


def _rounds_of_4(name: str, seed: int) -> list[float]:
    from benchmarks._peers import run_peer

    problem = PROBLEMS[name]
    return run_peer("ours_q4", problem, 50, seed, _n_init(problem.space.dim))


def run(
    out: str,
    problems: list[str],
    seeds: list[int] = SEEDS,
    runner: Callable[[str, int], list[float]] = _rounds_of_4,
) -> None:
    """`runner(problem, seed)` for every problem and seed (rounds of 4 by default), each
    problem's curves written to `out` as soon as they are done."""
    curves: dict = {}
    started = time.time()
    for name in problems:
        curves[name] = {str(s): runner(name, s) for s in seeds}
        print(f"{name} done ({time.time() - started:.0f} s)", flush=True)
        Path(out).write_text(json.dumps({"curves": curves}))


def _regrets(curves: dict, keys: list, optimum: float, budget: int) -> np.ndarray:
    return np.array([_log_regret(curves[k], optimum, budget) for k in keys])


def compare(paths: list[str]) -> None:
    seq, cur = stored()
    new = load_many(paths)
    for budget in (20, 50):
        rows = []
        for problem, runs in new.items():
            seeds = sorted(runs, key=int)
            opt = PROBLEMS[problem].optimum
            ints = [int(s) for s in seeds]
            seq_median = float(np.median(_regrets(seq[problem], ints, opt, budget)))
            now = _regrets(cur[problem], ints, opt, budget)
            rows.append((problem, seq_median, now, _regrets(runs, seeds, opt, budget)))
        print_paired(budget, "batch", rows)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "run":
        n_seeds = len(SEEDS)
        if "--seeds" in rest:  # a quicker screen on the first N of the 90 seeds
            at = rest.index("--seeds")
            n_seeds = int(rest[at + 1])
            del rest[at : at + 2]
        run(rest[0], rest[1:], SEEDS[:n_seeds])
    else:
        compare(rest)
