from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import MultiFidelitySampler, RandomSampler
from lightning_autotune.stages import Fidelity, Stage, best_at_target
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "hidden": {"type": "integer", "min": 4, "max": 32},
}
DATA = random_datasets(n=128, n_features=8)


def build(params):
    assert set(params) == {"lr", "hidden"}  # the fidelity never reaches build
    model = TinyClassifier(n_features=8, n_classes=3, hidden=params["hidden"], lr=params["lr"])
    return model, DataLoader(DATA[0], batch_size=16, shuffle=True), DataLoader(DATA[1], 64)


def _fit(fidelity, **kwargs):
    return la.fit(
        build,
        SPACE,
        monitor="val_loss",
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": kwargs.pop("epochs", 2)},
        storage=None,
        seed=0,
        progress=False,
        fidelity=fidelity,
        **kwargs,
    )


def test_data_fraction_fidelity_trains_each_trial_on_its_share():
    study = _fit(Fidelity("data_fraction", low=0.25), max_trials=7)
    assert isinstance(study.sampler, MultiFidelitySampler)
    for t in study.trials:
        f = t.params["data_fraction"]
        assert 0.25 <= f <= 1.0
        # 96 examples, a class-stratified share of them in batches of 16, for 2 epochs
        per_epoch = max(t.intermediate) // 2
        assert abs(per_epoch - 96 * f / 16) <= 1.5
    best = best_at_target(study, "data_fraction")
    assert best.params["data_fraction"] == 1.0
    full = [t.values[0] for t in study.trials if t.params["data_fraction"] == 1.0]
    assert best.values[0] == min(full)
    with pytest.raises(ConfigError, match="'nothing' is not a numeric parameter of study"):
        best_at_target(study, "nothing")


def test_epochs_fidelity_sets_each_trials_epochs():
    study = _fit(Fidelity("max_epochs", low=1), max_trials=6, epochs=3)
    for t in study.trials:
        assert len(t.intermediate) == t.params["max_epochs"]


@pytest.mark.parametrize(
    ("fidelity", "kwargs", "match"),
    [
        (Fidelity("data_fraction", low=0), {}, r"low must be a fraction.*got 0"),
        (Fidelity("data_fraction", low=1.0), {}, "low must be below 1"),
        (Fidelity("max_epochs", low=4), {}, r"low must be a whole number in \[1, 2\).*got 4"),
        (Fidelity("depth"), {}, "'depth' is neither 'data_fraction', 'max_epochs' nor a param"),
        (
            Fidelity("data_fraction", low=0.5),
            {"sampler": RandomSampler()},
            "needs sampler=None or a MultiFidelitySampler",
        ),
        (
            Fidelity("data_fraction", low=0.5),
            {"stages": [Stage(trials=1)]},
            "give stages or fidelity, not both",
        ),
    ],
)
def test_bad_fidelity_is_refused(fidelity, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        _fit(fidelity, max_trials=1, **kwargs)
