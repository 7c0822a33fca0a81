"""Warm start and transfer across related tasks: the knowledge base against a cold start.

Named `knowledge` (the issue says transfer.py): benchmarks/results/transfer/ already holds the
pretrained-weights transfer results.

Families of related tasks (shifted, scaled and offset variants of Branin, Hartmann6 and
Levy-4D, 8 tasks a family). For each family the benchmark first runs one study per task (cold
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

Run: `python -m benchmarks.knowledge [--quick] [--out benchmarks/results/knowledge]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._functions import branin, hartmann6, levy
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.storage import InMemoryStorage, Storage
from lightning_autotune.study import create_study

BUDGETS = (5, 10, 20, 50)
METHODS = ("cold", "same_task", "transfer", "zero_shot", "optuna_enqueue")
UNRELATED = ("transfer", "zero_shot")


@dataclass(frozen=True)
class Family:
    """A base function on the unit cube with its known minimum and minimizer."""

    name: str
    dim: int
    base: Callable[[np.ndarray], float]
    optimum: float
    shift: float  # largest shift of the inputs, keeping the minimizer inside the cube


def _branin(u: np.ndarray) -> float:
    return branin({"x0": -5.0 + 15.0 * u[0], "x1": 15.0 * u[1]})


def _hartmann(u: np.ndarray) -> float:
    return hartmann6({f"x{i}": u[i] for i in range(6)})


def _levy(u: np.ndarray) -> float:
    return levy({f"x{i}": -10.0 + 20.0 * u[i] for i in range(4)})


FAMILIES = {
    "branin": Family("branin", 2, _branin, 0.397887, 0.05),
    "hartmann6": Family("hartmann6", 6, _hartmann, -3.32237, 0.1),
    "levy4": Family("levy4", 4, _levy, 0.0, 0.1),
}


@dataclass(frozen=True)
class Task:
    family: Family
    index: int
    delta: np.ndarray
    scale: float
    offset: float

    @property
    def space(self) -> SearchSpace:
        return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(self.family.dim)})

    def __call__(self, config: Mapping[str, Any]) -> float:
        u = np.array([config[f"x{i}"] for i in range(self.family.dim)]) + self.delta
        return self.scale * self.family.base(u) + self.offset

    def regret(self, value: float) -> float:
        """Regret of the base function (the task's own divided by its scale)."""
        return (value - (self.scale * self.family.optimum + self.offset)) / self.scale


def make_tasks(family: Family, n: int) -> list[Task]:
    rng = np.random.default_rng(1000 + len(family.name))
    return [
        Task(
            family,
            i,
            rng.uniform(-family.shift, family.shift, family.dim),
            float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
            float(rng.uniform(-1.0, 1.0)),
        )
        for i in range(n)
    ]


def _source_studies(
    tasks: list[Task], storage: Storage, n_trials: int, shuffled: bool
) -> list[str]:
    """One study per task in `storage` (cold BoTorch); with `shuffled`, the values permuted."""
    names = []
    for t in tasks:
        name = f"{t.family.name}-{t.index}" + ("-shuffled" if shuffled else "")
        names.append(name)
        run = create_study(f"{name}-run", t.space, InMemoryStorage(), seed=100 + t.index)
        run.optimize(lambda tr, t=t: t(tr.params), max_trials=n_trials)
        records = [r for r in run.trials if r.values is not None]
        values = [r.values[0] for r in records]  # type: ignore[index]
        if shuffled:
            values = list(np.random.default_rng(t.index).permutation(values))
        dest = create_study(name, t.space, storage, seed=0)
        for r, v in zip(records, values, strict=True):
            dest.tell(dest.ask(dict(r.params)), float(v))
    return names


def _ours(
    task: Task, storage: Storage, name: str, seed: int, budget: int, **kw: Any
) -> list[float]:
    study = create_study(name, task.space, storage, seed=seed, **kw)
    study.optimize(lambda tr: task(tr.params), max_trials=budget)
    return [task.regret(r.values[0]) for r in study.trials if r.values is not None]


def _optuna_enqueue(
    task: Task, storage: Storage, sources: list[str], seed: int, budget: int
) -> list[float]:
    import optuna

    n_init = int(min(10, max(5, task.family.dim + 1)))
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
        config = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(task.family.dim)}
        value = task(config)
        study.tell(trial, value)
        out.append(task.regret(value))
    return out


