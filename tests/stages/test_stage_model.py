"""A 'multifidelity' stage models the earlier stages' trials at their fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import _multifidelity_model
from lightning_autotune.samplers._multifidelity_stages import (
    FidelityObservation,
    StagedMultiFidelitySampler,
    encode_outside,
)
from lightning_autotune.space import Categorical, Float, SearchSpace
from lightning_autotune.stages import Narrowing, Stage, check_stages, run_stages
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import load_study
from lightning_autotune.trial import Direction

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def _bowl(stage):
    def run(trial):
        p = trial.params
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2 + 0.1 * (1 - stage.data_fraction)

    return run


def test_the_later_stage_fits_one_model_on_the_earlier_stages_trials(monkeypatch):
    fits = []
    real = _multifidelity_model.fit_model

    def recording(X, y, col, start=None):
        fits.append((X.numpy().copy(), list(col)))
        return real(X, y, col, start)

    monkeypatch.setattr(_multifidelity_model, "fit_model", recording)
    store = InMemoryStorage()
    plan = [
        Stage(trials=8, data_fraction=0.25, max_epochs=1, narrow=Narrowing(top_k=3, margin=0.0)),
        Stage(trials=2, max_epochs=4, sampler="multifidelity", promote=0),
    ]
    final = run_stages(
        plan, _bowl, SPACE, storage=store, study_name="mf", direction=Direction.MINIMIZE,
        sampler=None, pruner=None, seed=0, announce=lambda _: None,
    )  # fmt: skip
    first = load_study("mf.stage1", store)
    assert len(first.trials) == 8 and len(final.trials) == 2
    # two fits, one per proposal of the second stage: 8 earlier trials, then 8 + 1
    assert [len(X) for X, _ in fits] == [8, 9]
    X, cols = fits[1]
    assert cols == [2, 3]  # x, y, then the data share and the epoch share
    np.testing.assert_allclose(X[:8, 2:], [[0.25, 0.25]] * 8)
    np.testing.assert_allclose(X[8:, 2:], [[1.0, 1.0]])
    # the earlier trials outside the narrowed box are in the model, outside [0, 1]
    assert ((X[:8, :2] < -1e-9) | (X[:8, :2] > 1 + 1e-9)).any()
    box = final.space["x"]
    assert all(box.low <= t.params["x"] <= box.high for t in final.trials)


def test_encode_outside_keeps_values_beyond_the_narrowed_range():
    space = SearchSpace({"x": Float(0.2, 0.4), "c": Categorical(("a", "b"))})
    X, kept = encode_outside(space, [{"x": 0.6, "c": "z"}, {"x": 0.3, "c": "b"}])
    assert kept == [0, 1]
    np.testing.assert_allclose(X, [[2.0, 0.0, 0.0], [0.5, 0.0, 1.0]])


def test_the_staged_sampler_proposes_from_earlier_trials_alone():
    earlier = [
        FidelityObservation({"x": x, "y": 0.5}, (x - 0.3) ** 2, (0.5,))
        for x in np.linspace(0, 1, 7)
    ]
    config = StagedMultiFidelitySampler(earlier, (1.0,), seed=0).suggest(SPACE, [], seed=1)[0]
    assert 0.0 <= config["x"] <= 1.0 and 0.0 <= config["y"] <= 1.0
    with pytest.raises(ConfigError, match=r"every fidelity must have 1 values in \(0, 1\]"):
        StagedMultiFidelitySampler(earlier, (0.0,))


def test_an_unknown_stage_sampler_is_refused():
    with pytest.raises(ConfigError, match=r"stage 1: sampler must be a Sampler or one of"):
        check_stages([Stage(trials=2, sampler="gp-ish")], ["x", "y"], 3)
