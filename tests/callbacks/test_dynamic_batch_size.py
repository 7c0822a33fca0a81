from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from schedule_helpers import Probe, ScheduleModel, trainer
from torch.utils.data import DataLoader

from lightning_autotune.callbacks import DynamicBatchSize, Piecewise
from lightning_autotune.exceptions import ConfigError


def _fit(cb, model=None, **kwargs):
    probe = Probe()
    model = model or ScheduleModel(batch_size=16)
    t = trainer([cb, probe], reload_dataloaders_every_n_epochs=1, **kwargs)
    t.fit(model)
    return t, model, probe


def test_batch_size_follows_epoch_and_fraction_milestones():
    cb = DynamicBatchSize({0: 16, 2: 32, 0.8: 64})
    t, _, probe = _fit(cb, max_epochs=5)
    sizes = {e: sorted(s) for e, s in probe.batch_sizes.items()}
    assert sizes == {0: [16], 1: [16], 2: [32], 3: [32], 4: [64]}
    assert t.callback_metrics["batch_size"].item() == 64


def test_model_batch_size_kept_before_first_milestone_and_logged_to_csv(tmp_path):
    cb = DynamicBatchSize({2: 48}, attr_name="batch_size")
    _, _, probe = _fit(cb, max_epochs=3, logger=CSVLogger(tmp_path, name="run"))
    assert [max(probe.batch_sizes[e]) for e in range(3)] == [16, 16, 48]
    rows = list(csv.DictReader(next(Path(tmp_path).rglob("metrics.csv")).open()))
    logged = [float(r["batch_size"]) for r in rows if r.get("batch_size")]
    assert logged == [16.0, 16.0, 48.0]


@pytest.mark.parametrize(("rule", "expected"), [("linear", 4.0), ("sqrt", 2.0), (None, 1.0)])
def test_relative_schedule_scales_learning_rate(rule, expected):
    cb = DynamicBatchSize({0.5: 4}, relative=True, lr_scaling=rule)
    _, _, probe = _fit(cb, model=ScheduleModel(batch_size=16, lr=0.01))
    assert [max(probe.batch_sizes[e]) for e in range(4)] == [16, 16, 64, 64]
    assert probe.lrs[1] == pytest.approx(0.01)
    assert probe.lrs[2] == pytest.approx(0.01 * expected)


def test_resume_from_mid_run_checkpoint_continues_schedule(tmp_path):
    schedule = {0: 16, 2: 32, 3: 64}
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    probe = Probe()
    t = trainer(
        [DynamicBatchSize(schedule, lr_scaling="linear"), probe, ckpt],
        reload_dataloaders_every_n_epochs=1,
        enable_checkpointing=True,
    )
    t.fit(ScheduleModel(batch_size=16))
    full = probe
    # Resume from the end of epoch 1: epoch 2 must use 32, epoch 3 64, and the scaled lr.
    resumed = Probe()
    t2 = trainer(
        [DynamicBatchSize(schedule, lr_scaling="linear"), resumed],
        reload_dataloaders_every_n_epochs=1,
    )
    t2.fit(ScheduleModel(batch_size=16), ckpt_path=str(tmp_path / "epoch=1.ckpt"))
    assert sorted(resumed.batch_sizes) == [2, 3]
    for e in (2, 3):
        assert resumed.batch_sizes[e] == full.batch_sizes[e]
        assert resumed.lrs[e] == pytest.approx(full.lrs[e])
    assert resumed.lrs[3] == pytest.approx(0.01 * 4)


def test_trainer_without_reload_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"reload_dataloaders_every_n_epochs=1\)"):
        trainer([DynamicBatchSize({1: 32})]).fit(ScheduleModel())


def test_reload_period_must_divide_change_epochs():
    t = trainer([DynamicBatchSize({3: 32})], reload_dataloaders_every_n_epochs=2)
    with pytest.raises(ConfigError, match=r"changes at epoch 3.*reload_dataloaders_every_n_epochs"):
        t.fit(ScheduleModel())


def test_model_without_batch_size_attribute_is_refused():
    model = ScheduleModel()
    del model.batch_size
    t = trainer([DynamicBatchSize({1: 32})], reload_dataloaders_every_n_epochs=1)
    with pytest.raises(ConfigError, match="has an attribute 'batch_size'"):
        t.fit(model)


def test_loader_that_ignores_the_attribute_is_detected():
    class Fixed(ScheduleModel):
        def train_dataloader(self):
            return DataLoader(self.train_set, batch_size=8)

    t = trainer([DynamicBatchSize({0: 32})], reload_dataloaders_every_n_epochs=1)
    with pytest.raises(ConfigError, match=r"batch_size=8; build it in train_dataloader"):
        t.fit(Fixed())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"schedule": {0: 0}}, "sizes must be ints >= 1"),
        ({"schedule": {0: 12.5}}, "sizes must be ints >= 1"),
        ({"schedule": {0.5: -1.0}, "relative": True}, "factors must be > 0"),
        ({"schedule": {1.5: 32}}, r"fractional milestone must be in \[0, 1\)"),
        ({"schedule": {0: 32}, "lr_scaling": "cubic"}, "lr_scaling must be None"),
        ({"schedule": [32, 64]}, "must be a mapping"),
        ({"schedule": {}}, "at least one milestone"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DynamicBatchSize(**kwargs)


def test_fraction_needs_max_epochs():
    t = trainer(
        [DynamicBatchSize({0.5: 32})],
        reload_dataloaders_every_n_epochs=1,
        max_epochs=-1,
        max_steps=4,
    )
    with pytest.raises(ConfigError, match=r"needs Trainer\(max_epochs=N\)"):
        t.fit(ScheduleModel())


def test_piecewise_schedule_object_is_accepted():
    cb = DynamicBatchSize(Piecewise({1: 32}))
    _, _, probe = _fit(cb, max_epochs=2)
    assert [max(probe.batch_sizes[e]) for e in range(2)] == [16, 32]
    assert math.isclose(cb.size_for(5), 32)


@pytest.mark.slow
def test_ddp_two_processes_use_the_same_schedule(tmp_path):
    cb = DynamicBatchSize({0: 16, 2: 32})
    t = trainer(
        [cb, Probe(str(tmp_path))],
        max_epochs=3,
        strategy="ddp_spawn",
        devices=2,
        reload_dataloaders_every_n_epochs=1,
    )
    t.fit(ScheduleModel(n=128))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rank in ranks:
        assert rank["batch_sizes"] == {"0": [16], "1": [16], "2": [32]}
