"""Ctrl-C: a study stops quietly, records its running trials as interrupted, and resumes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lightning_autotune.exceptions import StudyInterrupted
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import FailureKind, TrialState

ROOT = Path(__file__).resolve().parents[2]

# A tiny real Lightning run per trial; while the file HOLD exists every training batch waits,
# so the test can press Ctrl-C while both workers' trials are training.
SCRIPT = """
import sys, time
from pathlib import Path

import lightning.pytorch as pl

from lightning_autotune.exceptions import StudyInterrupted
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import ProcessExecutor, create_study
from lightning_autotune.testing import (
    TINY_TRAINER_KWARGS, TinyClassifier, loaders, random_datasets,
)

DB, HOLD, START, CATCH = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "catch"


class Hold(pl.Callback):
    def on_train_batch_end(self, *args):
        while HOLD.exists():
            time.sleep(0.05)


def objective(trial):
    model = TinyClassifier(n_features=16, n_classes=3, hidden=8, lr=trial.params["lr"])
    train, val = loaders(*random_datasets(n=64))
    kwargs = {**TINY_TRAINER_KWARGS, "max_epochs": 1}
    trainer = pl.Trainer(callbacks=[Hold()], **kwargs)
    trainer.fit(model, train, val)
    return float(trainer.callback_metrics["val_loss"])


study = create_study(
    "ctrl-c", {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}},
    "sqlite:///" + DB, sampler=RandomSampler(), seed=0,
)
executor = ProcessExecutor(2, start_method=START)
if CATCH:  # what the CLI does with Ctrl-C
    try:
        study.optimize(objective, max_trials=3, executor=executor, heartbeat_interval=0.5)
    except StudyInterrupted as err:
        print(err, file=sys.stderr)
        sys.exit(130)
else:  # a plain script that does not catch it
    study.optimize(objective, max_trials=3, executor=executor, heartbeat_interval=0.5)
print("done", len(study.trials))
"""


def _run(tmp_path: Path, hold: Path, start: str, catch: bool) -> subprocess.Popen[bytes]:
    script = tmp_path / "tune.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(tmp_path / "s.db"),
            str(hold),
            start,
            "catch" if catch else "plain",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _running(url: str) -> int:
    try:
        return len(load_study("ctrl-c", url).get_trials([TrialState.RUNNING]))
    except Exception:  # the study is not created yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize(("start", "catch"), [("forkserver", True), ("spawn", False)])
def test_ctrl_c_with_two_workers_stops_quietly_and_the_rerun_retries(
    tmp_path: Path, start: str, catch: bool
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    hold = tmp_path / "hold"
    hold.touch()
    proc = _run(tmp_path, hold, start, catch)
    deadline = time.monotonic() + 180
    while _running(url) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.0)  # let both trials reach their training loop
    # Ctrl-C in a terminal: SIGINT to every process of the foreground group.
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    stderr = err.decode()
    # A script that does not catch it still shows the one line (the study's excepthook), and
    # Python ends it with status 1, as for any uncaught exception that is not exactly
    # KeyboardInterrupt; catching it as the CLI does gives the shell's 130.
    assert proc.returncode == (130 if catch else 1), stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().endswith("interrupted; run the same command again to resume")
    interrupted = load_study("ctrl-c", url).trials
    assert len(interrupted) == 2
    assert [(t.state, t.kind) for t in interrupted] == [
        (TrialState.FAILED, FailureKind.INTERRUPTED)
    ] * 2

    hold.unlink()
    again = _run(tmp_path, hold, start, catch)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-3000:]
    assert out.decode().strip() == "done 5"  # 3 trials and the 2 interrupted ones again
    trials = load_study("ctrl-c", url).trials
    retried = {t.retry_of: t for t in trials if t.retry_of is not None}
    assert sorted(retried) == [0, 1]
    for number in (0, 1):
        assert retried[number].params == trials[number].params
        assert retried[number].state is TrialState.COMPLETE
    assert sum(t.retry_of is None for t in trials) == 3
    assert all(t.state is TrialState.COMPLETE for t in trials if t.number > 1)


def test_ctrl_c_in_process_records_the_trial_and_raises_study_interrupted() -> None:
    study = create_study(
        "s",
        {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        InMemoryStorage(),
        sampler=RandomSampler(),
        seed=0,
    )

    def objective(trial):
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process
            time.sleep(5)
        return trial.params["x"]

    with pytest.raises(
        StudyInterrupted, match=r"^interrupted; run the same command again to resume$"
    ):
        study.optimize(objective, n_trials=3)
    assert issubclass(StudyInterrupted, KeyboardInterrupt)
    assert [(t.state, t.kind) for t in study.trials] == [
        (TrialState.COMPLETE, None),
        (TrialState.FAILED, FailureKind.INTERRUPTED),
    ]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # Resuming runs the interrupted configuration again, then the rest.
    study.optimize(lambda t: t.params["x"], max_trials=3)
    trials = study.trials
    assert trials[2].retry_of == 1 and trials[2].params == trials[1].params
    assert [t.state for t in trials[2:]] == [TrialState.COMPLETE] * 2
