from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import MultiFidelitySampler
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.study import create_study

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "s": Float(0.1, 1.0)})


def _f(x: float, y: float, s: float) -> float:
    # the cheap fidelities see the same bowl, shifted and tilted a little
    return (x - 0.7) ** 2 + (y - 0.2) ** 2 + (1 - s) * (0.2 * x + 0.1)


def test_finds_the_target_optimum_spending_cheap_fidelities():
    study = create_study(
        "mf", SPACE, None, sampler=MultiFidelitySampler("s", n_initial_points=5), seed=1
    )
    study.optimize(lambda t: _f(t.params["x"], t.params["y"], t.params["s"]), n_trials=16)
    fidelities = [t.params["s"] for t in study.trials[5:]]
    assert min(fidelities) < 1.0 and 1.0 in fidelities  # both cheap and target trials
    full = [t for t in study.trials if t.params["s"] == 1.0]
    best = min(full, key=lambda t: t.values[0])
    assert best.values[0] < 0.02  # the target optimum is 0 at (0.7, 0.2)


def test_integer_fidelity_levels_are_whole_epochs():
    space = SearchSpace({"x": Float(0.0, 1.0), "epochs": Int(1, 9)})
    study = create_study(
        "mf", space, None, sampler=MultiFidelitySampler("epochs", n_initial_points=4), seed=0
    )
    study.optimize(lambda t: (t.params["x"] - 0.3) ** 2 + 0.5 / t.params["epochs"], n_trials=7)
    assert all(isinstance(t.params["epochs"], int) for t in study.trials)
    levels = MultiFidelitySampler("epochs")._levels(space["epochs"])
    assert levels == [1, 3, 5, 7, 9]


def test_cheap_level_is_chosen_where_nothing_is_known_and_target_once_it_is():
    import torch

    from lightning_autotune.samplers._multifidelity_model import choose_fidelity, fit_model

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.random(12), rng.choice([0.0, 1.0], 12)])
    y = np.array([math.sin(6 * x) for x in X[:, 0]])
    model = fit_model(torch.tensor(X), torch.tensor(y[:, None]), col=1)
    levels, costs = [0.0, 1.0], [0.15, 1.05]
    fresh = np.array([0.5, 1.0])
    assert choose_fidelity(model, fresh, 1, levels, costs) == 0


@pytest.mark.parametrize(
    ("space", "match"),
    [
        (SearchSpace({"x": Float(0.0, 1.0)}), "the fidelity 's' must be an always-active"),
        (
            SearchSpace({"x": Float(0.0, 1.0), "s": Categorical([0.5, 1.0])}),
            "must be an always-active linear Float or Int",
        ),
    ],
)
def test_a_space_without_a_usable_fidelity_is_refused(space, match):
    with pytest.raises(ConfigError, match=match):
        MultiFidelitySampler("s").suggest(space, [])


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="fidelity must name a parameter"):
        MultiFidelitySampler("")
    with pytest.raises(ConfigError, match="levels"):
        MultiFidelitySampler("s", levels=1)


def test_each_fit_starts_from_the_last_fits_hyperparameters(monkeypatch):
    from lightning_autotune.samplers import _multifidelity_model

    starts = []
    real = _multifidelity_model.fit_model

    def recording(X, y, col, start=None):
        starts.append(start)
        return real(X, y, col, start)

    monkeypatch.setattr(_multifidelity_model, "fit_model", recording)
    space = SearchSpace({"x": Float(0.0, 1.0), "s": Float(0.1, 1.0)})
    study = create_study(
        None, space, None, sampler=MultiFidelitySampler("s", n_initial_points=4), seed=0
    )
    for _ in range(6):
        trial = study.ask()
        study.tell(trial, (trial.params["x"] - 0.3) ** 2 + 0.1 * (1 - trial.params["s"]))
    assert starts[0] is None and len(starts) == 2
    # the second fit starts from the first's kernel and noise, not its data's standardization
    assert starts[1] and not any(k.startswith("outcome_transform") for k in starts[1])
    assert any("covar_module" in k for k in starts[1])
