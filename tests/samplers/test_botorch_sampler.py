"""Behaviour of BoTorchSampler: reproducibility, pending points, batches, fallbacks, odd data."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import BoTorchSampler, RandomSampler, SamplerWarning
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialRecord, TrialState

FAST = {"raw_samples": 128, "num_restarts": 2}


def _space(d: int = 2) -> SearchSpace:
    return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(d)})


def _records(
    space: SearchSpace, values: list[float], seed: int = 0, state: TrialState = TrialState.COMPLETE
) -> list[TrialRecord]:
    configs = space.sample(len(values), seed)
    return [
        TrialRecord(trial_id=i, number=i, state=state, params=c, values=(v,))
        for i, (c, v) in enumerate(zip(configs, values, strict=True))
    ]


def _quadratic(c: dict[str, Any]) -> float:
    return sum((v - 0.3) ** 2 for k, v in c.items() if k.startswith("x"))


def _history(space: SearchSpace, n: int, seed: int = 0) -> list[TrialRecord]:
    configs = space.sample(n, seed)
    return [
        TrialRecord(
            trial_id=i, number=i, state=TrialState.COMPLETE, params=c, values=(_quadratic(c),)
        )
        for i, c in enumerate(configs)
    ]


def test_same_seed_gives_identical_proposals() -> None:
    space = _space(3)
    history = _history(space, 8)
    a = BoTorchSampler(**FAST).suggest(space, history, seed=7)
    b = BoTorchSampler(**FAST).suggest(space, history, seed=7)
    assert a == b


def test_seeded_studies_are_reproducible() -> None:
    def run() -> list[dict[str, Any]]:
        study = create_study(
            "s",
            _space(2),
            InMemoryStorage(),
            "minimize",
            sampler=BoTorchSampler(n_initial_points=3, seed=1, **FAST),
            seed=1,
        )
        for _ in range(6):
            trial = study.ask()
            study.tell(trial, _quadratic(trial.params))
        return [t.params for t in study.trials]

    assert run() == run()


def test_initial_design_follows_one_sobol_sequence() -> None:
    space = _space(2)
    sampler = BoTorchSampler(n_initial_points=4, seed=3)
    first = sampler.suggest(space, [], n=4, seed=0)
    one_by_one = [
        sampler.suggest(space, _history(space, 0) + _fake(space, first[:i]), seed=i)[0]
        for i in range(4)
    ]
    assert one_by_one == first


def _fake(space: SearchSpace, configs: list[dict[str, Any]]) -> list[TrialRecord]:
    return [
        TrialRecord(
            trial_id=i, number=i, state=TrialState.COMPLETE, params=c, values=(_quadratic(c),)
        )
        for i, c in enumerate(configs)
    ]


def test_pending_trials_are_not_proposed_again_and_batches_are_distinct() -> None:
    space = _space(2)
    history = _history(space, 8)
    sampler = BoTorchSampler(**FAST)
    first = sampler.suggest(space, history, seed=0)[0]
    pending = [TrialRecord(trial_id=99, number=8, state=TrialState.RUNNING, params=first)]
    second = sampler.suggest(space, history, pending=pending, seed=0)[0]
    assert second != first
    batch = sampler.suggest(space, history, n=4, seed=0)
    assert len(batch) == 4
    encoded = space.encode(batch)
    gaps = [np.abs(encoded[i] - encoded[j]).max() for i in range(4) for j in range(i)]
    assert min(gaps) > 1e-3


def test_batch_alternates_believer_logei_and_qlognei(monkeypatch: pytest.MonkeyPatch) -> None:
    from botorch.acquisition import qLogNoisyExpectedImprovement

    from lightning_autotune.samplers import _optimize_acqf
    from lightning_autotune.samplers._acquisition import DirectLogEI

    seen: list[tuple[str, int]] = []
    real = _optimize_acqf.optimize_acquisition

    def spy(acqf: Any, space: SearchSpace, **kwargs: Any) -> Any:
        n_train = len(acqf.X) if isinstance(acqf, DirectLogEI) else -1
        seen.append((type(acqf).__name__, n_train))
        return real(acqf, space, **kwargs)

    monkeypatch.setattr(_optimize_acqf, "optimize_acquisition", spy)
    space = _space(2)
    batch = BoTorchSampler(**FAST).suggest(space, _history(space, 8), n=4, seed=0)
    assert len(batch) == 4
    # nothing pending: plain LogEI on the 8 observations; one or three in flight: LogEI on the
    # GP that also "observed" them at their posterior mean; two: qLogNEI over their outcomes
    assert seen == [
        ("DirectLogEI", 8),
        ("DirectLogEI", 9),
        (qLogNoisyExpectedImprovement.__name__, -1),
        ("DirectLogEI", 11),
    ]


def _record_boxes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """From now on, the box (or None) of every acquisition search, in order."""
    from lightning_autotune.samplers import _optimize_acqf

    boxes: list[Any] = []
    real = _optimize_acqf.optimize_acquisition

    def spy(acqf: Any, space: SearchSpace, **kwargs: Any) -> Any:
        boxes.append(kwargs["box"])
        return real(acqf, space, **kwargs)

    monkeypatch.setattr(_optimize_acqf, "optimize_acquisition", spy)
    return boxes


def test_points_chosen_with_others_in_flight_stay_near_the_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boxes = _record_boxes(monkeypatch)
    space = _space(2)
    history = _history(space, 8)
    batch = space.encode(BoTorchSampler(**FAST).suggest(space, history, n=4, seed=0))
    best = space.encode([min(history, key=lambda t: t.values[0]).params])[0]
    half = max(0.5 * np.abs(batch[0] - best).max(), 0.01)
    assert boxes[0] is None  # the first point goes wherever a sequential step would
    for box, x in zip(boxes[1:], batch[1:], strict=True):
        assert box.lower == pytest.approx(np.clip(best - half, 0, 1))
        assert box.upper == pytest.approx(np.clip(best + half, 0, 1))
        assert np.all(x >= box.lower - 1e-9) and np.all(x <= box.upper + 1e-9)
    boxes.clear()
    BoTorchSampler(acq_func="UCB", **FAST).suggest(space, history, n=2, seed=0)
    assert boxes == [None, None]  # an acquisition the user chose is searched everywhere


def test_a_worker_refilled_after_a_result_is_not_held_in_the_box(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = create_study(
        "async",
        _space(2),
        InMemoryStorage(),
        "minimize",
        sampler=BoTorchSampler(n_initial_points=4, **FAST),
        seed=0,
    )
    for _ in range(6):
        trial = study.ask()
        study.tell(trial, _quadratic(trial.params))
    boxes = _record_boxes(monkeypatch)
    a = study.ask()  # two workers asked at once: a synchronous batch of two
    b = study.ask()
    assert boxes[0] is None and boxes[1] is not None
    study.tell(b, _quadratic(b.params))  # b's result arrives while a still runs
    study.ask()  # the refill is chosen from new data: a is in flight, but not held to
    assert len(boxes) == 3 and boxes[2] is None
    assert study.trials[a.number].state is TrialState.RUNNING


def test_botorch_model_is_built_only_with_points_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lightning_autotune.samplers import _gp

    built: list[int] = []
    real = _gp.gp_model

    def spy(X: Any, y: Any, hyper: Any) -> Any:
        built.append(len(X))
        return real(X, y, hyper)

    monkeypatch.setattr(_gp, "gp_model", spy)
    space = _space(2)
    history = _history(space, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to Sobol would warn
        one = BoTorchSampler(**FAST).suggest(space, history, seed=0)
        assert built == []  # plain LogEI comes straight from the fitted hyper-parameters
        batch = BoTorchSampler(**FAST).suggest(space, history, n=4, seed=0)
    assert built == [8]  # once per suggestion, for the points chosen with others in flight
    assert batch[0] == one[0]


def test_gp_failure_falls_back_to_sobol_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning_autotune.samplers import _gp

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cholesky exploded")

    monkeypatch.setattr(_gp, "fit_hyperparameters", broken)
    space = _space(2)
    with pytest.warns(SamplerWarning, match="fell back to a Sobol point.*cholesky exploded"):
        configs = BoTorchSampler(**FAST).suggest(space, _history(space, 8), n=2, seed=0)
    assert len(configs) == 2
    assert all(space.validate(c) == c for c in configs)


def test_the_gp_is_fitted_to_the_warped_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning_autotune.samplers import _gp

    seen: list[np.ndarray] = []
    fit = _gp.fit_hyperparameters

    def spy(X: Any, y: np.ndarray, **kwargs: Any) -> Any:
        seen.append(np.array(y))
        return fit(X, y, **kwargs)

    monkeypatch.setattr(_gp, "fit_hyperparameters", spy)
    space = _space(2)
    history = _history(space, 8)
    BoTorchSampler(**FAST).suggest(space, history, seed=0)
    scores = np.array([r.values[0] for r in history])
    np.testing.assert_allclose(seen[0], _gp.warp_outcomes(-scores))
    assert not np.allclose(seen[0], _gp.standardize(-scores))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_ignored(bad: float) -> None:
    space = _space(2)
    history = _history(space, 7) + _records(space, [bad], seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        configs = BoTorchSampler(n_initial_points=5, **FAST).suggest(space, history, seed=0)
    assert space.validate(configs[0]) == configs[0]


def test_constant_objective_duplicates_and_single_trial_do_not_crash() -> None:
    space = _space(2)
    constant = _records(space, [1.0] * 6)
    duplicated = constant + [
        TrialRecord(
            trial_id=50 + i,
            number=6 + i,
            state=TrialState.COMPLETE,
            params=constant[0].params,
            values=(2.0,),
        )
        for i in range(3)
    ]
    single = _records(space, [0.5])
    for history in (constant, duplicated, single):
        config = BoTorchSampler(n_initial_points=1, **FAST).suggest(space, history, seed=0)[0]
        assert space.validate(config) == config


@pytest.mark.parametrize("d", [1, 20])
def test_one_and_twenty_dimensions(d: int) -> None:
    space = _space(d)
    configs = BoTorchSampler(n_initial_points=5, **FAST).suggest(
        space, _history(space, 12), n=2, seed=0
    )
    assert len(configs) == 2
    assert all(space.validate(c) == c for c in configs)


def test_mixed_and_conditional_spaces_give_valid_configs() -> None:
    space = SearchSpace(
        {
            "opt": Categorical(["sgd", "adam"]),
            "lr": Float(1e-4, 1.0, log=True),
            "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
            "layers": Int(1, 6),
            "width": Int(16, 256, log=True),
            "act": Categorical(["relu", "tanh", "gelu"], when={"opt": "adam"}),
            "drop": Float(0.0, 0.5, step=0.1),
        }
    )
    configs = space.sample(10, 0)
    history = [
        TrialRecord(
            trial_id=i, number=i, state=TrialState.COMPLETE, params=c, values=(float(i % 4),)
        )
        for i, c in enumerate(configs)
    ]
    proposals = BoTorchSampler(n_initial_points=5, **FAST).suggest(space, history, n=3, seed=0)
    for config in proposals:
        assert space.validate(config) == config
    assert len({tuple(sorted(c.items())) for c in proposals}) == 3


def test_failed_configurations_are_not_proposed_again() -> None:
    space = SearchSpace({"n": Int(0, 2), "c": Categorical(["a", "b"])})
    # every configuration but one is evaluated or failed with an out-of-memory error
    configs = [{"n": n, "c": c} for n in range(3) for c in "ab"]
    history = [
        TrialRecord(trial_id=i, number=i, state=TrialState.COMPLETE, params=cfg, values=(float(i),))
        for i, cfg in enumerate(configs[:3])
    ]
    history += [
        TrialRecord(
            trial_id=10 + i, number=3 + i, state=TrialState.FAILED, params=cfg, reason="oom"
        )
        for i, cfg in enumerate(configs[3:5])
    ]
    proposal = BoTorchSampler(n_initial_points=2, **FAST).suggest(space, history, seed=0)[0]
    assert proposal == configs[5]


def test_pruned_trials_are_learned_from_and_maximize_works() -> None:
    space = _space(2)
    history = _history(space, 6) + _records(space, [5.0], seed=9, state=TrialState.PRUNED)
    config = BoTorchSampler(n_initial_points=6, **FAST).suggest(
        space, history, directions=(Direction.MAXIMIZE,), seed=0
    )[0]
    assert space.validate(config) == config


@pytest.mark.parametrize("acq", ["EI", "NEI", "UCB", "auto"])
def test_each_acquisition_with_and_without_pending(acq: str) -> None:
    space = _space(2)
    history = _history(space, 8)
    sampler = BoTorchSampler(acq_func=acq, kappa=1.0, **FAST)
    pending = [
        TrialRecord(trial_id=99, number=8, state=TrialState.RUNNING, params=space.sample(1, 3)[0])
    ]
    assert len(sampler.suggest(space, history, seed=0)) == 1
    assert len(sampler.suggest(space, history, pending=pending, n=2, seed=0)) == 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="acq_func must be one of"):
        BoTorchSampler(acq_func="PI")
    with pytest.raises(ConfigError, match="n_initial_points must be an integer >= 1"):
        BoTorchSampler(n_initial_points=0)
    with pytest.raises(ConfigError, match="kappa must be a finite number >= 0"):
        BoTorchSampler(kappa=-1.0)


def test_several_objectives_are_refused() -> None:
    with pytest.raises(ConfigError, match="multi-objective optimization is not supported"):
        BoTorchSampler().suggest(
            _space(2), [], directions=(Direction.MINIMIZE, Direction.MAXIMIZE), seed=0
        )


def _branin(c: dict[str, Any]) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


@pytest.mark.slow
def test_beats_random_search_on_branin() -> None:
    space = SearchSpace({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})
    optimum = 0.397887357729738

    def regret(sampler_for_seed: Any, seed: int) -> float:
        study = create_study(
            "b", space, InMemoryStorage(), "minimize", sampler=sampler_for_seed(seed), seed=seed
        )
        study.optimize(lambda trial: _branin(trial.params), n_trials=30)
        return study.best_value - optimum

    ours = [regret(lambda s: BoTorchSampler(seed=s, **FAST), s) for s in range(5)]
    rand = [regret(lambda s: RandomSampler(), s) for s in range(5)]
    assert np.median(ours) < np.median(rand)


def test_initial_design_skips_a_failed_configuration() -> None:
    from lightning_autotune.samplers._random import sobol_points

    space = SearchSpace({"n": Int(0, 3), "c": Categorical(["a", "b"])})
    would_be = sobol_points(space, start=1, n=1, seed=0)[0]
    failed = [
        TrialRecord(trial_id=0, number=0, state=TrialState.FAILED, params=would_be, reason="oom")
    ]
    proposal = BoTorchSampler(seed=0).suggest(space, failed, seed=0)[0]
    assert proposal != would_be
    assert space.validate(proposal) == proposal
