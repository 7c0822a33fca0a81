"""Suggestion time of MultiObjectiveBoTorchSampler against Optuna's GPSampler, side by side.

`MultiObjectiveBoTorchSampler` is what a study gets by default with several objectives or with
parameter constraints, so its overhead matters as much as `BoTorchSampler`'s. Both samplers get
the same random history (Hartmann6 and the mixed space of `benchmarks.bo` with one objective,
DTLZ2 in six dimensions with two and with three) and propose one configuration at a time; each
timed suggestion is told FAILED afterwards so the history keeps its size, after one untimed
warm-up per sampler (the timing loops of `benchmarks.bo`'s latency part). `--clock cpu` times
the process's CPU seconds instead of wall seconds, steadier on a loaded machine.

Run: `python -m benchmarks.mo_latency [--sizes 25 100] [--repeats 5] [--problems dtlz2 dtlz2_3]
[--out DIR]`. Writes
`results.md` and `raw.json` to `--out` (default benchmarks/results/mo_latency).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._functions import PROBLEMS
from benchmarks._peers import time_optuna, time_ours
from benchmarks.bo import _limit_threads
from lightning_autotune.samplers import MultiObjectiveBoTorchSampler
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study

Objective = Callable[[dict[str, Any]], tuple[float, ...]]


def _cases() -> dict[str, tuple[SearchSpace, Objective]]:
    import torch
    from botorch.test_functions.multi_objective import DTLZ2

    cube = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(6)})

    def dtlz2(m: int) -> Objective:
        f = DTLZ2(dim=6, num_objectives=m)

        def objective(config: dict[str, Any]) -> tuple[float, ...]:
            x = torch.tensor([[config[f"x{i}"] for i in range(6)]], dtype=torch.float64)
            return tuple(float(v) for v in f.evaluate_true(x)[0])

        return objective

    cases: dict[str, tuple[SearchSpace, Objective]] = {}
    for name in ("hartmann6", "mixed"):
        problem = PROBLEMS[name]
        cases[name] = (problem.space, lambda c, p=problem: (p.objective(c),))
    cases["dtlz2"] = (cube, dtlz2(2))
    cases["dtlz2_3"] = (cube, dtlz2(3))
    return cases


def _ours(
    space: SearchSpace, configs: list, values: list, repeats: int, clock: Callable[[], float]
) -> list[float]:
    study = create_study(
        "latency",
        space,
        InMemoryStorage(),
        directions=["minimize"] * len(values[0]),
        sampler=MultiObjectiveBoTorchSampler(),
        seed=0,
    )
    return time_ours(study, configs, [list(v) for v in values], repeats, clock)


def _optuna(
    space: SearchSpace, configs: list, values: list, repeats: int, clock: Callable[[], float]
) -> list[float]:
    import optuna

    sampler = optuna.samplers.GPSampler(seed=0, warn_independent_sampling=False)
    study = optuna.create_study(sampler=sampler, directions=["minimize"] * len(values[0]))
    return time_optuna(study, space, configs, [list(v) for v in values], repeats, clock)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 100])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/mo_latency")
    parser.add_argument(
        "--problems",
        nargs="+",
        default=["hartmann6", "mixed", "dtlz2", "dtlz2_3"],
        choices=["hartmann6", "mixed", "dtlz2", "dtlz2_3"],
        help="dtlz2: two objectives, dtlz2_3: three",
    )
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    _limit_threads()
    warnings.filterwarnings("ignore")
    started = time.time()
    load_start = os.getloadavg()[0]
    raw: dict[str, dict[str, dict[str, list[float]]]] = {}
    for name, (space, objective) in _cases().items():
        if name not in args.problems:
            continue
        for size in args.sizes:
            configs = space.sample(size, 0)
            values = [objective(c) for c in configs]
            per = raw.setdefault(name, {}).setdefault(str(size), {})
            per["ours"] = _ours(space, configs, values, args.repeats, clock)
            per["optuna_gp"] = _optuna(space, configs, values, args.repeats, clock)
            medians = {k: round(float(np.median(v)), 3) for k, v in per.items()}
            print(name, size, medians, flush=True)
    lines = [
        "# MultiObjectiveBoTorchSampler vs Optuna GPSampler: seconds per suggestion",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (1-minute load {load_start:.1f} at the "
        "start), CPU only, torch.set_num_threads(1)",
        "- command: `nice -n 10 python -m benchmarks.mo_latency "
        f"--sizes {' '.join(map(str, args.sizes))} "
        f"--repeats {args.repeats} --problems {' '.join(args.problems)} --clock {args.clock}` "
        f"(wall time {time.time() - started:.0f} s, 1-minute load {os.getloadavg()[0]:.1f} at "
        "the end)",
        f"- seconds: {'CPU seconds of the process' if args.clock == 'cpu' else 'wall time'}",
        f"- thread settings: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} (unset lets "
        "NumPy's BLAS in GPSampler's fit spin extra threads, counted in CPU seconds)",
        "",
        "| problem | history | ours p50 | optuna_gp p50 | ratio ours/gp |",
        "|---|---|---|---|---|",
    ]
    for name, by_size in raw.items():
        for size, per in by_size.items():
            ours, gp = float(np.median(per["ours"])), float(np.median(per["optuna_gp"]))
            lines.append(f"| {name} | {size} | {ours:.3f} | {gp:.3f} | {ours / gp:.2f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "raw.json").write_text(json.dumps(raw))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
