"""CmaEsSampler: CMA-ES rebuilt from the store, restarts, integer margin, choices, warm start."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import CmaEsSampler, RestartStrategy
from lightning_autotune.samplers._cmaes_state import (
    Coordinates,
    ReplayCache,
    Settings,
    make_optimizer,
    replay,
    scored,
)
from lightning_autotune.samplers._random import sobol_points
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.study import create_study, load_study
from lightning_autotune.trial import Direction, TrialRecord, TrialState

cmaes = pytest.importorskip("cmaes", reason="the [evolutionary] extra is not installed")

SPHERE = SearchSpace({"x": Float(-1.0, 1.0), "y": Float(-1.0, 1.0)})


def _sphere(p: dict[str, Any]) -> float:
    return (p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2


def _loop(sampler, space, f, n, *, seed=0) -> list[TrialRecord]:
    """Ask/tell without a study: each trial finished before the next is asked."""
    history: list[TrialRecord] = []
    for i in range(n):
        config = sampler.suggest(space, history, seed=seed * 100_000 + i)[0]
        history.append(_record(i, config, f(config)))
    return history


def _record(i: int, params: dict[str, Any], value: float) -> TrialRecord:
    return TrialRecord(i, i, TrialState.COMPLETE, params, values=(value,))


def _settings(**kw: Any) -> Settings:
    base: dict[str, Any] = dict(
        sigma0=1 / 6,
        population_size=None,
        restart_strategy=RestartStrategy.NONE,
        inc_popsize=2,
        with_margin=True,
        seed=0,
    )
    return Settings(**{**base, **kw})


def test_it_converges_on_a_sphere_through_a_study():
    study = create_study(space=SPHERE, sampler=CmaEsSampler(), seed=0)
    for _ in range(150):
        trial = study.ask()
        study.tell(trial, _sphere(dict(trial.params)))
    assert study.best_value < 1e-4


def test_the_replay_is_cmaes_run_by_hand():
    # the distribution rebuilt from the trials is the one cmaes reaches when driven directly
    coords = Coordinates.of(SPHERE)
    direct = make_optimizer(coords, _settings(), mean=np.full(2, 0.5), sigma=1 / 6, popsize=None)
    trials, number = [], 0
    for _ in range(5):
        batch = []
        for _ in range(direct.population_size):
            x = direct.ask()
            params = SPHERE.decode(x[None, :])[0]
            batch.append((SPHERE.encode([params])[0], _sphere(params)))
            trials.append(_record(number, params, _sphere(params)))
            number += 1
        direct.tell(batch)
    rebuilt = replay(SPHERE, coords, scored(trials, Direction.MINIMIZE), _settings())
    np.testing.assert_allclose(rebuilt.optimizer.mean, direct.mean)
    assert rebuilt.optimizer.generation == 5


def test_at_its_defaults_it_is_plain_cmaes_on_the_unit_cube():
    # The set-up Optuna's CmaEsSampler also has at its defaults: the box scaled to the unit
    # cube, the mean at its centre, a step of a sixth of each range, cmaes's population, and
    # each proposal one draw of the current distribution. Only the random draws differ.
    space = SearchSpace(
        {"a": Float(-32.768, 32.768), "b": Float(-10.0, 10.0), "c": Float(0.0, 1.0)}
    )
    low, span = np.array([-32.768, -10.0, 0.0]), np.array([65.536, 20.0, 1.0])

    def f(p: dict[str, Any]) -> float:
        return abs(p["a"] - 3.0) + (p["b"] + 1.0) ** 2 + abs(p["c"] - 0.7)

    sampler = CmaEsSampler()
    by_hand = cmaes.CMA(mean=np.full(3, 0.5), sigma=1 / 6, bounds=np.array([[0.0, 1.0]] * 3))
    assert by_hand.population_size == 7  # 4 + floor(3 ln 3)
    history: list[TrialRecord] = []
    batch: list[tuple[np.ndarray, float]] = []
    for i in range(4 * by_hand.population_size):
        config = sampler.suggest(space, history, seed=i)[0]
        # the sampler seeds each draw from the seed of its call
        by_hand.reseed_rng(int(np.random.default_rng(i).integers(2**32)))
        x = by_hand.ask()
        np.testing.assert_allclose([config[k] for k in "abc"], low + span * x, rtol=1e-12)
        history.append(_record(i, config, f(config)))
        batch.append((x, f(config)))
        if len(batch) == by_hand.population_size:
            by_hand.tell(batch)
            batch = []
    assert by_hand.generation == 4


def test_a_fresh_sampler_proposes_what_the_one_that_ran_proposes():
    # no hidden state: the cache of the last replay only saves time
    ran = CmaEsSampler(seed=3)
    history = _loop(ran, SPHERE, _sphere, 40)
    fresh = CmaEsSampler(seed=3)
    assert fresh.suggest(SPHERE, history, seed=7) == ran.suggest(SPHERE, history, seed=7)
    # a history that is not an extension of the cached one is replayed from scratch
    other = [*history[:20], _record(99, {"x": 0.0, "y": 0.0}, 5.0)]
    again = CmaEsSampler(seed=3).suggest(SPHERE, other, seed=7)
    assert ran.suggest(SPHERE, other, seed=7) == again


@pytest.mark.parametrize("restart_strategy", ["none", "bipop"])
def test_the_remembered_replay_is_the_replay_from_scratch_bit_for_bit(restart_strategy):
    # integers (CMA-ES with margin), a choice and restarts; a sampler that forgets before
    # every call proposes exactly what one that remembers proposes
    space = SearchSpace(
        {"x": Float(-1.0, 1.0), "n": Int(0, 9), "act": Categorical(["relu", "tanh"])}
    )

    def f(p):
        return p["x"] ** 2 + 0.1 * (p["n"] - 4) ** 2 + (p["act"] == "relu")

    remembers = CmaEsSampler(restart_strategy=restart_strategy, seed=0)
    forgets = CmaEsSampler(restart_strategy=restart_strategy, seed=0)
    history: list[TrialRecord] = []
    for i in range(120):
        forgets._cache = ReplayCache()
        config = remembers.suggest(space, history, seed=i)
        assert config == forgets.suggest(space, history, seed=i)
        history.append(_record(i, config[0], f(config[0])))


def test_a_resumed_study_continues_the_same_sequence(tmp_path):
    url = f"sqlite:///{tmp_path / 'cma.db'}"

    def run(study, n):
        for _ in range(n):
            trial = study.ask()
            study.tell(trial, _sphere(dict(trial.params)))

    straight = create_study("a", SPHERE, url, sampler=CmaEsSampler(), seed=1)
    run(straight, 30)
    first = create_study("b", SPHERE, url, sampler=CmaEsSampler(), seed=1)
    run(first, 18)
    resumed = load_study("b", url, sampler=CmaEsSampler(), seed=1)
    run(resumed, 12)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]


def test_workers_asking_at_once_get_distinct_draws_of_one_distribution():
    history = _loop(CmaEsSampler(seed=0), SPHERE, _sphere, 30)
    point = {"x": 0.1, "y": 0.1}
    running = [TrialRecord(30 + i, 30 + i, TrialState.RUNNING, point) for i in range(3)]
    # each worker's ask has its own trial number, hence its own draw
    a = CmaEsSampler(seed=0).suggest(SPHERE, history, pending=running[:1])
    b = CmaEsSampler(seed=0).suggest(SPHERE, history, pending=running[:2])
    assert a != b
    batch = CmaEsSampler(seed=0).suggest(SPHERE, history, n=4, seed=1)
    assert len({tuple(c.values()) for c in batch}) == 4


def test_ipop_restarts_with_a_doubled_population_once_a_run_converges():
    space = SearchSpace({"x": Float(-1.0, 1.0)})
    sampler = CmaEsSampler(restart_strategy="ipop", seed=0)
    history = _loop(sampler, space, lambda p: p["x"] ** 2, 500)
    coords = Coordinates.of(space)
    settings = _settings(restart_strategy=RestartStrategy.IPOP)
    state = replay(space, coords, scored(history, Direction.MINIMIZE), settings)
    assert state.restart >= 1
    assert state.optimizer.population_size == state.lam0 * 2**state.restart


def test_bipop_alternates_its_two_regimes():
    space = SearchSpace({"x": Float(-1.0, 1.0)})
    sampler = CmaEsSampler(restart_strategy=RestartStrategy.BIPOP, seed=0)
    history = _loop(sampler, space, lambda p: p["x"] ** 2, 900)
    settings = _settings(restart_strategy=RestartStrategy.BIPOP)
    state = replay(space, Coordinates.of(space), scored(history, Direction.MINIMIZE), settings)
    assert state.restart >= 2
    assert state.small_evals > 0 and state.n_large >= 1


def test_integer_parameters_use_the_margin_and_reach_the_optimum():
    space = SearchSpace({"n": Int(0, 20), "m": Int(0, 20), "x": Float(0.0, 1.0)})
    coords = Coordinates.of(space)
    np.testing.assert_allclose(coords.steps, [1 / 21, 1 / 21, 0.0])
    mean = np.full(3, 0.5)
    margin = make_optimizer(coords, _settings(), mean=mean, sigma=0.1, popsize=None)
    plain = make_optimizer(coords, _settings(with_margin=False), mean=mean, sigma=0.1, popsize=None)
    assert (type(margin).__name__, type(plain).__name__) == ("CMAwM", "CMA")
    history = _loop(
        CmaEsSampler(seed=0), space, lambda p: (p["n"] - 7) ** 2 + (p["m"] - 3) ** 2 + p["x"], 120
    )
    best = min(history, key=lambda r: r.values[0])
    assert (best.params["n"], best.params["m"]) == (7, 3)


def test_categorical_choices_are_learned_from_the_best_trials():
    acts = Categorical(["relu", "tanh", "gelu", "silu"])
    space = SearchSpace({"x": Float(-1.0, 1.0), "act": acts})
    cost = {"relu": 1.0, "tanh": 0.0, "gelu": 1.0, "silu": 1.0}
    history = _loop(CmaEsSampler(seed=0), space, lambda p: p["x"] ** 2 + cost[p["act"]], 150)
    late = [r.params["act"] for r in history[-40:]]
    assert late.count("tanh") / len(late) > 0.5  # uniform resampling would give 0.25


def test_an_inactive_conditional_parameter_does_not_move_its_coordinate():
    space = SearchSpace(
        {"opt": Categorical(["sgd", "adam"]), "momentum": Float(0.0, 1.0, when={"opt": "sgd"}),
         "lr": Float(0.0, 1.0)}
    )  # fmt: skip
    rng = np.random.default_rng(0)
    trials = [
        _record(i, {"opt": "adam", "lr": float(rng.random())}, float(rng.random()))
        for i in range(40)
    ]
    state = replay(space, Coordinates.of(space), scored(trials, Direction.MINIMIZE), _settings())
    assert state.optimizer.generation >= 5
    assert state.optimizer.mean[0] == pytest.approx(0.5)  # momentum: never active, never moved
    assert state.optimizer.mean[1] != pytest.approx(0.5)
    # and the conditional choice is drawn among the values its parents allow
    configs = CmaEsSampler(seed=0).suggest(space, trials, n=20, seed=0)
    assert all(("momentum" in c) == (c["opt"] == "sgd") for c in configs)


def test_warm_start_trials_set_where_the_search_starts():
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    rng = np.random.default_rng(0)
    source = []
    for i in range(60):
        p = {"x": float(rng.random()), "y": float(rng.random())}
        source.append(_record(i, p, (p["x"] - 0.85) ** 2 + (p["y"] - 0.15) ** 2))
    warm = CmaEsSampler(warm_start_trials=source, seed=0).suggest(space, [], n=30, seed=1)
    cold = CmaEsSampler(seed=0).suggest(space, [], n=30, seed=1)
    assert np.mean([c["x"] for c in warm]) > 0.7 > np.mean([c["x"] for c in cold])


def test_startup_trials_are_sobol_points_then_a_warm_start():
    sampler = CmaEsSampler(n_startup_trials=8, seed=2)
    history = _loop(sampler, SPHERE, _sphere, 8)
    assert [dict(r.params) for r in history] == sobol_points(SPHERE, start=0, n=8, seed=2)
    after = sampler.suggest(SPHERE, history, seed=0)
    assert after != sobol_points(SPHERE, start=8, n=1, seed=2)


def test_space_constraints_hold_for_every_proposal():
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, constraints=["x + y <= 1"])
    history = _loop(CmaEsSampler(seed=0), space, lambda p: -(p["x"] + p["y"]), 60)
    assert all(r.params["x"] + r.params["y"] <= 1 for r in history)


def test_it_refuses_several_objectives():
    with pytest.raises(ConfigError, match="optimizes one objective, but the study has 2"):
        CmaEsSampler().suggest(SPHERE, [], directions=(Direction.MINIMIZE, Direction.MAXIMIZE))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma0": 2.0}, r"sigma0 is a step on the unit cube and must be <= 1, got 2\.0"),
        ({"restart_strategy": "often"}, r"restart_strategy must be one of \['none', 'ipop', 'bip"),
        ({"population_size": 1}, "population_size"),
        ({"warm_start_gamma": 1.5}, r"warm_start_gamma must be in \(0, 1\], got 1\.5"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_field_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CmaEsSampler(**kwargs)


def test_a_missing_cmaes_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    hide = lambda n, *a: None if n == "cmaes" else real(n, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", hide)
    with pytest.raises(ConfigError, match=r"pip install 'lightning-autotune\[evolutionary\]'"):
        CmaEsSampler()
