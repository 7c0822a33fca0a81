from __future__ import annotations

import logging
import pickle

import lightning.pytorch as pl
import pytest
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune import LightningObjective
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import TIME_BUDGET_REASON, BuiltTrial
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

DATA = random_datasets(n=128, n_features=8)
SPACE = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}


def build(params):
    model = TinyClassifier(n_features=8, n_classes=3, lr=params["lr"])
    return model, DataLoader(DATA[0], batch_size=32, shuffle=True), DataLoader(DATA[1], 64)


class _Probe(pl.Callback):
    """Records the classes of the callbacks the trial's Trainer holds."""

    seen: list[list[str]] = []

    def on_fit_start(self, trainer, pl_module):
        _Probe.seen.append([type(cb).__name__ for cb in trainer.callbacks])


def _probe(params):
    return [_Probe()]


def _study(space=SPACE):
    return la.create_study(None, space, None, "minimize", sampler=RandomSampler(), seed=0)


def test_a_study_runs_the_objective_with_a_tiny_trainer():
    objective = LightningObjective(build, monitor="val_loss", trainer_kwargs=TINY_TRAINER_KWARGS)
    study = _study()
    study.optimize(objective, max_trials=2)
    assert [t.state for t in study.trials] == [la.TrialState.COMPLETE] * 2
    # 96 training samples in batches of 32: 3 steps an epoch, validated after each of 3 epochs.
    assert all(sorted(t.intermediate) == [3, 6, 9] for t in study.trials)
    assert all(t.value == t.intermediate[9] for t in study.trials)


def test_the_objective_pickles_with_its_settings():
    objective = LightningObjective(build, monitor="val_accuracy", seed=3, schedule_params=False)
    assert pickle.loads(pickle.dumps(objective)) == objective


def test_a_built_trial_brings_its_own_trainer_arguments():
    def own(params):
        module, train, val = build(params)
        kwargs = {**TINY_TRAINER_KWARGS, "max_epochs": 1}
        return BuiltTrial(module, {"train_dataloaders": train, "val_dataloaders": val}, kwargs)

    study = _study()
    study.optimize(LightningObjective(own, trainer_kwargs={"max_epochs": 5}), max_trials=1)
    assert sorted(study.trials[0].intermediate) == [3]


def test_a_trial_cut_off_by_the_time_budget_is_pruned_not_complete():
    study = la.fit(
        build,
        SPACE,
        max_trials=None,
        time_budget=2,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 100_000},
        storage=None,
        sampler=RandomSampler(),
        progress=False,
    )
    # A second trial may start in the budget's last instant; it is cut off the same way.
    assert study.trials
    for trial in study.trials:
        assert trial.state is la.TrialState.PRUNED
        assert trial.reason == TIME_BUDGET_REASON
        assert trial.kind is la.FailureKind.TIME_BUDGET
    assert len(study.trials[0].intermediate) > 1  # its curve is kept


def test_a_trial_that_finishes_inside_the_budget_is_complete():
    study = la.fit(
        build, SPACE, max_trials=1, time_budget=600, trainer_kwargs=TINY_TRAINER_KWARGS,
        storage=None, sampler=RandomSampler(), progress=False,
    )  # fmt: skip
    assert study.trials[0].state is la.TrialState.COMPLETE


def test_trials_print_no_lightning_banners_unless_asked(capfd, caplog):
    banners = ("GPU available", "TPU available", "Tip:", "`Trainer.fit` stopped")
    kwargs = {"max_epochs": 1, "accelerator": "cpu"}
    study = _study()
    caplog.set_level(logging.INFO, logger="lightning.pytorch")  # conftest quiets it
    study.optimize(LightningObjective(build, trainer_kwargs=kwargs), max_trials=1)
    out, err = capfd.readouterr()
    shown = out + err + caplog.text
    assert not [b for b in banners if b in shown]
    study.optimize(LightningObjective(build, trainer_kwargs=kwargs, quiet=False), max_trials=2)
    out, err = capfd.readouterr()
    assert "GPU available" in out + err + caplog.text


def test_schedule_names_add_callbacks_unless_turned_off():
    space = {**SPACE, "switch_at": {"type": "continuous", "min": 0.3, "max": 0.6}}
    assert LightningObjective.schedule_names(space) == ("switch_at",)
    assert LightningObjective.schedule_names(SPACE) == ()
    received = []

    def keep(params):
        received.append(dict(params))
        return build(params)

    _Probe.seen.clear()
    for flag in (True, False):
        objective = LightningObjective(
            keep, trainer_kwargs=TINY_TRAINER_KWARGS, callbacks=_probe, schedule_params=flag
        )
        _study(space).optimize(objective, max_trials=1)
    with_schedules, without = _Probe.seen
    assert "OptimizerSwitch" in with_schedules
    assert "OptimizerSwitch" not in without
    assert all("switch_at" in p for p in received)


def test_bad_arguments_are_refused_at_construction():
    with pytest.raises(ConfigError, match="build must be a function of the params, got 3"):
        LightningObjective(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="monitor must be a logged metric's name"):
        LightningObjective(build, monitor=5)  # type: ignore[arg-type]
