from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from lightning_autotune import create_study
from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.metrics import (
    SAMPLES_PER_SEC,
    SECONDS_PER_EPOCH,
    CompositeMetric,
    MetricTerm,
)
from lightning_autotune.pruners import DivergencePruner
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, loaders, random_datasets

SPACE = {"lr": {"type": "continuous", "min": 1e-6, "max": 1.0, "scale": "log"}}


def _fit(callback, max_epochs=2, **kwargs):
    train, val = loaders(*random_datasets(n=192, n_features=8), batch_size=16)
    model = TinyClassifier(n_features=8, n_classes=3, hidden=16, lr=0.01)
    trainer = pl.Trainer(
        **{**TINY_TRAINER_KWARGS, "max_epochs": max_epochs, **kwargs}, callbacks=[callback]
    )
    trainer.fit(model, train, val)
    return trainer


def test_composite_monitor_is_reported_with_efficiency_signals():
    metric = CompositeMetric(
        (
            MetricTerm("val_loss"),
            MetricTerm(SECONDS_PER_EPOCH, weight=0.1),
            MetricTerm(SAMPLES_PER_SEC, weight=0.01, direction="max", scale=1000.0),
        ),
        name="loss_and_speed",
    )
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    cb = AutoTuneCallback(trial, monitor=metric)
    _fit(cb)
    record = trial.snapshot()
    assert sorted(record.intermediate) == [9, 18]
    last = record.metrics[18]
    assert last[SAMPLES_PER_SEC] > 0 and last[SECONDS_PER_EPOCH] > 0
    assert record.intermediate[18] == pytest.approx(metric.compute(last))
    assert last["loss_and_speed"] == pytest.approx(record.intermediate[18])
    assert cb.state_key == "AutoTuneCallback[monitor=loss_and_speed]"


def test_plain_monitor_also_reports_efficiency_signals():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    _fit(AutoTuneCallback(trial, monitor="val_loss"), max_epochs=1)
    metrics = trial.snapshot().metrics[9]
    assert math.isfinite(metrics[SAMPLES_PER_SEC]) and math.isfinite(metrics[SECONDS_PER_EPOCH])


def test_several_validations_per_epoch_are_reported_at_their_steps():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    # 9 batches per epoch, validation every 3 batches: steps 3, 6, 9 then 12, 15, 18.
    _fit(AutoTuneCallback(trial), max_epochs=2, val_check_interval=3)
    assert sorted(trial.snapshot().intermediate) == [3, 6, 9, 12, 15, 18]


def test_mid_epoch_prune_stops_the_run_and_keeps_the_reason():
    study = create_study(space=SPACE, pruner=DivergencePruner(threshold=-1.0))
    trial = study.ask({"lr": 0.01})
    cb = AutoTuneCallback(trial)
    trainer = _fit(cb, max_epochs=3, val_check_interval=3)
    assert cb.pruned and trainer.should_stop
    assert sorted(trial.snapshot().intermediate) == [3]
    assert trainer.global_step == 3
    assert "DivergencePruner at step 3" in trial.prune_reason


def test_composite_term_missing_lists_logged_names():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    cb = AutoTuneCallback(trial, monitor=CompositeMetric.of("val_loss", "val_f1"))
    with pytest.raises(MetricNotFoundError, match=r"\['val_f1'\] were not logged.*'val_accuracy'"):
        _fit(cb, max_epochs=1)


def test_composite_needs_a_minimizing_study():
    study = create_study(space=SPACE, direction="maximize")
    with pytest.raises(ConfigError, match=r"lower-is-better.*direction='minimize'"):
        AutoTuneCallback(study.ask({"lr": 0.1}), monitor=CompositeMetric.of("val_loss"))


def test_non_finite_composite_prunes_at_once():
    study = create_study(space=SPACE)
    trial = study.ask({"lr": 0.01})
    metric = CompositeMetric((MetricTerm("val_loss"), MetricTerm("nan_metric")))

    class _Model(TinyClassifier):
        def validation_step(self, batch, batch_idx):
            super().validation_step(batch, batch_idx)
            self.log("nan_metric", math.nan)

    cb = AutoTuneCallback(trial, monitor=metric)
    train, val = loaders(*random_datasets(n=192, n_features=8), batch_size=16)
    trainer = pl.Trainer(**TINY_TRAINER_KWARGS, callbacks=[cb])
    trainer.fit(_Model(n_features=8, n_classes=3, lr=0.01), train, val)
    assert cb.pruned and trainer.current_epoch == 1
    assert trial.snapshot().intermediate[9] == math.inf
