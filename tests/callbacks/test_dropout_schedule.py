from __future__ import annotations

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from schedule_helpers import Probe, ScheduleModel, trainer
from torch import nn

from lightning_autotune.callbacks import DropoutSchedule, Piecewise, StepDecay
from lightning_autotune.exceptions import ConfigError


def test_step_decay_sets_p_each_epoch_down_to_the_floor():
    probe = Probe()
    cb = DropoutSchedule(StepDecay(start=0.5, amount=0.1, every=1, floor=0.25))
    t = trainer([cb, probe], max_epochs=5)
    t.fit(ScheduleModel(dropout=0.0))
    assert [probe.dropout[e] for e in range(5)] == pytest.approx([0.5, 0.4, 0.3, 0.25, 0.25])
    assert t.callback_metrics["dropout_p"].item() == pytest.approx(0.25)


def test_every_n_epochs_and_fraction_milestones():
    probe = Probe()
    trainer([DropoutSchedule(StepDecay(0.4, 0.2, every=2)), probe]).fit(ScheduleModel())
    assert [probe.dropout[e] for e in range(4)] == pytest.approx([0.4, 0.4, 0.2, 0.2])
    probe = Probe()
    trainer([DropoutSchedule({0.5: 0.1}), probe]).fit(ScheduleModel(dropout=0.3))
    assert [probe.dropout[e] for e in range(4)] == pytest.approx([0.3, 0.3, 0.1, 0.1])


def test_module_prefixes_and_multilayer_rnn():
    class Tagger(ScheduleModel):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(16, 8, num_layers=2, dropout=0.5, batch_first=True)
            self.head_drop = nn.Dropout(0.5)

        def forward(self, x):
            h, _ = self.rnn(x.unsqueeze(1))
            return self.net(x) + 0 * self.head_drop(h).sum()

    model = Tagger()
    trainer([DropoutSchedule({0: 0.1}, modules=["rnn", "net."]), Probe()], max_epochs=1).fit(model)
    assert model.rnn.dropout == pytest.approx(0.1)
    assert model.net[2].p == pytest.approx(0.1)
    assert model.head_drop.p == 0.5  # not selected


def test_resume_applies_the_scheduled_p(tmp_path):
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    schedule = StepDecay(start=0.5, amount=0.1)
    trainer([DropoutSchedule(schedule), ckpt], enable_checkpointing=True).fit(ScheduleModel())
    probe = Probe()
    cb = DropoutSchedule(schedule)
    t = trainer([cb, probe])
    t.fit(ScheduleModel(dropout=0.0), ckpt_path=str(tmp_path / "epoch=1.ckpt"))
    assert probe.dropout == pytest.approx({2: 0.3, 3: 0.2})


def test_model_without_dropout_is_refused():
    model = ScheduleModel()
    model.net[2] = nn.Identity()
    with pytest.raises(ConfigError, match="found no dropout layer"):
        trainer([DropoutSchedule({0: 0.2})]).fit(model)


@pytest.mark.parametrize(
    ("schedule", "match"),
    [
        ({0: 1.0}, r"every p must be in \[0, 1\)"),
        (StepDecay(1.2, 0.1), r"every p must be in \[0, 1\)"),
        ("0.5", "must be a mapping"),
    ],
)
def test_bad_schedules_are_refused(schedule, match):
    with pytest.raises(ConfigError, match=match):
        DropoutSchedule(schedule)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 0.5, "amount": -0.1}, "amount must be a finite number >= 0"),
        ({"start": 0.5, "every": 0}, "every must be an integer >= 1"),
        ({"start": 0.1, "floor": 0.2}, "floor=0.2 is above start=0.1"),
        ({"start": float("nan")}, "start must be a finite number"),
    ],
)
def test_step_decay_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StepDecay(**kwargs)


def test_piecewise_values_and_resolution():
    s = Piecewise({0: 0.5, 0.5: 0.2, 7: 0.1})
    assert s.value(0, 10) == 0.5
    assert s.value(4, 10) == 0.5
    assert s.value(5, 10) == 0.2
    assert s.value(9, 10) == 0.1
    assert Piecewise({3: 1.0}).value(2, None) is None
    with pytest.raises(ConfigError, match=r"needs Trainer\(max_epochs=N\)"):
        s.value(3, None)
    assert StepDecay(0.5, 0.1, every=10, floor=0.1).value(25, None) == 0.3
