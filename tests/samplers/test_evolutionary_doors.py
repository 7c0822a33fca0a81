"""The evolutionary samplers by name: registry, create_study, fit, HyperTuner and the sweep YAML."""

from __future__ import annotations

import pytest
from torch import nn
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune import HyperTuner
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.registry import make_sampler
from lightning_autotune.samplers import CmaEsSampler, EvolutionarySampler, NSGA2Sampler
from lightning_autotune.study import create_study
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

pytest.importorskip("cmaes", reason="the [evolutionary] extra is not installed")

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "hidden": {"type": "integer", "min": 4, "max": 32},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
}
DATA = random_datasets(n=96, n_features=8)


def _build(params):
    model = TinyClassifier(
        n_features=8, n_classes=3, hidden=params["hidden"], lr=params["lr"],
        optimizer=params["optimizer"],
    )  # fmt: skip
    return model, DataLoader(DATA[0], batch_size=32), DataLoader(DATA[1], batch_size=64)


def test_the_registry_builds_each_with_its_options():
    cma = make_sampler("cmaes", restart_strategy="ipop", seed=1)
    assert isinstance(cma, CmaEsSampler) and cma.restart_strategy.value == "ipop"
    assert isinstance(make_sampler("NSGA2", population_size=8), NSGA2Sampler)
    assert isinstance(make_sampler("evolutionary"), EvolutionarySampler)
    with pytest.raises(ConfigError, match=r"sampler 'nsga2' \(NSGA2Sampler\) does not take"):
        make_sampler("nsga2", sigma0=0.3)


def test_evolutionary_picks_cmaes_for_one_objective_and_nsga2_otherwise():
    sampler = EvolutionarySampler(seed=0)
    assert isinstance(sampler.choose(["minimize"]), CmaEsSampler)
    assert isinstance(sampler.choose(["minimize", "maximize"]), NSGA2Sampler)
    constrained = EvolutionarySampler(outcome_constraints=["latency <= 2"])
    assert isinstance(constrained.choose(["minimize"]), NSGA2Sampler)
    # the study's seed reaches both, when the sampler has none of its own
    bound = create_study(space=SPACE, sampler=EvolutionarySampler(), seed=4).sampler
    assert bound.seed == 4 and bound.choose(["minimize"]).seed == 4


@pytest.mark.parametrize("name", ["cmaes", "nsga2", "evolutionary"])
def test_create_study_runs_each_by_name(name):
    directions = ["minimize", "minimize"] if name == "nsga2" else ["minimize"]
    study = create_study(space=SPACE, directions=directions, sampler=make_sampler(name), seed=0)
    for _ in range(12):
        trial = study.ask()
        value = (trial.params["lr"] - 0.01) ** 2 + trial.params["hidden"] / 100
        study.tell(trial, [value, -value] if name == "nsga2" else value)
    assert len(study.trials) == 12


def test_fit_with_the_evolutionary_sampler_trains_real_trials():
    study = la.fit(
        _build,
        SPACE,
        monitor="val_accuracy",
        mode="max",
        max_trials=3,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        sampler="evolutionary",
        seed=0,
    )
    assert isinstance(study.sampler, EvolutionarySampler)
    assert [t.state for t in study.trials] == [la.TrialState.COMPLETE] * 3


@pytest.mark.parametrize(
    ("method", "cls"),
    [("evolutionary", EvolutionarySampler), ("cmaes", CmaEsSampler), ("nsga2", NSGA2Sampler)],
)
def test_hypertuner_search_strategy_takes_each_name(method, cls):
    tuner = HyperTuner(nn.Linear, nn.CrossEntropyLoss())
    sampler = tuner.set_search_strategy(method=method, seed=3).sampler
    assert type(sampler) is cls and sampler.seed == 3
    with pytest.raises(ConfigError, match=r"method: sampler .* does not take the option"):
        tuner.set_search_strategy(method=method, n_initial_points=4)


def test_the_sweep_yaml_names_them_with_options():
    from lightning_autotune.cli._sweep import SweepConfig

    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    sweep = SweepConfig.from_dict(
        {"space": space, "sampler": {"method": "cmaes", "restart_strategy": "bipop"}}
    )
    sampler = sweep.make_sampler()
    assert isinstance(sampler, CmaEsSampler) and sampler.restart_strategy.value == "bipop"
    nsga = SweepConfig.from_dict({"space": space, "sampler": "nsga2"}).make_sampler()
    assert isinstance(nsga, NSGA2Sampler)
