"""Warm start and transfer across related tasks: the knowledge base against a cold start.

Named `knowledge` (the issue says transfer.py): benchmarks/results/transfer/ already holds the
pretrained-weights transfer results.

Families of related tasks (`benchmarks._knowledge_tasks`: shifted, scaled and offset variants
of Branin, Hartmann6 and Levy-4D, 8 tasks a family; and, where the learning-curve tables of
`benchmarks._tabular` are present, one small MLP on several classification data sets). For
each family the benchmark first runs one study per task (cold
BoTorchSampler, `--source-trials` trials), the earlier studies of the knowledge base; then,
leaving one task out at a time, it tunes that task with each method, the other tasks' studies
as the earlier ones:

- cold: BoTorchSampler, no earlier studies;
- same_task / transfer / zero_shot: `create_study(warm_start=[...], warm_start_mode=...)`;
- optuna_enqueue: Optuna's practice, each earlier study's best configuration enqueued, then
  GPSampler (same initial-design size as ours).

'unrelated' repeats transfer and zero_shot with the earlier studies' values shuffled among
their trials (their configurations no longer say anything about the task): negative transfer.
Regret is normalized by the task's scale (regret of the base function). Everything runs in this
one process, interleaved per seed and task, single-threaded.

Run: `python -m benchmarks.knowledge [--quick] [--out benchmarks/results/knowledge]`; several
processes (one per family or seed range) and `--merge DIR...` to combine their raw.json.
`--methods` reruns some methods only (e.g. after a change to one of them) and `--pairs` stops
after that many (held-out task, seed) pairs, so a rerun covers the pairs of an earlier run:
merged after it, its cells replace that run's for the same method and pair, and every other
cell stays that of its own run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._knowledge_report import BUDGETS, Curves, merge, write_report
from benchmarks._knowledge_tasks import BenchTask, family_names, family_tasks
from lightning_autotune.storage import InMemoryStorage, Storage
from lightning_autotune.study import create_study

METHODS = ("cold", "same_task", "transfer", "zero_shot", "optuna_enqueue")
UNRELATED = ("transfer", "zero_shot")
ALL_METHODS = METHODS + tuple(f"{m}_unrelated" for m in UNRELATED)


def _source_studies(
    tasks: list[BenchTask], storage: Storage, n_trials: int, shuffled: bool
) -> list[str]:
    """One study per task in `storage` (cold BoTorch); with `shuffled`, the values permuted."""
    names = []
    for i, t in enumerate(tasks):
        name = t.name + ("-shuffled" if shuffled else "")
        names.append(name)
        run = create_study(f"{name}-run", t.space, InMemoryStorage(), seed=100 + i)
        run.optimize(lambda tr, t=t: t(tr.params), max_trials=n_trials)
        records = [r for r in run.trials if r.values is not None]
        values = [r.values[0] for r in records]  # type: ignore[index]
        if shuffled:
            values = list(np.random.default_rng(i).permutation(values))
        dest = create_study(name, t.space, storage, seed=0)
        for r, v in zip(records, values, strict=True):
            dest.tell(dest.ask(dict(r.params)), float(v))
    return names


def _ours(
    task: BenchTask, storage: Storage, name: str, seed: int, budget: int, **kw: Any
) -> list[float]:
    study = create_study(name, task.space, storage, seed=seed, **kw)
    study.optimize(lambda tr: task(tr.params), max_trials=budget)
    return [task.regret(r.values[0]) for r in study.trials if r.values is not None]


def _optuna_enqueue(
    task: BenchTask, storage: Storage, sources: list[str], seed: int, budget: int
) -> list[float]:
    import optuna

    from benchmarks._peers import _suggest_optuna

    n_init = int(min(10, max(5, task.space.dim + 1)))
    study = optuna.create_study(
        sampler=optuna.samplers.GPSampler(
            seed=seed, n_startup_trials=n_init, warn_independent_sampling=False
        )
    )
    for s in sources:
        info = storage.get_study(s)
        best = min(
            (r for r in storage.get_trials(info.study_id) if r.values is not None),
            key=lambda r: r.values[0],  # type: ignore[index]
        )
        study.enqueue_trial(dict(best.params))
    out = []
    for _ in range(budget):
        trial = study.ask()
        value = task(_suggest_optuna(trial, task.space))
        study.tell(trial, value)
        out.append(task.regret(value))
    return out


def run_method(
    method: str, task: BenchTask, storage: Storage, sources: list[str], seed: int, budget: int
) -> list[float]:
    """Regrets of the `budget` configurations `method` evaluated on `task`, in order."""
    name = f"target-{task.name}-{method}-{seed}-{len(storage.list_studies())}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "cold":
            return _ours(task, storage, name, seed, budget)
        if method == "optuna_enqueue":
            return _optuna_enqueue(task, storage, sources, seed, budget)
        return _ours(task, storage, name, seed, budget, warm_start=sources, warm_start_mode=method)


def latency(n_sources: int = 8, per_source: int = 125, repeats: int = 10) -> list[list[float]]:
    """[wall, CPU] seconds per transfer suggestion with n_sources x per_source earlier
    observations (Hartmann6, 20 observations of the task itself). On a shared machine the CPU
    time (single-threaded) is what the suggestion costs; the wall time adds the waiting."""
    tasks = family_tasks("hartmann6", n_sources + 1)
    storage = InMemoryStorage()
    names = []
    rng = np.random.default_rng(0)
    for t in tasks[1:]:
        st = create_study(f"lat-{t.name}", t.space, storage)
        for c in t.space.sample(per_source, rng):
            st.tell(st.ask(c), t(c))
        names.append(st.name)
    target = tasks[0]
    study = create_study("lat-target", target.space, storage, warm_start=names, seed=0)
    for c in target.space.sample(20, rng):
        study.tell(study.ask(c), target(c))
    times = []
    for i in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        trial = study.ask()
        if i:
            times.append([time.perf_counter() - t0, time.process_time() - c0])
        study.tell(trial, target(trial.params))
    return times


def _limit_threads() -> None:
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _versions() -> dict[str, str]:
    from importlib import metadata

    return {p: metadata.version(p) for p in ("torch", "botorch", "optuna")}


def _commit() -> str:
    """The checkout's commit (and '+changes' when the work tree differs), or 'unknown'."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "lightning_autotune", "benchmarks"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head + ("+changes" if dirty else "")) or "unknown"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer seeds and tasks (dev)")
    parser.add_argument("--out", default="benchmarks/results/knowledge")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per held-out task")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=8, help="tasks per synthetic family")
    parser.add_argument("--targets", type=int, default=None, help="held-out tasks per family")
    parser.add_argument("--source-trials", type=int, default=30)
    parser.add_argument("--families", nargs="*", default=None, help="default: all present")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument(
        "--stop-after", type=float, default=None, help="start no held-out task after SECONDS"
    )
    parser.add_argument(
        "--pairs", type=int, default=None, help="stop after this many (held-out task, seed) pairs"
    )
    parser.add_argument(
        "--methods", nargs="*", default=None, choices=ALL_METHODS, help="default: all"
    )
    parser.add_argument(
        "--merge", nargs="*", default=None, help="combine the raw.json of earlier runs into --out"
    )
    return parser


