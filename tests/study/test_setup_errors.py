"""A setup error (e.g. a wrong monitor) ends the study, but the trial it spoiled is not counted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest

from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.exceptions import MetricNotFoundError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import create_study
from lightning_autotune.testing import (
    TINY_TRAINER_KWARGS,
    TinyClassifier,
    loaders,
    random_datasets,
)
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState

SPACE = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}


def _objective(monitor: str):
    def objective(trial):
        model = TinyClassifier(n_features=16, n_classes=3, hidden=8, lr=trial.params["lr"])
        train, val = loaders(*random_datasets(n=64))
        callback = AutoTuneCallback(trial, monitor=monitor)
        trainer = pl.Trainer(callbacks=[callback], **{**TINY_TRAINER_KWARGS, "max_epochs": 1})
        trainer.fit(model, train, val)
        return float(trainer.callback_metrics["val_loss"])

    return objective


def test_a_wrong_monitor_stops_the_study_and_is_not_counted_once_fixed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = create_study("m", SPACE, url, sampler=RandomSampler(), seed=0)
    with pytest.raises(MetricNotFoundError, match="monitor 'val_los' was not logged"):
        study.optimize(_objective("val_los"), max_trials=3)
    (spoiled,) = study.trials
    assert (spoiled.state, spoiled.kind) == (TrialState.FAILED, FailureKind.SETUP_ERROR)

    fixed = create_study("m", SPACE, url, sampler=RandomSampler(), seed=0)
    fixed.optimize(_objective("val_loss"), max_trials=3)
    trials = fixed.trials
    assert trials[0] == spoiled  # the record is kept as it was
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 3
    # The spoiled trial used no proposal: the fixed study starts from the same configuration.
    assert trials[1].params == spoiled.params


class _Spy(RandomSampler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[int]] = []

    def suggest(self, space: Any, history: Sequence[TrialRecord], **kw: Any) -> Any:
        self.seen.append([t.number for t in history])
        return super().suggest(space, history, **kw)


def test_setup_errors_stay_out_of_the_samplers_history_and_the_failure_threshold() -> None:
    spy = _Spy()
    study = create_study("s", SPACE, sampler=spy, seed=0)
    done = study.ask()
    study.tell(done, 0.5)
    for _ in range(3):
        spoiled = study.ask()
        study.tell(spoiled, state=TrialState.FAILED, kind=FailureKind.SETUP_ERROR)
    study.suggest(1)
    assert spy.seen[-1] == [0]
    # Three setup errors out of four trials would pass a 0.5 threshold if they counted.
    study.optimize(lambda t: 0.1, max_trials=3, failure_threshold=(0.5, 2))
    assert sum(t.state is TrialState.COMPLETE for t in study.trials) == 3
