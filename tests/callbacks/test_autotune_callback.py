from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from lightning_autotune import TrialState, create_study
from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, loaders, random_datasets

SPACE = {"lr": {"type": "continuous", "min": 1e-6, "max": 1.0, "scale": "log"}}


def _train(trial, model, **trainer_kwargs):
    cb = AutoTuneCallback(trial, monitor="val_loss", mode="min")
    train, val = loaders(*random_datasets(n=192, n_features=8), batch_size=16)
    trainer = pl.Trainer(**{**TINY_TRAINER_KWARGS, **trainer_kwargs}, callbacks=[cb])
    trainer.fit(model, train, val)
    return cb, trainer


def _model(lr, optimizer="adam"):
    return TinyClassifier(n_features=8, n_classes=3, hidden=16, lr=lr, optimizer=optimizer)


def test_reports_every_validation_at_its_global_step():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    cb, trainer = _train(trial, _model(0.01))
    record = trial.snapshot()
    assert sorted(record.intermediate) == [9, 18, 27]  # 144 samples / 16 per batch, 3 epochs
    assert record.intermediate[27] == pytest.approx(cb.last_value)
    assert set(record.metrics[27]) >= {"val_loss", "val_accuracy", "train_loss"}
    assert not cb.pruned and trainer.current_epoch == 3


def test_prunes_a_bad_trial_and_lets_a_good_one_finish():
    study = create_study(space=SPACE, pruner=MedianPruner(n_startup_trials=1))
    good = study.ask({"lr": 0.05})
    cb_good, _ = _train(good, _model(0.05), max_epochs=4)
    study.tell(good, cb_good.last_value)

    bad = study.ask({"lr": 1e-6})
    cb_bad, trainer = _train(bad, _model(1e-6, "sgd"), max_epochs=4)
    assert cb_bad.pruned
    assert trainer.current_epoch < 4  # stopped early, without raising
    record = study.tell(bad, state=TrialState.PRUNED, reason=bad.prune_reason)
    assert record.state is TrialState.PRUNED
    assert "MedianPruner" in record.reason


class _NaNModel(TinyClassifier):
    def validation_step(self, batch, batch_idx):
        self.log("val_loss", math.nan)


def test_nan_objective_prunes_at_once_with_reason():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    cb, trainer = _train(trial, _NaNModel(n_features=8, n_classes=3, lr=0.01))
    assert cb.pruned and trainer.current_epoch == 1
    assert "nan" in trial.prune_reason


def test_missing_monitor_lists_what_was_logged():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    cb = AutoTuneCallback(trial, monitor="val_los")
    train, val = loaders(*random_datasets(n=64, n_features=8))
    trainer = pl.Trainer(**TINY_TRAINER_KWARGS, callbacks=[cb])
    with pytest.raises(
        MetricNotFoundError, match=r"'val_los' was not logged.*'val_accuracy', 'val_loss'"
    ):
        trainer.fit(_model(0.01), train, val)


def test_mode_must_agree_with_the_study():
    study = create_study(space=SPACE, direction="maximize")
    with pytest.raises(ConfigError, match=r"mode='min' disagrees.*maximize"):
        AutoTuneCallback(study.ask({"lr": 0.1}), monitor="val_accuracy", mode="min")


def test_bad_monitor_argument():
    study = create_study(space=SPACE)
    with pytest.raises(ConfigError, match="monitor must be a metric name"):
        AutoTuneCallback(study.ask({"lr": 0.1}), monitor="")