def run_method(
    method: str, task: Task, storage: Storage, sources: list[str], seed: int, budget: int
) -> list[float]:
    """Regrets of the `budget` configurations `method` evaluated on `task`, in order."""
    name = f"target-{task.family.name}-{task.index}-{method}-{seed}-{len(storage.list_studies())}"
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
    family = FAMILIES["hartmann6"]
    tasks = make_tasks(family, n_sources + 1)
    storage = InMemoryStorage()
    names = []
    rng = np.random.default_rng(0)
    for t in tasks[1:]:
        st = create_study(f"lat-{t.index}", t.space, storage)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer seeds and tasks (dev)")
    parser.add_argument("--out", default="benchmarks/results/knowledge")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=8, help="tasks per family")
    parser.add_argument("--targets", type=int, default=None, help="held-out tasks per family")
    parser.add_argument("--source-trials", type=int, default=30)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument(
        "--merge", nargs="*", default=None, help="combine the raw.json of earlier runs into --out"
    )
    args = parser.parse_args(argv)
    if args.merge:
        return _merge([Path(d) for d in args.merge], Path(args.out))
    _limit_threads()
    seeds = args.seeds or (1 if args.quick else 3)
    targets = args.targets or (2 if args.quick else args.tasks)
    budget = max(BUDGETS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    curves: dict[str, dict[str, list[list[float]]]] = {}
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.knowledge " + " ".join(argv or sys.argv[1:]),
        "quick": args.quick,
        "seeds": seeds,
        "tasks": args.tasks,
        "targets": targets,
        "source_trials": args.source_trials,
        "wall_s": 0.0,
        "versions": _versions(),
    }
    lat: list[list[float]] = []
    for fname in args.families:
        family = FAMILIES[fname]
        tasks = make_tasks(family, args.tasks)
        storage = InMemoryStorage()
        related = _source_studies(tasks, storage, args.source_trials, shuffled=False)
        unrelated = _source_studies(tasks, storage, args.source_trials, shuffled=True)
        for k in range(targets):
            for seed in range(seeds):
                task = tasks[k]
                others = [n for i, n in enumerate(related) if i != k]
                for method in METHODS:
                    r = run_method(method, task, storage, others, seed, budget)
                    curves.setdefault(fname, {}).setdefault(method, []).append(r)
                shuffled = [n for i, n in enumerate(unrelated) if i != k]
                for method in UNRELATED:
                    r = run_method(method, task, storage, shuffled, seed, budget)
                    curves.setdefault(fname, {}).setdefault(f"{method}_unrelated", []).append(r)
                print(f"{fname} task {k} seed {seed}: {time.time() - started:.0f} s", flush=True)
                # written after every held-out task, so a run cut short keeps what it finished
                meta["wall_s"] = time.time() - started
                raw = {"meta": meta, "curves": curves, "latency": lat}
                (out / "raw.json").write_text(json.dumps(raw))
    if not args.no_latency:
        lat += latency()
    meta["wall_s"] = time.time() - started
    (out / "raw.json").write_text(json.dumps({"meta": meta, "curves": curves, "latency": lat}))
    return _write(out, [meta], curves, lat)


