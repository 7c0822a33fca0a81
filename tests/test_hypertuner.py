from __future__ import annotations

import pytest
from torch import nn

from lightning_autotune import HyperTuner, TrialState
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.testing import random_datasets


class MLP(nn.Module):
    def __init__(self, hidden_size: int = 16, n_features: int = 8, n_classes: int = 3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_classes)
        )

    def forward(self, x):
        return self.net(x)


SPACE = {
    "learning_rate": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "batch_size": {"type": "discrete", "values": [16, 32]},
    "hidden_size": {"type": "integer", "min": 4, "max": 32},
}


def test_article_api_runs_end_to_end(tmp_path):
    train, val = random_datasets(n=128, n_features=8)
    tuner = HyperTuner(
        model_class=MLP,
        criterion=nn.CrossEntropyLoss(),
        metric="accuracy",
        direction="maximize",
    )
    tuner.set_search_space(SPACE)
    tuner.set_search_strategy(method="random", seed=0)
    best = tuner.optimize(
        train_data=train,
        val_data=val,
        max_trials=2,
        time_budget="00:10:00",
        max_epochs=2,
        storage=f"sqlite:///{tmp_path / 'ht.db'}",
        trainer_kwargs={"accelerator": "cpu"},
    )
    assert set(best) == set(SPACE)
    assert [t.state for t in tuner.study.trials] == [TrialState.COMPLETE] * 2
    assert tuner.study.best_params == best


def test_unknown_space_names_are_refused_before_any_trial():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss())
    with pytest.raises(ConfigError, match=r"\['depth'\] are neither arguments of MLP"):
        tuner.set_search_space({**SPACE, "depth": {"type": "integer", "min": 1, "max": 3}})


def test_bad_arguments():
    with pytest.raises(ConfigError, match="metric must be one of"):
        HyperTuner(MLP, nn.CrossEntropyLoss(), metric="auc")
    with pytest.raises(ConfigError, match=r"model_class must be an nn\.Module class"):
        HyperTuner(object, nn.CrossEntropyLoss())  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError,
        match=r"method: sampler must be one of \['bayesian', 'cmaes', 'evolutionary', "
        r"'multifidelity', 'multiobjective', 'nsga2', 'random', 'sobol', 'transfer'\], got 'grid'",
    ):
        HyperTuner(MLP, nn.CrossEntropyLoss()).set_search_strategy(method="grid")
    with pytest.raises(ConfigError, match="no search space"):
        HyperTuner(MLP, nn.CrossEntropyLoss()).optimize(*random_datasets(n=32), max_trials=1)
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    with pytest.raises(ConfigError, match=r"max_trials must be an integer >= 1, got -1"):
        tuner.optimize(*random_datasets(n=32), max_trials=-1, storage=None)
    assert tuner.study is None


def test_article_constraint_and_composite_objective_calls_run_as_written(tmp_path):
    train, val = random_datasets(n=128, n_features=8)
    tuner = HyperTuner(model_class=MLP, criterion=nn.CrossEntropyLoss())
    tuner.set_search_space(SPACE)
    tuner.add_constraint(condition="batch_size > 16", action="increase_learning_rate_by_0.5x")
    tuner.add_constraint(condition="hidden_size >= 8")
    # The article's call, character for character:
    tuner.set_objective(lambda metrics: metrics['accuracy'] - 0.1*metrics['inference_time'], direction='maximize')  # fmt: skip  # noqa: E501
    tuner.set_search_strategy(method="random", seed=1)
    tuner.optimize(
        train_data=train, val_data=val, max_trials=3, max_epochs=1,
        storage=f"sqlite:///{tmp_path / 'c.db'}", trainer_kwargs={"accelerator": "cpu"},
    )  # fmt: skip
    trials = tuner.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert all(t.params["hidden_size"] >= 8 for t in trials)
    # accuracy is in [0, 1] and inference_time is a few milliseconds, in seconds
    assert all(-0.1 < t.value <= 1.0 for t in trials)


