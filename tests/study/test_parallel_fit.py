"""`fit` and `HyperTuner` with several workers: Lightning runs in trial processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from torch import nn

from lightning_autotune import HyperTuner, fit
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, loaders, random_datasets
from lightning_autotune.trial import TrialState

SPACE = {"mode": {"type": "discrete", "values": ["ok", "nan", "crash"]}}
MARKER = "AUTOTUNE_TEST_MARKER"


class Model(TinyClassifier):
    def __init__(self, mode: str) -> None:
        super().__init__(n_features=8, n_classes=3, hidden=8)
        self.mode = mode

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        return loss * float("nan") if self.mode == "nan" else loss

    def on_train_epoch_end(self) -> None:
        # The first run of 'crash' dies hard at the end of its second epoch.
        marker = Path(os.environ[MARKER])
        if self.mode == "crash" and self.current_epoch == 1 and not marker.exists():
            marker.write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)


def build(params):
    train, val = random_datasets(n=64, n_features=8)
    return (Model(params["mode"]), *loaders(train, val, batch_size=16))


@pytest.mark.slow
def test_fit_in_trial_processes_prunes_nan_and_resumes_a_killed_trial(tmp_path, monkeypatch):
    monkeypatch.setenv(MARKER, str(tmp_path / "marker"))
    url = f"sqlite:///{tmp_path / 'fit.db'}"
    from lightning_autotune.study import create_study

    study = create_study("fit", SPACE, url, sampler=RandomSampler(), seed=0)
    for mode in ("ok", "nan", "crash"):
        study.enqueue({"mode": mode})
    study = fit(
        build, SPACE, max_trials=3, storage=url, study_name="fit", n_workers=2,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 4, "callbacks": []},
        checkpoint_dir=tmp_path / "ckpt",
    )  # fmt: skip
    by_mode = {t.params["mode"]: t for t in study.trials if t.retry_of is None}
    assert by_mode["ok"].state is TrialState.COMPLETE
    assert by_mode["nan"].state is TrialState.PRUNED
    assert by_mode["nan"].reason.startswith("training loss was nan at step")
    assert by_mode["crash"].reason == "process died: signal SIGKILL"
    (retry,) = [t for t in study.trials if t.retry_of == by_mode["crash"].number]
    assert retry.state is TrialState.COMPLETE
    assert retry.user_attrs["resumed_from"].endswith(f"trial_{by_mode['crash'].number}/last.ckpt")
    # The checkpoint of epoch 1 of 4 was the last one saved (the kill came before epoch 2's):
    # the retry goes on from there and reports three validations, not four.
    assert sorted(by_mode["ok"].intermediate) == [3, 6, 9, 12]
    assert sorted(retry.intermediate) == [6, 9, 12]


class MLP(nn.Module):
    def __init__(self, hidden_size: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 3))

    def forward(self, x):
        return self.net(x)


@pytest.mark.slow
def test_hypertuner_set_distributed_runs_trials_in_processes(tmp_path):
    train, val = random_datasets(n=64, n_features=8)
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), metric="accuracy", direction="maximize")
    tuner.set_search_space({"hidden_size": {"type": "integer", "min": 4, "max": 16}})
    tuner.set_search_strategy(method="random", seed=0)
    tuner.set_distributed(n_workers=2, resource_type="CPU", memory_limit="2GB")
    best = tuner.optimize(
        train, val, max_trials=2, max_epochs=1, storage=f"sqlite:///{tmp_path / 'h.db'}",
        trainer_kwargs={"accelerator": "cpu"},
    )  # fmt: skip
    assert 4 <= best["hidden_size"] <= 16
    assert [t.state for t in tuner.study.trials] == [TrialState.COMPLETE] * 2
    assert len({t.worker for t in tuner.study.trials}) == 1  # one coordinator, two processes


def test_set_distributed_checks_its_arguments():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss())
    with pytest.raises(ConfigError, match="memory_limit must be a size such as '16GB'"):
        tuner.set_distributed(2, "CPU", memory_limit="16 gigs")
    with pytest.raises(ConfigError, match="resource_type must be 'CPU' or 'GPU'"):
        tuner.set_distributed(2, "TPU")
