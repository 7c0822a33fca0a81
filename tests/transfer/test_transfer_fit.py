"""`fit(transfer=...)`: every trial starts from the weights, with its own tuned rules."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets
from lightning_autotune.transfer import Pretrained, transfer_space

DATA = random_datasets(n=96, n_features=8)
RULES = {"net.0.*": {"method": "freeze"}, "net.3.*": {"method": "fine_tune", "lr_multiplier": 0.5}}


def test_fit_starts_every_trial_from_the_weights_with_its_tuned_rules():
    torch.manual_seed(0)
    source = TinyClassifier(n_features=8, n_classes=3, hidden=16)
    weights = {k: v.clone() for k, v in source.state_dict().items()}
    built: list[TinyClassifier] = []

    def build(params):
        model = TinyClassifier(n_features=8, n_classes=3, hidden=16, lr=params["lr"])
        built.append(model)
        return model, DataLoader(DATA[0], batch_size=32), DataLoader(DATA[1], batch_size=64)

    space = {
        "lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
        **transfer_space(RULES),
    }
    study = la.fit(
        build, space, max_trials=2, storage=None, sampler=RandomSampler(), seed=0,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        transfer=Pretrained.of(weights, RULES),
    )  # fmt: skip
    assert [t.state for t in study.trials] == [la.TrialState.COMPLETE] * 2
    for trial, model in zip(study.trials, built, strict=True):
        # The frozen first layer still holds the pretrained tensors after training.
        assert torch.equal(model.net[0].weight, weights["net.0.weight"])
        summary = trial.user_attrs["transfer"]
        assert summary["counts"] == {"freeze": 2, "fine_tune": 2}  # weight and bias of each
        assert summary["loaded"] == 4
        assert "transfer_lr_multiplier_1" in trial.params