def test_the_metrics_hold_the_packages_names_and_the_articles(tmp_path):
    train, val = random_datasets(n=128, n_features=8)
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    seen = []

    def composite(metrics):
        seen.append(dict(metrics))
        return {"composite_score": metrics["val_accuracy"] - 0.001 * metrics["latency_ms"]}

    tuner.set_objective(composite, direction="maximize")
    tuner.set_search_strategy(method="random")
    tuner.optimize(train, val, max_trials=2, max_epochs=1, storage=None,
                   trainer_kwargs={"accelerator": "cpu"})  # fmt: skip
    for metrics, trial in zip(seen, tuner.study.trials, strict=True):
        assert {"val_accuracy", "accuracy", "val_loss", "loss", "latency_ms", "inference_time",
                "training_time_s"} <= set(metrics)  # fmt: skip
        assert metrics["accuracy"] == metrics["val_accuracy"]
        assert metrics["inference_time"] == pytest.approx(metrics["latency_ms"] / 1000)
        assert trial.value == pytest.approx(metrics["val_accuracy"] - 0.001 * metrics["latency_ms"])


def test_a_missing_metric_fails_the_trial_with_the_keys_that_exist():
    train, val = random_datasets(n=64, n_features=8)
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    tuner.set_objective(lambda m: m["f1"], measure_latency=False)
    tuner.set_search_strategy(method="random")
    with pytest.raises(Exception, match="COMPLETE"):
        tuner.optimize(train, val, max_trials=1, max_epochs=1, storage=None,
                       trainer_kwargs={"accelerator": "cpu"})  # fmt: skip
    (trial,) = tuner.study.trials
    assert trial.state is TrialState.FAILED
    assert "'f1' is not among this trial's metrics ['accuracy', 'loss'," in trial.reason


def test_rerunning_optimize_continues_the_same_study(tmp_path, capsys):
    train, val = random_datasets(n=64, n_features=8)
    url = f"sqlite:///{tmp_path / 'again.db'}"
    for total in (1, 2):
        tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
        tuner.set_search_strategy(method="random")
        tuner.optimize(train, val, max_trials=total, max_epochs=1, storage=url,
                       trainer_kwargs={"accelerator": "cpu"})  # fmt: skip
        assert len(tuner.study.trials) == total
    assert tuner.study.name == tuner.default_study_name()
    assert tuner.study.name.startswith("MLP-")
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line == f"lightning_autotune: study {tuner.study.name!r} in {url}"


def test_composite_objective_must_return_a_score(tmp_path):
    train, val = random_datasets(n=64, n_features=8)
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    tuner.set_objective(lambda m: {"score": 1.0}, measure_latency=False)
    tuner.set_search_strategy(method="random")
    with pytest.raises(ConfigError, match="without 'composite_score'"):
        tuner.optimize(train, val, max_trials=1, max_epochs=1, storage=None,
                       trainer_kwargs={"accelerator": "cpu"})  # fmt: skip
    assert tuner.study is None or tuner.study.trials[0].state is TrialState.FAILED


def test_the_search_seed_scrambles_the_bayesian_samplers_initial_design():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss())
    assert tuner.set_search_strategy(method="bayesian", seed=3).sampler.seed == 3
    assert tuner.set_search_strategy(method="sobol", seed=4).sampler.seed == 4


def test_search_strategy_defaults_are_those_of_fit_and_the_sweep():
    from lightning_autotune.cli._sweep import SweepConfig

    tuner_sampler = HyperTuner(MLP, nn.CrossEntropyLoss()).set_search_strategy().sampler
    sweep_sampler = SweepConfig.from_dict({"space": SPACE}).make_sampler()
    # No seed of its own: the study's seed reaches it, as for fit and the sweep.
    assert tuner_sampler.seed is None and sweep_sampler.seed is None
    assert tuner_sampler.acq_func == sweep_sampler.acq_func


def test_schedule_names_are_model_arguments_when_schedules_are_off():
    received = []

    class Switchy(MLP):
        def __init__(self, hidden_size: int = 16, switch_at: float = 1.0):
            super().__init__(hidden_size)
            received.append(switch_at)

    space = {**SPACE, "switch_at": {"type": "continuous", "min": 0.2, "max": 0.8}}
    with pytest.raises(ConfigError, match=r"\['switch_at'\] are neither arguments of MLP"):
        HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=space, schedule_params=False)
    tuner = HyperTuner(Switchy, nn.CrossEntropyLoss(), search_space=space, schedule_params=False)
    tuner.set_search_strategy(method="random")
    train, val = random_datasets(n=64, n_features=8)
    best = tuner.optimize(train, val, max_trials=1, max_epochs=1, storage=None,
                          trainer_kwargs={"accelerator": "cpu"}, progress=False)  # fmt: skip
    assert received == [best["switch_at"]]  # the model received it as an argument
