from __future__ import annotations

import pytest
from schedule_helpers import Probe, ScheduleModel, trainer

from lightning_autotune.callbacks import (
    SCHEDULE_PARAMS,
    AdaptiveGradientClipping,
    DropoutSchedule,
    DynamicBatchSize,
    OptimizerSwitch,
    schedule_callbacks,
    schedule_space,
)
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import SearchSpace


def test_no_schedule_params_means_no_callbacks():
    assert schedule_callbacks({}) == []
    assert schedule_callbacks({"lr": 0.1, "batch_size": 32, "dropout": 0.2}) == []


def test_every_schedule_from_params():
    cbs = schedule_callbacks(
        {
            "switch_at": 0.5,
            "switch_to": "sgd",
            "switch_lr_scale": 10.0,
            "batch_size_ramp_at": 0.25,
            "batch_size_factor": 2,
            "batch_size_lr_scaling": "sqrt",
            "dropout_start": 0.5,
            "dropout_decay": 0.1,
            "dropout_every": 2.0,
            "dropout_floor": 0.2,
            "agc_clip_factor": 0.02,
        }
    )
    types = [type(c) for c in cbs]
    assert types == [OptimizerSwitch, DynamicBatchSize, DropoutSchedule, AdaptiveGradientClipping]
    switch, batch, dropout, agc = cbs
    assert (switch.at, switch.lr_scale, switch.optimizer_kwargs) == (0.5, 10.0, {"momentum": 0.9})
    assert batch.relative and batch.lr_scaling == "sqrt"
    assert batch.schedule.milestones == ((0.25, 2.0),)
    assert [dropout.schedule.value(e, None) for e in range(6)] == [0.5, 0.5, 0.4, 0.4, 0.3, 0.3]
    assert agc.clip_factor == 0.02


def test_no_change_values_give_no_callback():
    params = {"switch_at": 1.0, "batch_size_ramp_at": 0.5, "batch_size_factor": 1}
    assert schedule_callbacks(params) == []
    assert schedule_callbacks({"batch_size_ramp_at": 1.0, "batch_size_factor": 4}) == []


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dropout_decay": 0.1}, "'dropout_decay' needs 'dropout_start'"),
        ({"switch_to": "sgd"}, "'switch_to' needs 'switch_at'"),
        ({"batch_size_factor": 2}, "'batch_size_factor' needs 'batch_size_ramp_at'"),
        ({"switch_at": "half"}, "'switch_at' must be a finite number"),
        ({"switch_at": 0.0}, "must be > 0"),
        ({"switch_at": 0.5, "switch_to": "lbfgs"}, "must be one of"),
        (
            {"batch_size_ramp_at": 0.5, "batch_size_factor": 2, "batch_size_lr_scaling": "x"},
            "'batch_size_lr_scaling' must be 'none'",
        ),
        ({"agc_clip_factor": -1.0}, "clip_factor must be a finite number > 0"),
        ({"dropout_start": 1.5}, r"p must be in \[0, 1\)"),
    ],
)
def test_bad_schedule_params_name_the_parameter(params, match):
    with pytest.raises(ConfigError, match=match):
        schedule_callbacks(params)


def test_schedule_space_is_a_valid_search_space_and_round_trips():
    entries = schedule_space()
    assert set(entries) <= set(SCHEDULE_PARAMS)
    space = SearchSpace.from_dict(
        {"lr": {"type": "continuous", "min": 1e-4, "max": 1e-1}, **entries}
    )
    for config in space.sample(8, seed=0):
        for cb in schedule_callbacks(config):
            assert type(cb).__name__ in {
                "OptimizerSwitch",
                "DynamicBatchSize",
                "DropoutSchedule",
                "AdaptiveGradientClipping",
            }
    assert sorted(schedule_space(switch=False, batch_size=False, dropout=False)) == [
        "agc_clip_factor"
    ]


def test_callbacks_from_params_run_in_a_trainer():
    params = {
        "switch_at": 0.5,
        "batch_size_ramp_at": 0.5,
        "batch_size_factor": 2,
        "dropout_start": 0.3,
        "dropout_decay": 0.1,
        "agc_clip_factor": 0.05,
    }
    probe = Probe()
    t = trainer([*schedule_callbacks(params), probe], reload_dataloaders_every_n_epochs=1)
    t.fit(ScheduleModel(batch_size=16))
    assert [max(probe.batch_sizes[e]) for e in range(4)] == [16, 16, 32, 32]
    assert [sorted(set(probe.optimizers[e])) for e in range(4)] == [["Adam"]] * 2 + [["SGD"]] * 2
    assert [probe.dropout[e] for e in range(4)] == pytest.approx([0.3, 0.2, 0.1, 0.0])
    for name in ("batch_size", "optimizer_phase", "dropout_p", "agc_clipped_fraction"):
        assert name in t.callback_metrics
