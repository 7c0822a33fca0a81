"""Workers: independent processes, on any machines, that share one study through its store.

`lightning-autotune worker --study NAME --storage URL --objective module:function` and
`run_worker(...)` open an existing study and run trials until its budget is spent. Every worker
claims trials atomically from the store, so any number of them can join or leave at any time.
The objective is imported by its import path on each machine: nothing executable ever travels
through the database.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lightning_autotune._time import parse_duration
from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.storage import Storage, get_storage
from lightning_autotune.storage._netfs import refuse_network_sqlite, sqlite_file
from lightning_autotune.study import Study, load_study

__all__ = ["add_worker_parser", "check_shared_storage", "import_callable", "run_worker"]


def import_callable(path: str, field: str = "objective") -> Callable[..., Any]:
    """The function named by 'package.module:function' (the module is imported normally).

    Raises:
        ConfigError: A malformed path, a module that cannot be imported, or a missing name.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"{field} must be an import path 'module:function' such as 'train:objective', "
            f"got {path!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            f"{field}: cannot import module {module_name!r} ({err}); run the worker from the "
            "folder that holds it or add that folder to PYTHONPATH"
        ) from err
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{field}: module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{field}: {path!r} is not callable")
    return target


def check_shared_storage(storage: Storage) -> None:
    """Refuse a SQLite store on a network file system, which other machines would share.

    The same check as when any store is opened (`storage._netfs.refuse_network_sqlite`), run
    again for a store object made elsewhere: share a study between machines through PostgreSQL.

    Raises:
        StorageError: The store is a SQLite file on a network file system.
    """
    url = getattr(storage, "url", None)
    if not url:
        return
    try:
        path = sqlite_file(make_url(str(url)))
    except ArgumentError:
        return
    if path is not None:
        refuse_network_sqlite(path)


def run_worker(
    study_name: str,
    storage: Storage | str,
    objective: Callable[..., Any] | None = None,
    *,
    build: Callable[[dict[str, Any]], Any] | None = None,
    monitor: str = "val_loss",
    trainer_kwargs: Mapping[str, Any] | None = None,
    n_trials: int | None = None,
    max_trials: int | None = None,
    time_budget: float | str | None = None,
    n_workers: int = 1,
    timeout: float | str | None = None,
    **optimize_kwargs: Any,
) -> Study:
    """Join an existing study and run its trials from this process (and its trial processes).

    Give either `objective(trial) -> value` or a `fit`-style `build(params)` with `monitor`;
    `build` runs through the same `LightningObjective` as `fit`, seeded with the study's seed.
    Several workers, on one machine (SQLite) or many (PostgreSQL), share the study; each trial
    is claimed by exactly one of them.

    Args:
        study_name: The study, created beforehand (e.g. by `create_study` or `fit`).
        storage: Its store: a URL or a store object.
        objective: Called with each `Trial`; returns the objective value(s).
        build: Instead of `objective`: builds the model and data from params (see `fit`).
        monitor: With `build`: the validation metric to optimize.
        trainer_kwargs: With `build`: overrides of the default `Trainer` arguments.
        n_trials: Trials this worker starts (None: no limit).
        max_trials: Total trials of the study, retries not counted (shared by all workers).
        time_budget: Seconds or 'HH:MM:SS' for this worker. A trial built from `build` that
            is still training at the end is recorded PRUNED ('time budget').
        n_workers: Trials this worker runs at once (several: one process each).
        timeout: Deprecated spelling of `time_budget`.
        **optimize_kwargs: Further arguments of `Study.optimize` (max_retries, ...).

    Returns:
        The study.

    Raises:
        ConfigError: Neither or both of objective and build.
        StorageError: A SQLite store on a network file system.

    Example:
        >>> # run_worker("mnist", "postgresql://tuner@db/studies", objective, max_trials=100)
    """
    if timeout is not None:
        warnings.warn(
            "run_worker(timeout=...) is deprecated; use time_budget=...",
            DeprecationWarning,
            stacklevel=2,
        )
        if time_budget is None:
            time_budget = timeout
    if (objective is None) == (build is None):
        raise ConfigError("run_worker needs exactly one of objective= or build=")
    for name, value in (("n_trials", n_trials), ("max_trials", max_trials)):
        if value is not None:
            check_int(value, name)
    check_int(n_workers, "n_workers")
    budget = parse_duration(time_budget)
    store = get_storage(storage)
    check_shared_storage(store)
    study = load_study(study_name, store)
    if build is not None:
        from lightning_autotune.objective import LightningObjective

        objective = LightningObjective(
            build,
            monitor=monitor,
            trainer_kwargs=dict(trainer_kwargs or {}),
            seed=study.seed,
            deadline=None if budget is None else time.time() + budget,
        )
    assert objective is not None
    return study.optimize(
        objective,
        n_trials=n_trials,
        timeout=budget,
        max_trials=max_trials,
        n_workers=n_workers,
        **optimize_kwargs,
    )


def add_worker_parser(sub: Any) -> None:
    """Add the `worker` subcommand to the `lightning-autotune` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "worker", help="join a study and run its trials (any number of workers, any machines)"
    )
    p.add_argument("--study", required=True, help="name of an existing study")
    p.add_argument("--storage", required=True, help="store URL, e.g. postgresql://u@host/db")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--objective", help="import path module:function of objective(trial)")
    what.add_argument("--build", help="import path module:function of build(params) (as fit)")
    p.add_argument("--monitor", default="val_loss", help="with --build: metric to optimize")
    p.add_argument("--max-epochs", type=int, default=None, help="with --build: epochs per trial")
    p.add_argument("--n-trials", type=int, default=None, help="trials this worker starts")
    p.add_argument("--max-trials", type=int, default=None, help="total trials of the study")
    p.add_argument("--time-budget", default=None, help="seconds or HH:MM:SS for this worker")
    p.add_argument("--timeout", default=None, help=argparse.SUPPRESS)  # deprecated spelling
    p.add_argument("--n-workers", type=int, default=1, help="trials at once on this machine")
    p.set_defaults(run=_main)


def _main(args: argparse.Namespace) -> int:
    if args.timeout is not None:
        warnings.warn("--timeout is deprecated; use --time-budget", DeprecationWarning, 2)
        args.time_budget = args.time_budget or args.timeout
    if args.n_trials is None and args.max_trials is None and args.time_budget is None:
        raise ConfigError("worker needs --n-trials, --max-trials or --time-budget so that it ends")
    budget: float | str | None = args.time_budget
    if isinstance(budget, str) and budget.replace(".", "", 1).isdigit():
        budget = float(budget)
    kwargs: dict[str, Any] = {}
    if args.objective:
        kwargs["objective"] = import_callable(args.objective, "--objective")
    else:
        kwargs["build"] = import_callable(args.build, "--build")
        kwargs["monitor"] = args.monitor
        if args.max_epochs is not None:
            kwargs["trainer_kwargs"] = {"max_epochs": args.max_epochs}
    study = run_worker(
        args.study,
        args.storage,
        n_trials=args.n_trials,
        max_trials=args.max_trials,
        time_budget=budget,
        n_workers=args.n_workers,
        **kwargs,
    )
    done = sum(1 for t in study.trials if t.state.is_finished)
    print(f"worker done: study {study.name!r} holds {done} finished trial(s)")
    return 0
