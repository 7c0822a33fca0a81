"""Time limits of trials that run in the coordinator's own process: applied, or refused."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import LightningObjective
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import InProcessExecutor, create_study
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets
from lightning_autotune.trial import TrialState

SPACE = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}
DATA = random_datasets(n=64, n_features=8)
MAX_EPOCHS = 3000


def _study():
    return create_study("s", SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=0)


def _build(params):
    model = TinyClassifier(n_features=8, n_classes=3, hidden=4, lr=params["lr"])
    return model, DataLoader(DATA[0], batch_size=64), DataLoader(DATA[1], batch_size=64)


@pytest.mark.parametrize("executor", [None, InProcessExecutor()])
def test_trial_timeout_of_a_plain_objective_in_process_is_refused(executor):
    study = _study()
    match = (
        r"trial_timeout=5 cannot stop a trial that runs in this process \(n_workers=1\).*"
        r"Run each trial in its own process \(n_workers > 1, or "
        r"executor=ProcessExecutor\(n_workers=1\)\)"
    )
    with pytest.raises(ConfigError, match=match):
        study.optimize(lambda t: 1.0, n_trials=1, trial_timeout=5, executor=executor)
    assert study.trials == []


def test_a_lightning_objective_applies_trial_timeout_in_process():
    study = _study()
    objective = LightningObjective(
        build=_build, trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": MAX_EPOCHS}
    )
    study.optimize(objective, n_trials=1, trial_timeout=1)
    (trial,) = study.trials
    assert trial.state is TrialState.COMPLETE
    # stopped by max_time long before its epochs ran out
    assert trial.last_step is not None and trial.last_step < MAX_EPOCHS - 1


def test_a_lightning_objective_keeps_its_own_tighter_limit():
    objective = LightningObjective(build=_build, trial_timeout=2.0, deadline=100.0)
    limited = objective.with_time_limits(5.0, 50.0)
    assert (limited.trial_timeout, limited.deadline) == (2.0, 50.0)
    assert objective.with_time_limits(None, None) == objective
