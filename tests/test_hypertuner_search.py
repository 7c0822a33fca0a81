"""HyperTuner's early stopping and search strategies, reached by the registry's names."""

from __future__ import annotations

import warnings

import pytest
from torch import nn

from lightning_autotune import HyperTuner, TrialState
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.metrics import SECONDS_PER_EPOCH, CompositeMetric, MetricTerm
from lightning_autotune.pruners import AdaptiveThresholdPruner, MedianPruner, NopPruner
from lightning_autotune.registry import SAMPLERS
from lightning_autotune.samplers import SamplerWarning
from lightning_autotune.testing import random_datasets

SPACE = {
    "learning_rate": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "hidden_size": {"type": "integer", "min": 4, "max": 16},
}


class MLP(nn.Module):
    def __init__(self, hidden_size: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 3))

    def forward(self, x):
        return self.net(x)


def _run(tuner: HyperTuner, trials: int = 1, **kwargs):
    train, val = random_datasets(n=64, n_features=8)
    tuner.set_search_strategy(method="random", seed=0)
    tuner.optimize(train, val, max_trials=trials, max_epochs=2, storage=None, progress=False,
                   trainer_kwargs={"accelerator": "cpu"}, **kwargs)  # fmt: skip
    return tuner.study


def test_early_stopping_is_on_by_default_with_the_adaptive_threshold_pruner():
    study = _run(HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE))
    assert isinstance(study.pruner, AdaptiveThresholdPruner)
    (trial,) = study.trials
    # the trial reported its metric (accuracy, to maximize) while it ran, for the pruner
    assert trial.state is TrialState.COMPLETE and len(trial.intermediate) == 2
    assert trial.value == list(trial.intermediate.values())[-1]


@pytest.mark.parametrize("off", [False, None, "none"])
def test_one_call_turns_early_stopping_off(off):
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    assert isinstance(_run(tuner.set_early_stopping(off)).pruner, NopPruner)
    on = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    assert isinstance(_run(on, pruner=off).pruner, NopPruner)


def test_a_pruner_by_name_with_options_or_as_an_instance():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    study = _run(tuner.set_early_stopping("median", n_startup_trials=1))
    assert isinstance(study.pruner, MedianPruner) and study.pruner.n_startup_trials == 1
    mine = MedianPruner(n_startup_trials=0)
    assert _run(tuner.set_early_stopping(mine)).pruner is mine
    assert _run(tuner, pruner="adaptive_threshold").pruner is not mine
    assert isinstance(_run(tuner, pruner={"type": "median"}).pruner, MedianPruner)


def test_an_unknown_pruner_gets_the_registrys_error():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    with pytest.raises(ConfigError, match=r"pruner must be one of \['adaptive_threshold', "):
        tuner.set_early_stopping("patience")
    with pytest.raises(ConfigError, match=r"pruner must be one of .*got 'patience'"):
        _run(tuner, pruner="patience")
    with pytest.raises(ConfigError, match=r"'median' \(MedianPruner\) does not take.*'gap'"):
        tuner.set_early_stopping("median", gap=1)
    with pytest.raises(ConfigError, match=r"options \['n_startup_trials'\] go with a pruner's"):
        tuner.set_early_stopping(MedianPruner(), n_startup_trials=2)


def test_a_composite_of_val_loss_and_seconds_per_epoch_is_reported_and_pruned_on():
    composite = CompositeMetric(
        (MetricTerm("val_loss"), MetricTerm(SECONDS_PER_EPOCH, weight=0.01)), name="loss_speed"
    )
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), metric="loss", direction="minimize",
                       search_space=SPACE)  # fmt: skip
    study = _run(tuner.set_early_stopping(monitor=composite), trials=2)
    for trial in study.trials:
        reported = list(trial.intermediate.values())
        # the composite adds seconds per epoch to the loss; the trial's value is the loss alone
        assert reported[-1] > trial.value > 0
    with pytest.raises(ConfigError, match=r"CompositeMetric\('loss_speed'\) is lower-is-better"):
        _run(HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE).set_early_stopping(
            monitor=composite))  # fmt: skip


# The transfer sampler is built from earlier studies (`set_warm_start`); that its name alone is
# refused is pinned in tests/samplers/test_transfer.py.
@pytest.mark.parametrize("method", sorted(set(SAMPLERS) - {"transfer"}))
def test_every_registry_sampler_is_a_search_strategy(method):
    if method == "cmaes":
        pytest.importorskip("cmaes", reason="the [evolutionary] extra is not installed")
    # the multi-fidelity sampler cannot work without naming its fidelity parameter
    required = {"fidelity": "learning_rate"} if method == "multifidelity" else {}
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no kappa warning without a kappa
        sampler = tuner.set_search_strategy(method=method, seed=5, **required).sampler
    assert type(sampler) is SAMPLERS[method]
    assert sampler.seed == 5
    upper = tuner.set_search_strategy(method=method.upper(), **required).sampler
    assert type(upper) is SAMPLERS[method]


def test_a_sampler_missing_a_required_option_names_it():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    with pytest.raises(
        ConfigError,
        match=r"method: sampler 'multifidelity' \(MultiFidelitySampler\) needs the option\(s\) "
        r"\['fidelity'\]",
    ):
        tuner.set_search_strategy(method="multifidelity", seed=5)


def test_n_initial_points_reaches_the_botorch_samplers_and_not_the_others():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss())
    bo = tuner.set_search_strategy(method="bayesian", n_initial_points=4).sampler
    mo = tuner.set_search_strategy(method="multiobjective", n_initial_points=4).sampler
    assert bo.n_initial_points == 4 and mo.n_initial_points == 4
    with pytest.raises(ConfigError, match=r"method: sampler 'random' \(RandomSampler\) does not"):
        tuner.set_search_strategy(method="random", n_initial_points=4)


def test_kappa_with_ei_warns_that_only_ucb_uses_it():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss())
    with pytest.warns(SamplerWarning, match=r"kappa=2\.576 has no effect with acq_func='EI'; "
                      r"only the 'UCB' acquisition uses kappa"):  # fmt: skip
        tuner.set_search_strategy(method="bayesian", n_initial_points=10, acq_func="EI",
                                  kappa=2.576)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = tuner.set_search_strategy(method="bayesian", acq_func="UCB", kappa=3.0).sampler
    assert sampler.kappa == 3.0


def test_with_an_objective_trials_report_a_metric_that_goes_the_objectives_way():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), search_space=SPACE)
    tuner.set_objective(lambda m: m["accuracy"] - 1.0, direction="maximize", measure_latency=False)
    (trial,) = _run(tuner).trials
    reported = list(trial.intermediate.values())
    # accuracy (to maximize, like the objective) is reported, not val_loss
    assert all(0.0 <= v <= 1.0 for v in reported)
    assert trial.value == pytest.approx(reported[-1] - 1.0)


def test_early_stopping_is_turned_off_with_a_warning_when_nothing_goes_the_objectives_way():
    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), metric="loss", search_space=SPACE)
    tuner.set_objective(lambda m: -m["loss"], direction="maximize", measure_latency=False)
    message = r"the tuner maximizes, and none of \['val_loss'\] is a metric to maximize"
    with pytest.warns(UserWarning, match=r"early stopping is off for this run: " + message):
        study = _run(tuner)
    assert isinstance(study.pruner, NopPruner)
