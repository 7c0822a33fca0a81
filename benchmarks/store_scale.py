"""The trial store at scale: ask+tell and pruning-check cost as a study grows (issue 40 target 6).

For each store (a SQLite file; PostgreSQL when AUTOTUNE_TEST_POSTGRES_URL is set) and each size
(100, 1,000, 10,000 finished trials, each with `--reports` intermediate values), a study is filled
by bulk inserts, then measured in one process, side by side, interleaved over `--rounds` rounds:

- **after**: `SQLStorage` as shipped: the loop's reads are incremental (`read_trials`);
- **before**: the same store with the loop reading every trial at each ask and each pruning
  check (`Storage.read_trials`'s full-read default, the code path before incremental reads);
- **optuna**: Optuna's `RDBStorage` on the same database server (its own tables, a study of the
  same size and reports), the store users of the peer know; omitted at sizes over `--optuna-max`
  because filling it through Optuna's API takes minutes per 1,000 trials with 100 reports.

Measured: the median seconds of one `ask` + `tell` (random sampler, so the store's cost is what is
timed; after one untimed ask+tell, whose first read fills the process's cache), and of one
pruning check (`MedianPruner`, a running trial with the same number of reports, after a first,
cold check that fills the cache). Once per size (ours): `studies show`,
`write_report` (no sensitivity analysis) and a full `study.trials` load.

Run: `PYTHONPATH=. python benchmarks/store_scale.py [--quick]` (not niced: it times latency), with
`eval "$(AUTOTUNE_PG_DIR=/tmp/pg-bench .ci/postgres.sh)"` first for the PostgreSQL rows.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import insert, select

import lightning_autotune
from lightning_autotune import create_study
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage, Storage, StudyTrials
from lightning_autotune.storage._schema import trial_intermediate, trials
from lightning_autotune.study import Study

SPACE = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1e-1, "scale": "log"},
    "width": {"type": "integer", "min": 16, "max": 512},
}
OUT = Path(__file__).parent / "results" / "store_scale"
LOAD_AT_START = os.getloadavg()[0]


class FullReadStorage(SQLStorage):
    """The store with the loop reading every trial each time (no incremental reads)."""

    def read_trials(self, study_id: int) -> StudyTrials:
        return Storage.read_trials(self, study_id)


def _fill(url: str, name: str, n: int, reports: int) -> None:
    """A study of `n` COMPLETE trials with `reports` intermediate values each, in bulk."""
    store = SQLStorage(url)
    sid = store.create_study(name, SPACE, ["minimize"]).study_id
    store.close()
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    start = datetime.now(timezone.utc) - timedelta(days=1)
    with engine.begin() as conn:
        for lo in range(0, n, 1000):
            rows = [
                {
                    "study_id": sid,
                    "number": i,
                    "state": "COMPLETE",
                    "params": json.dumps(
                        {"lr": 10 ** (-5 + 4 * ((i * 37) % 101) / 100), "width": 64}
                    ),
                    "values": json.dumps([1.0 / (1 + i % 97)]),
                    "started_at": start,
                    "finished_at": start + timedelta(seconds=30),
                    "heartbeat_at": start,
                    "worker": "bench:1",
                    "user_attrs": "{}",
                }
                for i in range(lo, min(n, lo + 1000))
            ]
            conn.execute(insert(trials), rows)
        ids = conn.execute(select(trials.c.id, trials.c.number).where(trials.c.study_id == sid))
        inter = [
            {"trial_id": tid, "step": s, "value": 1.0 / (1 + num % 97) + 1.0 / (1 + s)}
            for tid, num in ids
            for s in range(reports)
        ]
        for lo in range(0, len(inter), 50_000):
            conn.execute(insert(trial_intermediate), inter[lo : lo + 50_000])
    engine.dispose()


def _fill_optuna(url: str, name: str, n: int, reports: int) -> optuna.Study:
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(
        study_name=name, storage=storage, pruner=optuna.pruners.MedianPruner()
    )
    dist = {
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "width": optuna.distributions.IntDistribution(16, 512),
    }
    for i in range(n):
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": 10 ** (-5 + 4 * ((i * 37) % 101) / 100), "width": 64},
                distributions=dist,
                value=1.0 / (1 + i % 97),
                intermediate_values={s: 1.0 / (1 + i % 97) + 1.0 / (1 + s) for s in range(reports)},
            )
        )
    return study


def _median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _ours_ask_tell(study: Study) -> None:
    trial = study.ask()
    study.tell(trial, 0.5)


def _ours_prune_check(study: Study, reports: int) -> Callable[[], Any]:
    trial = study.ask()
    for s in range(reports):
        trial.report(s, 0.9)
    return trial.should_prune


def _optuna_ask_tell(study: optuna.Study) -> None:
    trial = study.ask()
    study.tell(trial, 0.5)


def _optuna_prune_check(study: optuna.Study, reports: int) -> Callable[[], Any]:
    trial = study.ask()
    for s in range(reports):
        trial.report(0.9, s)
    return trial.should_prune


@contextlib.contextmanager
def _database(backend: str, tmp: Path, tag: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{tag}.db'}"
        return
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(os.environ["AUTOTUNE_TEST_POSTGRES_URL"]) as url:
        yield url


def measure(
    backend: str,
    n: int,
    reports: int,
    rounds: int,
    repeat: int,
    optuna_max: int,
    before_max: int | None = None,
) -> dict[str, Any]:
    """One row of the table: `backend` store with `n` trials of `reports` reports; the
    full-read store ("before") only up to `before_max` trials (None: always)."""
    row: dict[str, Any] = {"backend": backend, "trials": n, "reports": reports}
    with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp), "ours") as url:
        t0 = time.perf_counter()
        _fill(url, "s", n, reports)
        row["fill_s"] = time.perf_counter() - t0
        pruner = MedianPruner(n_startup_trials=1)
        studies = {
            "after": create_study(
                "s",
                SPACE,
                SQLStorage(url),
                sampler=RandomSampler(),
                pruner=pruner,
                load_if_exists=True,
            ),
        }
        if before_max is None or n <= before_max:
            studies["before"] = create_study(
                "s",
                SPACE,
                FullReadStorage(url),
                sampler=RandomSampler(),
                pruner=pruner,
                load_if_exists=True,
            )
        peers: dict[str, Any] = {}
        if n <= optuna_max:
            with _database(backend, Path(tmp), "optuna") as ourl:
                optuna.logging.set_verbosity(optuna.logging.WARNING)
                t0 = time.perf_counter()
                peers["optuna"] = _fill_optuna(ourl, "s", n, reports)
                row["optuna_fill_s"] = time.perf_counter() - t0
                row.update(_rounds(studies, peers, reports, rounds, repeat))
        else:
            row.update(_rounds(studies, peers, reports, rounds, repeat))
        after = studies["after"]
        row["trials_load_s"] = _median_time(lambda: after.trials, 3)
        with contextlib.redirect_stdout(io.StringIO()):
            from lightning_autotune.cli import main

            row["show_s"] = _median_time(
                lambda: main(["studies", "show", "s", "--storage", url]), 1
            )
        try:
            from lightning_autotune.analysis import write_report

            page = Path(tmp) / "report.html"
            row["report_s"] = _median_time(lambda: write_report(after, page, sensitivity=False), 1)
        except ImportError as err:  # plotting extra missing
            row["report_s"] = None
            row["report_error"] = str(err)
        for study in studies.values():
            study.close()
    return row


def _rounds(
    studies: dict[str, Study], peers: dict[str, Any], reports: int, rounds: int, repeat: int
) -> dict[str, Any]:
    ask: dict[str, list[float]] = {k: [] for k in [*studies, *peers]}
    prune: dict[str, list[float]] = {k: [] for k in [*studies, *peers]}
    cold: dict[str, float] = {}
    # One untimed ask+tell each first: a process's first read of the study fills its cache
    # (seconds at 10,000 trials), which the cold pruning check below measures; with a few
    # repeats it would otherwise set the median of the ask+tell.
    for study in studies.values():
        _ours_ask_tell(study)
    for peer in peers.values():
        _optuna_ask_tell(peer)
    for r in range(rounds):
        for key, study in studies.items():
            ask[key].append(_median_time(lambda s=study: _ours_ask_tell(s), repeat))
            check = _ours_prune_check(study, reports)
            if r == 0:
                t0 = time.perf_counter()
                check()
                cold[key] = time.perf_counter() - t0
            prune[key].append(_median_time(check, repeat))
        for key, study in peers.items():
            ask[key].append(_median_time(lambda s=study: _optuna_ask_tell(s), repeat))
            check = _optuna_prune_check(study, reports)
            if r == 0:
                t0 = time.perf_counter()
                check()
                cold[key] = time.perf_counter() - t0
            prune[key].append(_median_time(check, repeat))
    out: dict[str, Any] = {}
    for key in ask:
        out[f"{key}_ask_tell_ms"] = 1000 * statistics.median(ask[key])
        out[f"{key}_prune_ms"] = 1000 * statistics.median(prune[key])
        out[f"{key}_prune_cold_ms"] = 1000 * cold[key]
    return out


def _cell(row: dict[str, Any], key: str, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    value = row.get(key)
    return "-" if value is None else fmt.format(value * scale)


def write(rows: list[dict[str, Any]], command: str, quick: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "command": command,
        "quick": quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "python": platform.python_version(),
        "lightning_autotune": lightning_autotune.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "optuna": optuna.__version__,
        "load": f"{LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
    }
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# The trial store at scale",
        "",
        f"- date: {meta['date']}; machine: {meta['machine']}; Python {meta['python']}, "
        f"lightning_autotune {meta['lightning_autotune']}, SQLAlchemy {meta['sqlalchemy']}, "
        f"Optuna {meta['optuna']}; load average {meta['load']}",
        f"- command: `{command}`" + (" (quick mode: development only)" if quick else ""),
        "- ms per ask+tell (random sampler) and per pruning check (MedianPruner, warm; cold = "
        "the first check of a process); after = incremental reads, before = every read in "
        "full, optuna = Optuna's RDBStorage with its own cache; medians over rounds, "
        "interleaved in one process. `show`, `report` and `trials` are seconds, ours (after).",
        "",
        "| store | trials x reports | ask+tell after | before | optuna | prune after | before "
        "| optuna | prune cold after | before | optuna | show s | report s | trials s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['trials']} x {r['reports']} | "
            + " | ".join(
                _cell(r, k)
                for k in (
                    "after_ask_tell_ms",
                    "before_ask_tell_ms",
                    "optuna_ask_tell_ms",
                    "after_prune_ms",
                    "before_prune_ms",
                    "optuna_prune_ms",
                    "after_prune_cold_ms",
                    "before_prune_cold_ms",
                    "optuna_prune_cold_ms",
                )
            )
            + f" | {_cell(r, 'show_s')} | {_cell(r, 'report_s')} | {_cell(r, 'trials_load_s')} |"
        )
    (OUT / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 trials, 10 reports")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--optuna-max", type=int, default=1000)
    parser.add_argument(
        "--before-max", type=int, default=None, help="measure 'before' only up to this size"
    )
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    sizes, reports = (args.sizes, args.reports) if not args.quick else ([100, 1000], 10)
    backends = [
        b for b in args.backends if b == "sqlite" or os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    ]
    rows = []
    command = "PYTHONPATH=. python benchmarks/store_scale.py " + " ".join(
        a for a in os.sys.argv[1:]
    )
    for backend in backends:
        for n in sizes:
            row = measure(
                backend, n, reports, args.rounds, args.repeat, args.optuna_max, args.before_max
            )
            print(json.dumps(row), flush=True)
            rows.append(row)
            write(rows, command.strip(), args.quick)  # what is measured survives a cut run


if __name__ == "__main__":
    main()
