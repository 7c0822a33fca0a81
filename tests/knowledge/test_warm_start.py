"""Warm start through create_study, load_study, fit and HyperTuner; Optuna interop."""

from __future__ import annotations

import math

import optuna
import pytest
from torch import nn
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.exceptions import ConfigError, StudyNotFoundError
from lightning_autotune.knowledge import (
    KnowledgeBase,
    OptunaSource,
    TransferSampler,
    WarmStartMode,
    export_to_optuna,
    import_optuna,
)
from lightning_autotune.knowledge._optuna import IMPORTED_ATTR
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study, load_study
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _old(store, name="old", n=5):
    study = create_study(name, SPACE, store, seed=0)
    for i in range(n):
        study.tell(study.ask({"x": i / n}), (i / n - 0.4) ** 2)
    return study


def test_create_study_records_its_sources_and_load_study_rebuilds_the_sampler(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _old(url)
    study = create_study("new", SPACE, url, warm_start="old", seed=0)
    assert isinstance(study.sampler, TransferSampler)
    assert study.user_attrs["warm_start"] == {"mode": "transfer", "sources": ["old"]}
    study.optimize(lambda t: (t.params["x"] - 0.45) ** 2, max_trials=3)
    assert len(study.trials) == 3  # the earlier study's five are not counted
    again = load_study("new", url)
    assert isinstance(again.sampler, TransferSampler)
    assert again.sampler.mode is WarmStartMode.TRANSFER


def test_a_knowledge_base_warm_start_uses_a_zero_shot_portfolio():
    store = InMemoryStorage()
    old = _old(store)
    study = create_study("new", SPACE, store, warm_start=KnowledgeBase(store), seed=0)
    assert study.user_attrs["warm_start"]["mode"] == "zero_shot"
    assert study.ask().params == dict(old.best_params)


def test_bad_warm_starts_are_refused_before_any_trial():
    store = InMemoryStorage()
    _old(store)
    with pytest.raises(ConfigError, match=r"give warm_start or sampler, not both"):
        create_study("a", SPACE, store, warm_start="old", sampler=RandomSampler())
    with pytest.raises(StudyNotFoundError, match=r"warm_start: no study named 'gone'"):
        create_study("b", SPACE, store, warm_start="gone")
    with pytest.raises(ConfigError, match=r"'old' cannot warm-start from itself"):
        create_study("old", SPACE, store, warm_start="old")
    with pytest.raises(ConfigError, match=r"warm_start must be a study name.*got int 3"):
        create_study("c", SPACE, store, warm_start=3)
    with pytest.raises(ConfigError, match=r"parameter 'x' is numeric .* but categorical"):
        create_study("d", {"x": {"type": "categorical", "values": [1, 2]}}, store, warm_start="old")
    with pytest.raises(ConfigError, match=r"warm_start_mode='zero_shot' needs warm_start"):
        create_study("e", SPACE, store, warm_start_mode="zero_shot")
    assert [s.name for s in store.list_studies()] == ["old"]  # no study left behind


def _optuna_study(storage_url=None):
    ostudy = optuna.create_study(storage=storage_url, study_name="opt", direction="maximize")
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    for i in range(4):
        ostudy.add_trial(
            optuna.trial.create_trial(params={"x": i / 4}, distributions={"x": dist}, value=i)
        )
    return ostudy


def test_an_optuna_study_is_imported_once_as_its_own_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _optuna_study(url)
    store = InMemoryStorage()
    study = create_study("new", SPACE, store, warm_start=OptunaSource(url, "opt"), seed=0)
    imported = load_study("optuna:opt", store)
    assert [t.values for t in imported.trials] == [(0.0,), (1.0,), (2.0,), (3.0,)]
    assert imported.user_attrs[IMPORTED_ATTR]["kind"] == "optuna"
    assert study.trials == []
    assert import_optuna(OptunaSource(url, "opt"), store) == "optuna:opt"  # reused, not copied
    assert len(load_study("optuna:opt", store).trials) == 4


def test_a_corrupt_optuna_trial_imports_nothing():
    ostudy = _optuna_study()
    other = optuna.distributions.FloatDistribution(0.0, 2.0)
    ostudy.add_trial(
        optuna.trial.create_trial(params={"x": 1.5}, distributions={"x": other}, value=1.0)
    )
    store = InMemoryStorage()
    with pytest.raises(ConfigError, match=r"Optuna trial 4: parameter 'x' has the distribution"):
        import_optuna(ostudy, store)
    assert store.list_studies() == []


def test_an_optuna_trial_with_an_infinite_value_imports_nothing():
    ostudy = _optuna_study()
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    ostudy.add_trial(
        optuna.trial.create_trial(params={"x": 0.5}, distributions={"x": dist}, value=math.inf)
    )
    store = InMemoryStorage()
    with pytest.raises(ConfigError, match=r"Optuna trial 4 has the value inf, not a finite"):
        create_study("new", SPACE, store, warm_start=ostudy)
    assert store.list_studies() == []


def test_export_to_optuna_keeps_values_and_states(tmp_path):
    store = InMemoryStorage()
    study = _old(store)
    url = f"sqlite:///{tmp_path / 'out.db'}"
    ostudy = export_to_optuna(study, url)
    assert [t.values for t in ostudy.trials] == [list(t.values) for t in study.trials]
    assert math.isclose(ostudy.best_value, study.best_value)


DATA = random_datasets(n=96, n_features=6)


def _build(params):
    model = TinyClassifier(n_features=6, n_classes=3, hidden=4, lr=params["lr"])
    return model, DataLoader(DATA[0], batch_size=32), DataLoader(DATA[1], batch_size=32)


def test_fit_records_the_task_and_retunes_from_the_previous_study():
    store = InMemoryStorage()
    space = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}
    kwargs = dict(
        max_trials=2,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        storage=store,
        seed=0,
        progress=False,
    )
    la.fit(_build, space, study_name="v1", sampler=RandomSampler(), **kwargs)
    task = KnowledgeBase(store).task("v1")
    assert task.data is not None and task.data.n_samples == 72 and task.data.n_classes == 3
    assert task.model is not None and task.model.model_class.endswith("TinyClassifier")
    assert task.objective == "val_loss"
    retuned = la.fit(
        _build, space, study_name="v2", warm_start="v1", task_tags={"data": "v2"}, **kwargs
    )
    assert isinstance(retuned.sampler, TransferSampler) and len(retuned.trials) == 2
    assert dict(KnowledgeBase(store).task("v2").tags) == {"data": "v2"}


