"""Parallel speedup: the same study (same trials, same configs) with 1, 2 and 4 workers.

    python -m benchmarks.parallel            # 3 interleaved repetitions of each, 50 epochs
    python -m benchmarks.parallel --epochs 200   # longer trials (about 13 s each here)
    python -m benchmarks.parallel --quick    # 1 repetition, fewer trials (development only)

Each trial trains a small MLP on scikit-learn's digits with Lightning, pinned to one thread. The
1-worker run is the default `fit(...)` (trials in this process); the multi-worker runs are
`fit(..., executor=ProcessExecutor(n, threads_per_trial=1))` (one fresh process per trial). All
get the same enqueued configurations, so they do the same work. The runs are interleaved (their
order rotates from one repetition to the next) because the machine is shared; the report gives
each run's wall time, the medians and the ratios of medians. Output: a markdown table on stdout
and in `--out`/results.md (benchmarks/results/parallel_e50/ by default; `make bench-parallel`
writes parallel_e50/ and parallel_e200/).

A process's first multi-worker study starts the fork server, a fresh interpreter that imports
torch and Lightning (about 4 s here), while the 1-worker run uses what this process already
imported. The server is kept for the next study (`keep_server=True`, the default), so each
repetition measures both: a "2, first study" run after the kept server was dropped (cold: it
pays the start), then the 2- and 4-worker runs on the kept server (warm). On a 2-core machine
4 workers cannot beat 2; that row shows what oversubscription costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from lightning_autotune import fit
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import ProcessExecutor, create_study
from lightning_autotune.study._forkserver import KEPT
from lightning_autotune.testing import TinyClassifier, digits_datasets, loaders

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 3e-2, "scale": "log"},
    "hidden": {"type": "integer", "min": 96, "max": 160},
}
TRAINER = {
    "accelerator": "cpu",
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def build(params: dict[str, Any]) -> Any:
    train, val, _ = digits_datasets(seed=0)
    model = TinyClassifier(n_features=64, n_classes=10, hidden=params["hidden"], lr=params["lr"])
    return (model, *loaders(train, val, batch_size=32))


def configs(n: int) -> list[dict[str, Any]]:
    from lightning_autotune.space import SearchSpace

    return SearchSpace.from_dict(SPACE).sample(n, seed=123)


def run_once(n_workers: int, n_trials: int, epochs: int, folder: Path, tag: str) -> float:
    """Wall time of one study of `n_trials` enqueued trials with `n_workers` workers.

    The multi-worker executor is made inside the timed region, as `fit(n_workers=...)` does.
    """
    url = f"sqlite:///{folder / f'{tag}.db'}"
    study = create_study(tag, SPACE, url, sampler=RandomSampler(), seed=0)
    for config in configs(n_trials):
        study.enqueue(config)
    # The fork server imports torch and Lightning once; preloading the data helpers as well
    # spares every trial process the import of scikit-learn.
    preload = ["lightning_autotune.testing", "sklearn.datasets"]
    start = time.perf_counter()
    executor = (
        None if n_workers == 1 else ProcessExecutor(n_workers, threads_per_trial=1, preload=preload)
    )
    study = fit(
        build, SPACE, monitor="val_loss", max_trials=n_trials, storage=url, study_name=tag,
        trainer_kwargs={**TRAINER, "max_epochs": epochs}, executor=executor, seed=0,
    )  # fmt: skip
    wall = time.perf_counter() - start
    done = [t for t in study.trials if t.state.is_finished]
    assert len(done) == n_trials, f"{tag}: only {len(done)} of {n_trials} trials finished"
    return wall


_CONTROL = (
    "import torch, lightning.pytorch as pl; torch.set_num_threads(1); "
    "from benchmarks.parallel import build, TRAINER; "
    "m, t, v = build({'lr': 0.01, 'hidden': 128}); "
    "pl.Trainer(**TRAINER, max_epochs=%d).fit(m, t, v)"
)


def machine_capacity(epochs: int) -> float:
    """How much faster two plain training processes finish than two in a row (ideal: 2.0).

    Measures what the shared machine gives two single-threaded processes right now, without
    any of our code in the way: the ceiling of any two-worker speedup.
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-c", _CONTROL % epochs]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    for _ in range(2):
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]  # fmt: skip
    for proc in procs:
        proc.wait()
    return serial / (time.perf_counter() - start)


COLD = "2, first study"
"""The 2-worker run that starts its own fork server (none kept), as a process's first does."""
RUNS: tuple[int, ...] = (1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 4 trials (dev only)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results/parallel_e50")
    args = parser.parse_args()
    reps, trials = (1, 4) if args.quick else (args.reps, args.trials)
    torch.set_num_threads(1)
    times: dict[int | str, list[float]] = {run: [] for run in (*RUNS, COLD)}
    capacity: list[float] = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            capacity.append(machine_capacity(args.epochs))
            print(f"rep {rep}: machine capacity for 2 processes: {capacity[-1]:.2f}x", flush=True)
            KEPT.close_all()  # the cold run starts a server, which the warm runs then reuse
            wall = run_once(2, trials, args.epochs, Path(tmp), f"cold-r{rep}")
            times[COLD].append(wall)
            print(f"rep {rep}: {COLD}: {wall:.1f} s", flush=True)
            order = RUNS[rep % len(RUNS) :] + RUNS[: rep % len(RUNS)]
            for workers in order:
                wall = run_once(workers, trials, args.epochs, Path(tmp), f"w{workers}-r{rep}")
                times[workers].append(wall)
                print(f"rep {rep}: {workers} worker(s): {wall:.1f} s", flush=True)
    KEPT.close_all()
    med = {w: statistics.median(ts) for w, ts in times.items()}
    label = {
        1: "1",
        2: "2 (kept server)",
        4: "4 (kept server)",
        COLD: "2 (first study: starts the server)",
    }
    lines = [
        f"# Parallel speedup ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"no GPU; load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        "the end (shared machine; the control below shows what it gave).",
        f"Study: {trials} trials (same enqueued configs), {args.epochs} epochs each, digits MLP, "
        f"1 thread per trial; {reps} interleaved repetition(s)"
        + (" -- QUICK MODE, development only" if args.quick else "")
        + ".",
        "",
        "| workers | wall times (s) | median (s) | speedup vs 1 worker |",
        "|---|---|---|---|",
        *(
            f"| {label[w]} | {', '.join(f'{t:.1f}' for t in times[w])} | {med[w]:.1f} | "
            f"{med[1] / med[w]:.2f}x |"
            for w in (1, COLD, 2, 4)
        ),
        "",
        f"Speedup of 2 workers (median 1 worker / median 2 workers): **{med[1] / med[2]:.2f}x** "
        f"with the fork server kept from an earlier study, {med[1] / med[COLD]:.2f}x for a "
        "process's first study, which starts it (target >= 1.8x).",
        "",
        "Control, the machine's own ceiling: two plain Lightning processes of one trial each, "
        "run together vs one after the other (no lightning_autotune code; 2.0x on an idle "
        f"2-core machine): {', '.join(f'{c:.2f}x' for c in capacity)}, "
        f"median {statistics.median(capacity):.2f}x.",
        "",
        "Command: `python -m benchmarks.parallel"
        + (" --quick" if args.quick else f" --reps {reps} --trials {trials}")
        + f" --epochs {args.epochs}`",
    ]
    report = "\n".join(lines)
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(report + "\n")
    raw = {"times": {str(k): v for k, v in times.items()}, "capacity": capacity}
    (out / "results.json").write_text(json.dumps(raw, indent=2) + "\n")


if __name__ == "__main__":
    main()