def _merge(dirs: list[Path], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    metas, curves = [], {}
    lat: list[list[float]] = []
    for d in dirs:
        raw = json.loads((d / "raw.json").read_text())
        metas.append(raw["meta"])
        curves.update(raw["curves"])
        lat += [x for x in raw["latency"] if isinstance(x, list)]  # [wall, CPU] pairs
    return _write(out, metas, curves, lat)


def _write(
    out: Path,
    metas: list[dict[str, Any]],
    curves: dict[str, dict[str, list[list[float]]]],
    lat: list[list[float]],
) -> int:
    report = _report(metas, curves, lat)
    (out / "results.md").write_text(report)
    (out / "results.json").write_text(json.dumps(_summary(curves, lat), indent=1))
    print(report)
    return 0


def _versions() -> dict[str, str]:
    from importlib import metadata

    return {p: metadata.version(p) for p in ("torch", "botorch", "optuna")}


def _best_so_far(r: list[float], b: int) -> float:
    return float(np.log10(max(min(r[:b]), 1e-12)))


def _reach(r: list[float], target: float) -> int | None:
    """Trials until the best regret is at most `target` (log10), None if never."""
    for i in range(len(r)):
        if _best_so_far(r, i + 1) <= target:
            return i + 1
    return None


def _summary(
    curves: dict[str, dict[str, list[list[float]]]], lat: list[list[float]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latency_wall_p50_s": float(np.median([w for w, _ in lat])) if lat else None,
        "latency_cpu_p50_s": float(np.median([c for _, c in lat])) if lat else None,
        "families": {},
    }
    for fname, by_method in curves.items():
        fam: dict[str, Any] = {}
        cold = by_method["cold"]
        for method, runs in by_method.items():
            reach = [
                _reach(r, _best_so_far(c, max(BUDGETS))) for r, c in zip(runs, cold, strict=True)
            ]
            fam[method] = {
                "median_log10_regret": {
                    str(b): float(np.median([_best_so_far(r, b) for r in runs])) for b in BUDGETS
                },
                "median_trials_to_cold50": float(
                    np.median([x if x is not None else np.inf for x in reach])
                ),
            }
        out["families"][fname] = fam
    return out


def _report(
    metas: list[dict[str, Any]],
    curves: dict[str, dict[str, list[list[float]]]],
    lat: list[list[float]],
) -> str:
    meta = metas[0]
    lines = [
        "# Knowledge base: warm start and transfer across related tasks",
        "",
        "log10 regret of the base function (median [IQR] over held-out tasks and seeds; lower is "
        "better), and trials needed to reach the cold sampler's 50-trial result on the same task "
        "and seed (median; inf: not within 50).",
        "",
        f"- date: {meta['date']}; machine: {platform.machine()}, {os.cpu_count()} cores shared "
        "with other jobs, CPU only, torch.set_num_threads(1)",
        *[f"- command: `{m['command']}` (wall time {m['wall_s']:.0f} s)" for m in metas],
        f"- mode: {'QUICK (development only)' if meta['quick'] else 'full'}; {meta['tasks']} "
        f"tasks a family, up to the first {meta['targets']} held out in turn (the other "
        f"{meta['tasks'] - 1} as earlier studies of {meta['source_trials']} cold BoTorch trials "
        f"each); seeds 0..{meta['seeds'] - 1}",
        f"- versions: {meta['versions']}",
        "- unrelated: the same earlier studies with their values shuffled among their trials",
        "",
    ]
    methods = list(METHODS) + [f"{m}_unrelated" for m in UNRELATED]
    for fname, by_method in curves.items():
        n_runs = len(by_method["cold"])
        lines += [
            f"## {fname}",
            "",
            f"{n_runs} (held-out task, seed) pair(s) completed.",
            "",
            "| method | " + " | ".join(f"regret@{b}" for b in BUDGETS) + " | trials to cold@50 |",
            "|" + "---|" * (len(BUDGETS) + 2),
        ]
        cold = by_method["cold"]
        for m in methods:
            runs = by_method.get(m, [])
            if not runs:
                continue
            cells = []
            for b in BUDGETS:
                v = [_best_so_far(r, b) for r in runs]
                q1, med, q3 = np.percentile(v, [25, 50, 75])
                cells.append(f"{med:.2f} [{q1:.2f}, {q3:.2f}]")
            reach = [
                _reach(r, _best_so_far(c, max(BUDGETS))) for r, c in zip(runs, cold, strict=True)
            ]
            med_reach = float(np.median([x if x is not None else np.inf for x in reach]))
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {med_reach:g} |")
        lines.append("")
    if not lat:
        return "\n".join(lines)
    lines += [
        "## Suggestion latency",
        "",
        "Transfer suggestion with 8 earlier studies of 125 observations (1,000 in all) and 20 "
        f"of the task's own, Hartmann6, {len(lat)} suggestions: CPU time (single thread) p50 "
        f"{np.median([c for _, c in lat]):.3f} s, p95 {np.percentile([c for _, c in lat], 95):.3f}"
        f" s; wall time on the shared machine p50 {np.median([w for w, _ in lat]):.3f} s, p95 "
        f"{np.percentile([w for w, _ in lat], 95):.3f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