def run_pairs(meta: dict[str, Any], family: str, n_runs: int) -> list[list[int]]:
    """The (held-out task, seed) pairs of a run's `n_runs` runs of `family`, in run order.

    A run records them in its raw.json; for one that did not, they follow from its command
    (held-out tasks in turn, seed-major, from --first-seed), which is how every run orders them.
    """
    args = _parser().parse_args(meta["command"].split()[3:])
    tasks = len(family_tasks(family, args.tasks))
    targets = min(args.targets or (2 if args.quick else tasks), tasks)
    return [[i % targets, args.first_seed + i // targets] for i in range(n_runs)]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.merge:
        print(merge([Path(d) for d in args.merge], Path(args.out), run_pairs))
        return 0
    methods = args.methods or list(ALL_METHODS)
    _limit_threads()
    seeds = args.seeds or (1 if args.quick else 3)
    families = family_names() if args.families is None else args.families
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    curves: Curves = {}
    meta: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.knowledge " + " ".join(argv or sys.argv[1:]),
        "wall_s": 0.0,
        "versions": _versions(),
        "code": _commit(),
        "load": "",
        "methods": methods,
    }
    lat: list[list[float]] = []
    pairs: dict[str, list[list[int]]] = {}
    load_start = _load()
    for fname in families:
        tasks = family_tasks(fname, args.tasks)
        targets = min(args.targets or (2 if args.quick else len(tasks)), len(tasks))
        meta["scope"] = (
            f"{'QUICK (development only); ' if args.quick else ''}{len(tasks)} tasks a family, "
            f"the first {targets} held out in turn (the other {len(tasks) - 1} as earlier "
            f"studies of {args.source_trials} cold BoTorch trials each); seeds "
            f"{args.first_seed}..{args.first_seed + seeds - 1}"
        )
        storage = InMemoryStorage()
        related = _source_studies(tasks, storage, args.source_trials, shuffled=False)
        unrelated = _source_studies(tasks, storage, args.source_trials, shuffled=True)
        # seed-major: a run cut short by --stop-after has every held-out task at equal seeds
        for seed in range(args.first_seed, args.first_seed + seeds):
            for k in range(targets):
                if args.stop_after and time.time() - started > args.stop_after:
                    break
                done = pairs.setdefault(fname, [])
                if args.pairs is not None and len(done) >= args.pairs:
                    break
                by = curves.setdefault(fname, {})
                others = [n for i, n in enumerate(related) if i != k]
                for method in METHODS:
                    if method in methods:
                        r = run_method(method, tasks[k], storage, others, seed, max(BUDGETS))
                        by.setdefault(method, []).append(r)
                shuffled = [n for i, n in enumerate(unrelated) if i != k]
                for method in UNRELATED:
                    if f"{method}_unrelated" in methods:
                        r = run_method(method, tasks[k], storage, shuffled, seed, max(BUDGETS))
                        by.setdefault(f"{method}_unrelated", []).append(r)
                done.append([k, seed])
                print(f"{fname} task {k} seed {seed}: {time.time() - started:.0f} s", flush=True)
                # written after every held-out task, so a run cut short keeps what it finished
                meta["wall_s"] = time.time() - started
                meta["load"] = f"{load_start} at the start, {_load()} at the end (1/5/15 min)"
                raw = {"meta": meta, "curves": curves, "latency": lat, "pairs": pairs}
                (out / "raw.json").write_text(json.dumps(raw))
    if not args.no_latency:
        lat += latency()
    meta["wall_s"] = time.time() - started
    meta["load"] = f"{load_start} at the start, {_load()} at the end (1/5/15 min)"
    raw = {"meta": meta, "curves": curves, "latency": lat, "pairs": pairs}
    (out / "raw.json").write_text(json.dumps(raw))
    if "cold" not in methods:  # nothing to compare with: merge it after a run that has cold
        print(f"wrote {out / 'raw.json'}; merge it after a run with the cold sampler (--merge)")
        return 0
    print(write_report(out, [meta], curves, lat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