def test_the_task_is_described_once_not_once_per_trial_process(monkeypatch):
    import lightning_autotune.knowledge._record as record

    store = InMemoryStorage()
    space = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}
    study = create_study("once", space, store, seed=0)
    KnowledgeBase(store).record("once", objective="val_loss")  # what fit records first
    described = []
    real = record.describe_built
    monkeypatch.setattr(record, "describe_built", lambda b: described.append(1) or real(b))
    for _ in range(3):  # a fresh wrapper per trial, as each trial process has its own
        record.DescribingBuild(_build, "val_loss", None).build_trial(study.ask())
    assert described == [1]
    assert KnowledgeBase(store).task("once").data.n_samples == 72


def test_hypertuner_set_warm_start_reaches_fit():
    tuner = la.HyperTuner(nn.Linear, nn.MSELoss(), metric="loss", direction="minimize")
    assert tuner.set_warm_start(["a", "b"], mode="same_task", tags={"k": 1}) is tuner
    assert tuner.warm_start == ["a", "b"] and tuner.warm_start_mode is WarmStartMode.SAME_TASK
    with pytest.raises(ConfigError, match=r"warm_start_mode must be one of"):
        tuner.set_warm_start("a", mode="hot")


def test_fit_from_a_knowledge_base_describes_the_task_first_and_builds_once_more():
    store = InMemoryStorage()
    space = {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}
    old = create_study("old", space, store, seed=0)
    for lr in (1e-3, 1e-2, 1e-1):
        old.tell(old.ask({"lr": lr}), abs(lr - 1e-2))
    calls = []

    def build(params):
        calls.append(params["lr"])
        return _build(params)

    study = la.fit(
        build,
        space,
        study_name="new",
        warm_start=KnowledgeBase(store),
        max_trials=1,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        storage=store,
        seed=0,
        progress=False,
    )
    assert study.sampler.mode is WarmStartMode.ZERO_SHOT
    assert calls == [pytest.approx(1e-2), 1e-2]  # the centre of the log range, then the trial
    assert KnowledgeBase(store).task("new").data.n_samples == 72
