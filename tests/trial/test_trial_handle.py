"""The live Trial handle: reporting, pruning questions, snapshots, heartbeats, attributes."""

from __future__ import annotations

import math

import pytest

from lightning_autotune.exceptions import TrialStateError
from lightning_autotune.pruners import MedianPruner, NopPruner
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def test_report_records_values_and_metrics():
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    trial.report(10, 0.5, {"val_loss": 0.5, "val_acc": 0.8})
    trial.report(20, 0.4)
    record = trial.snapshot()
    assert dict(record.intermediate) == {10: 0.5, 20: 0.4}
    assert dict(record.metrics[10]) == {"val_loss": 0.5, "val_acc": 0.8}
    assert 20 not in record.metrics


def test_report_accepts_numpy_and_tensors():
    torch = pytest.importorskip("torch")
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    trial.report(torch.tensor(3), torch.tensor(0.25), {"acc": torch.tensor(0.5)})
    record = trial.snapshot()
    assert record.intermediate == {3: 0.25} and record.metrics[3]["acc"] == 0.5


def test_should_prune_without_a_pruner_or_reports():
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    assert trial.should_prune() is False  # nothing reported yet
    trial.report(1, 0.5)
    assert trial.should_prune() is False
    assert trial.prune_reason is None
    nop = create_study(space=SPACE, sampler=RandomSampler(), pruner=NopPruner())
    t = nop.ask()
    t.report(1, 1e9)
    assert t.should_prune() is False


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_value_always_prunes(bad):
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    trial.report(1, 0.5)
    trial.report(2, bad)
    assert trial.should_prune() is True
    assert trial.prune_reason == f"objective was {bad} at step 2"


def test_should_prune_asks_the_pruner_with_the_other_trials():
    study = create_study(
        space=SPACE, sampler=RandomSampler(), pruner=MedianPruner(n_startup_trials=2)
    )
    for v in (1.0, 2.0):
        t = study.ask()
        t.report(1, v)
        study.tell(t, v)
    good, bad = study.ask(), study.ask()
    good.report(1, 0.5)
    bad.report(1, 5.0)
    assert good.should_prune() is False
    assert bad.should_prune() is True
    assert bad.prune_reason == "MedianPruner at step 1 (value 5)"


def test_heartbeat_and_user_attrs():
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    before = trial.snapshot().heartbeat_at
    trial.heartbeat()
    assert trial.snapshot().heartbeat_at >= before  # type: ignore[operator]
    trial.set_user_attr("device", "cpu")
    assert trial.snapshot().user_attrs == {"device": "cpu"}


def test_a_finished_trial_cannot_report():
    study = create_study(space=SPACE, sampler=RandomSampler())
    trial = study.ask()
    study.tell(trial, 0.1)
    with pytest.raises(TrialStateError, match=r"trial 0 already finished as COMPLETE; cannot"):
        trial.report(5, 0.2)
    assert trial.snapshot().state is TrialState.COMPLETE
