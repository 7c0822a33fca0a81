from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import MIXED_SPACE, run_mixed

from lightning_autotune import InMemoryStorage, RandomSampler, create_study
from lightning_autotune.analysis import (
    ParamImportance,
    SensitivityResult,
    param_importances,
    rerun_sensitivity,
    sensitivity_analysis,
)
from lightning_autotune.exceptions import ConfigError, SearchSpaceError


def test_known_dominant_parameter_ranks_first(linear_result):
    imp = {p.name: p for p in linear_result.importances}
    assert linear_result.ranking[0] == "x1"
    assert linear_result.ranking[-1] == "x3"
    assert imp["x1"].importance > 0.95
    assert imp["x3"].importance < 0.01
    assert imp["x1"].first_order == pytest.approx(1.0, abs=0.1)
    assert sum(p.importance for p in linear_result.importances) == pytest.approx(1.0)
    assert all(p.total_std >= 0 for p in linear_result.importances)


def test_local_sensitivity_matches_the_known_slopes(linear_result, linear_study):
    local = {c.name: c for c in linear_result.local}
    assert linear_result.base_number == linear_study.best_trial.number
    assert dict(linear_result.base_params) == linear_study.best_params
    assert local["x1"].spread == pytest.approx(10.0, rel=0.15)
    assert local["x2"].spread < 0.5
    assert local["x3"].spread < 0.5
    x1 = local["x1"]
    assert len(x1.values) == 21 and x1.values[0] == 0.0 and x1.values[-1] == 1.0
    assert np.all(np.diff(x1.change) > 0)  # f grows with x1
    assert all(lo <= c <= hi for lo, c, hi in zip(x1.lower, x1.change, x1.upper, strict=True))
    assert linear_result.base_prediction == pytest.approx(linear_study.best_value, abs=0.3)


def test_results_are_frozen(linear_result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        linear_result.importances[0].importance = 0.0  # type: ignore[misc]
    assert isinstance(linear_result, SensitivityResult)
    assert isinstance(linear_result.importances[0], ParamImportance)


def test_categorical_columns_count_as_one_parameter():
    space = {
        "opt": {"type": "categorical", "values": ["a", "b", "c"]},
        "x": {"type": "continuous", "min": 0.0, "max": 1.0},
    }
    study = create_study("cat", space, InMemoryStorage(), sampler=RandomSampler(), seed=2)
    for _ in range(30):
        trial = study.ask()
        study.tell(
            trial, {"a": 0.0, "b": 5.0, "c": 2.0}[trial.params["opt"]] + 0.01 * trial.params["x"]
        )
    result = param_importances(study, n_samples=256)
    assert [p.name for p in result] == ["opt", "x"]
    assert result[0].importance > 0.9


def test_conditional_space_is_handled(mixed_study):
    result = sensitivity_analysis(mixed_study, n_samples=128, n_points=5)
    assert sorted(result.ranking) == sorted(MIXED_SPACE)
    assert all(np.isfinite(p.importance) for p in result.importances)
    local = {c.name: c for c in result.local}
    # The best configuration uses adam, so momentum is inactive and has no local curve.
    assert result.base_params["optimizer"] == "adam"
    assert "momentum" not in local
    assert local["optimizer"].values == ("adam", "sgd") and local["optimizer"].categorical
    assert local["optimizer"].change[0] == pytest.approx(0.0, abs=1e-9)
    assert local["layers"].values == (1, 2, 3, 4)
    assert local["lr"].log


def test_around_a_given_configuration_and_maximize():
    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    study = create_study("max", space, InMemoryStorage(), "maximize", sampler=RandomSampler())
    run = [0.1, 0.5, 0.9, 0.3, 0.7]
    for x in run:
        study.tell(study.ask({"x": x}), -((x - 0.6) ** 2))
    result = sensitivity_analysis(study, n_samples=64, n_points=3)
    assert result.base_params["x"] == 0.5 or result.base_params["x"] == 0.7
    assert result.direction.value == "maximize"
    result = sensitivity_analysis(study, around={"x": 0.2}, n_samples=64, n_points=3)
    assert result.base_number is None and result.local[0].base_value == 0.2
    with pytest.raises(SearchSpaceError, match=r"'x': value 2\.0 is not allowed"):
        sensitivity_analysis(study, around={"x": 2.0})


def test_bad_inputs_are_refused():
    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    study = create_study("few", space, InMemoryStorage())
    study.tell(study.ask({"x": 0.5}), 1.0)
    with pytest.raises(ConfigError, match=r"at least 3 COMPLETE trials.*has 1; run more trials"):
        param_importances(study)
    study.tell(study.ask({"x": 0.1}), 1.0)
    study.tell(study.ask({"x": 0.9}), 2.0)
    with pytest.raises(ConfigError, match="n_points must be an integer >= 2, got 1"):
        sensitivity_analysis(study, n_points=1)
    with pytest.raises(ConfigError, match="n_samples must be an integer >= 8, got 2"):
        param_importances(study, n_samples=2)


def test_flat_objective_gives_zero_importances():
    space = {f"x{i}": {"type": "continuous", "min": 0.0, "max": 1.0} for i in (1, 2)}
    study = create_study("flat", space, InMemoryStorage(), sampler=RandomSampler(), seed=3)
    for _ in range(6):
        study.tell(study.ask(), 1.0)
    result = param_importances(study, n_samples=64)
    assert all(p.importance == 0.0 for p in result)


def test_records_without_a_study_object():
    study = create_study("rec", MIXED_SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=5)
    run_mixed(study, n=12)
    result = param_importances(study.trials, space=study.space, n_samples=64)
    assert sorted(p.name for p in result) == sorted(MIXED_SPACE)


def test_rerun_sensitivity_measures_the_real_objective():
    space = {
        "x": {"type": "continuous", "min": 0.0, "max": 1.0},
        "opt": {"type": "categorical", "values": ["adam", "sgd"]},
        "momentum": {"type": "continuous", "min": 0.5, "max": 0.9, "when": {"opt": "sgd"}},
    }
    calls = []

    def objective(p):
        calls.append(p)
        return 3 * p["x"] + (1.0 + p["momentum"] if p["opt"] == "sgd" else 0.0)

    base = {"x": 0.5, "opt": "adam"}
    curves = {c.name: c for c in rerun_sensitivity(objective, space, base, n_points=3)}
    assert sorted(curves) == ["opt", "x"]
    assert curves["x"].values == (0.0, 0.5, 1.0)
    assert curves["x"].change == pytest.approx((-1.5, 0.0, 1.5))
    # Switching to sgd activates momentum at the middle of its range.
    assert curves["opt"].change == pytest.approx((0.0, 1.7))
    assert len(calls) == 1 + 3 + 2
    assert {"x": 0.5, "opt": "sgd", "momentum": pytest.approx(0.7)} in calls
    noisy = iter(range(100))
    (curve,) = rerun_sensitivity(
        lambda p: p["x"] + 0.01 * next(noisy), space, base, params=["x"], n_points=2, repeats=3
    )
    bands = zip(curve.lower, curve.change, curve.upper, strict=True)
    assert all(lo < c < hi for lo, c, hi in bands)
    with pytest.raises(ConfigError, match=r"params: \['momentum'\] are not active"):
        rerun_sensitivity(objective, space, base, params=["momentum"])
    with pytest.raises(ConfigError, match="repeats must be an integer >= 1, got 0"):
        rerun_sensitivity(objective, space, base, repeats=0)
