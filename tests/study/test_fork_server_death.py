"""The fork server dies mid-study: its trials are recorded as such, retried, and the study ends."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import ProcessExecutor, create_study
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, loaders, random_datasets
from lightning_autotune.trial import FailureKind, TrialState

pytestmark = pytest.mark.slow

SPACE = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}


class Hold(pl.Callback):
    """Keeps a trial training while the file `hold` exists, and says so in `started`."""

    def __init__(self, hold: Path, started: Path) -> None:
        self.hold, self.started = hold, started

    def on_train_batch_end(self, *args: object) -> None:
        self.started.touch()
        while self.hold.exists():
            time.sleep(0.05)


def make_objective(folder: Path):
    def objective(trial):
        trial.set_user_attr("server", os.getppid())
        callbacks = []
        if trial.number < 2:  # the first two trials train until the test kills their server
            callbacks.append(Hold(folder / "hold", folder / f"started-{trial.number}"))
        model = TinyClassifier(n_features=16, n_classes=3, hidden=8, lr=trial.params["lr"])
        train, val = loaders(*random_datasets(n=64))
        trainer = pl.Trainer(callbacks=callbacks, **{**TINY_TRAINER_KWARGS, "max_epochs": 1})
        trainer.fit(model, train, val)
        return float(trainer.callback_metrics["val_loss"])

    return objective


def _kill_server_when_both_train(folder: Path, executor: ProcessExecutor, killed: list[int]):
    end = time.monotonic() + 300
    while time.monotonic() < end:
        server = executor._server
        started = all((folder / f"started-{n}").exists() for n in (0, 1))
        if server is not None and started:
            os.kill(server.proc.pid, signal.SIGKILL)
            killed.append(server.proc.pid)
            return
        time.sleep(0.05)


def test_a_killed_fork_server_fails_its_trials_as_such_and_the_study_goes_on(tmp_path):
    (tmp_path / "hold").touch()  # never removed: only the server's death frees these trials
    study = create_study(
        "fs", SPACE, f"sqlite:///{tmp_path / 'fs.db'}", sampler=RandomSampler(), seed=0
    )
    executor = ProcessExecutor(2)
    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_server_when_both_train, args=(tmp_path, executor, killed), daemon=True
    )
    killer.start()
    # trial_timeout only bounds the test if the death went unnoticed (the kinds below tell);
    # heartbeat_grace is loose because a new server may take long to start on a busy machine.
    study.optimize(
        make_objective(tmp_path),
        max_trials=3,
        executor=executor,
        heartbeat_interval=0.5,
        trial_timeout=120,
        heartbeat_grace=600,
    )
    killer.join(timeout=5)
    assert len(killed) == 1

    trials = {t.number: t for t in study.trials}
    assert all(t.state.is_finished for t in trials.values())  # no RUNNING, no WAITING left
    for number in (0, 1):
        dead = trials[number]
        assert dead.state is TrialState.FAILED
        assert dead.kind is FailureKind.FORK_SERVER_DIED
        assert dead.reason is not None and dead.reason.startswith("fork server died: process ")
        assert dead.user_attrs["server"] == killed[0]
    retries = {t.retry_of: t for t in trials.values() if t.retry_of is not None}
    assert sorted(retries) == [0, 1]
    assert all(t.state is TrialState.COMPLETE for t in retries.values())
    fresh = [t for t in trials.values() if t.retry_of is None and t.number >= 2]
    assert [t.state for t in fresh] == [TrialState.COMPLETE]
    # the retries and the last trial ran in a new server
    assert killed[0] not in {t.user_attrs["server"] for t in [*retries.values(), *fresh]}
    assert len(trials) == 5
