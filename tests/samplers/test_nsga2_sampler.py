"""NSGA2Sampler: constrained sorting, crowding, mixed-space variation, constraints, no state."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.exceptions import ConfigError, ConstraintError
from lightning_autotune.multiobjective import hypervolume
from lightning_autotune.samplers import NSGA2Sampler, RandomSampler
from lightning_autotune.samplers._nsga2_memo import HistoryMemo, SobolDesign
from lightning_autotune.samplers._nsga2_ops import (
    crossover,
    dominance,
    fronts_by_peeling,
    fronts_of_values,
    mutate,
    rank_and_crowding,
)
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

TWO = (Direction.MINIMIZE, Direction.MINIMIZE)
SPACE = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(4)})


def _zdt1(p: dict[str, Any]) -> tuple[float, float]:
    x = [p[f"x{i}"] for i in range(4)]
    g = 1 + 9 * sum(x[1:]) / 3
    return x[0], g * (1 - (x[0] / g) ** 0.5)


def _loop(sampler, space, f, n, *, directions=TWO, metrics=None) -> list[TrialRecord]:
    history: list[TrialRecord] = []
    for i in range(n):
        config = sampler.suggest(space, history, directions=directions, seed=i)[0]
        values = f(config)
        values = values if isinstance(values, tuple) else (values,)
        m = {0: metrics(config)} if metrics else {}
        history.append(TrialRecord(i, i, TrialState.COMPLETE, config, values=values, metrics=m))
    return history


def test_sorting_puts_feasible_fronts_first_then_infeasible_by_violation():
    F = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 0.0], [0.1, 0.1]])
    violation = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 1.0])
    rank, crowd = rank_and_crowding(F, violation)
    assert rank.tolist() == [0, 0, 0, 1, 3, 2]
    assert np.isinf(crowd[[0, 1]]).all()  # the ends of a front are kept first


def test_ranking_only_the_fronts_needed_keeps_their_order():
    rng = np.random.default_rng(0)
    F = rng.random((60, 2))
    violation = np.where(rng.random(60) < 0.5, 0.0, rng.integers(1, 6, 60).astype(float))
    violation[:3] = np.inf  # never reported the constrained metric
    full_rank, full_crowd = rank_and_crowding(F, violation)
    for enough in (5, 20, 45):
        rank, crowd = rank_and_crowding(F, violation, enough)
        kept = rank < rank.max()
        assert kept.sum() >= enough
        np.testing.assert_array_equal(rank[kept], full_rank[kept])
        np.testing.assert_array_equal(crowd[kept], full_crowd[kept])


def test_it_beats_random_search_on_zdt1_at_equal_budget():
    def front_hv(history):
        return hypervolume(np.array([r.values for r in history]), np.array([1.1, 11.0]))

    ours = _loop(NSGA2Sampler(population_size=20, seed=0), SPACE, _zdt1, 200)
    rand = _loop(RandomSampler(seed=0), SPACE, _zdt1, 200)
    assert front_hv(ours) > front_hv(rand)


def test_the_first_population_is_a_sobol_design_and_later_ones_are_bred():
    sampler = NSGA2Sampler(population_size=6, seed=1)
    history = _loop(sampler, SPACE, _zdt1, 6)
    assert [dict(r.params) for r in history] == SPACE.sample_sobol(6, seed=1)
    child = sampler.suggest(SPACE, history, directions=TWO, seed=0)
    assert child != SPACE.sample_sobol(7, seed=1)[6:]


def test_a_fresh_sampler_and_parallel_workers():
    history = _loop(NSGA2Sampler(population_size=10, seed=0), SPACE, _zdt1, 30)
    again = NSGA2Sampler(population_size=10, seed=0).suggest(SPACE, history, directions=TWO, seed=4)
    assert again == NSGA2Sampler(population_size=10, seed=0).suggest(
        SPACE, history, directions=TWO, seed=4
    )
    batch = NSGA2Sampler(population_size=10).suggest(SPACE, history, directions=TWO, n=5, seed=1)
    keys = {tuple(c.values()) for c in batch} | {tuple(r.params.values()) for r in history}
    assert len(keys) == len(history) + 5  # never a configuration already tried or in the batch


def test_outcome_constraints_steer_the_search_to_the_feasible_region():
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    sampler = NSGA2Sampler(population_size=10, outcome_constraints=["slack >= 0"], seed=0)
    history = _loop(
        sampler,
        space,
        lambda p: p["x"] + p["y"],
        150,
        directions=(Direction.MINIMIZE,),
        metrics=lambda p: {"slack": p["x"] - 0.5},  # feasible when x >= 0.5
    )
    feasible = [r for r in history if r.params["x"] >= 0.5]
    best = min(feasible, key=lambda r: r.values[0])
    assert best.values[0] < 0.55
    late = history[-50:]
    assert sum(r.params["x"] >= 0.5 for r in late) / len(late) > 0.7


def test_mixed_conditional_constrained_spaces_get_valid_children():
    space = SearchSpace(
        {
            "opt": Categorical(["sgd", "adam"]),
            "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
            "lr": Float(1e-4, 1.0, log=True),
            "layers": Int(1, 8),
            "width": Int(8, 512, log=True),
        },
        constraints=["layers * width <= 1024"],
    )

    def f(p):
        return (np.log10(p["lr"]) + 2) ** 2 + (p["opt"] == "adam"), p["layers"] * p["width"]

    history = _loop(NSGA2Sampler(population_size=12, seed=0), space, f, 80)
    for r in history:
        assert space.validate(r.params) == dict(r.params)  # active set, domains, constraint
    assert {r.params["opt"] for r in history[12:]} == {"sgd", "adam"}


def test_crossover_and_mutation_respect_activity_and_domains():
    space = SearchSpace(
        {"opt": Categorical(["sgd", "adam"]), "momentum": Float(0.0, 1.0, when={"opt": "sgd"})}
    )
    rng = np.random.default_rng(0)
    for _ in range(50):
        child = crossover(
            space, {"opt": "sgd", "momentum": 0.2}, {"opt": "adam"}, eta=15, swap_prob=0.5, rng=rng
        )
        child = mutate(space, child, prob=0.5, eta=20, rng=rng)
        assert space.validate(child) == child


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"crossover_prob": 1.5}, ConfigError, r"crossover_prob is a probability .* got 1\.5"),
        ({"population_size": 1}, ConfigError, "population_size"),
        ({"outcome_constraints": "a <= 1"}, ConstraintError, r"write outcome_constraints=\['a"),
    ],
)
def test_bad_arguments_are_refused_with_the_field_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        NSGA2Sampler(**kwargs)


def test_a_trial_with_the_wrong_number_of_values_is_named():
    history = [TrialRecord(0, 0, TrialState.COMPLETE, {"x0": 0.1, "x1": 0, "x2": 0, "x3": 0},
                           values=(1.0,))]  # fmt: skip
    with pytest.raises(ConfigError, match="trial 0 has 1 values but the study has 2 directions"):
        NSGA2Sampler(population_size=2).suggest(SPACE, history * 3, directions=TWO)


def test_fronts_of_one_objective_are_those_of_the_dominance_matrix():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 12, 80).astype(float)  # many ties: fronts of several points
    dom = dominance(values[:, None])
    for limit in (0, 1, 5, 30, 80, 200):
        fast = fronts_of_values(values, limit)
        slow = fronts_by_peeling(dom, limit)
        assert [f.tolist() for f in fast] == [f.tolist() for f in slow]


def _memo_inputs(memo, history, constraints=()):
    records, F, violation, dom, known = memo.update(history, TWO, constraints)
    return [r.number for r in records], F, violation, dom, set(known)


def test_the_history_memo_continued_equals_one_computed_from_scratch():
    constraints = (OutcomeConstraint("c <= 0.5"),)
    history = _loop(NSGA2Sampler(population_size=8, seed=0), SPACE, _zdt1, 60,
                    metrics=lambda p: {"c": p["x1"]})  # fmt: skip
    history[5] = replace(history[5], state=TrialState.FAILED, values=None)
    history[7] = replace(history[7], values=(float("nan"), 1.0))
    memo = HistoryMemo()
    for n in (10, 11, 30, 60):  # each call extends the last one's history
        got = _memo_inputs(memo, history[:n], constraints)
        want = _memo_inputs(HistoryMemo(), history[:n], constraints)
        assert got[0] == want[0] and got[4] == want[4]
        for a, b in zip(got[1:4], want[1:4], strict=True):
            np.testing.assert_array_equal(a, b)
    # A history that does not extend the memo's (a trial finished out of order) starts it over.
    shuffled = [history[1], history[0], *history[2:]]
    got, want = _memo_inputs(memo, shuffled, constraints), _memo_inputs(HistoryMemo(), shuffled)
    assert got[0] == [r.number for r in shuffled if r.number not in (5, 7)]
    assert got[1].tobytes() == _memo_inputs(HistoryMemo(), shuffled, constraints)[1].tobytes()
    assert want[3].shape[0] > got[3].shape[0]  # without the constraint more points are feasible


def test_a_sampler_with_its_memo_suggests_what_fresh_samplers_suggest():
    kept = NSGA2Sampler(population_size=8, seed=0)
    history: list[TrialRecord] = []
    for i in range(40):
        config = kept.suggest(SPACE, history, directions=TWO, seed=i)[0]
        fresh = NSGA2Sampler(population_size=8, seed=0).suggest(SPACE, history, directions=TWO,
                                                                 seed=i)[0]  # fmt: skip
        assert config == fresh
        history.append(TrialRecord(i, i, TrialState.COMPLETE, config, values=_zdt1(config)))


def test_the_memo_keeps_the_column_sums_of_its_dominance_matrix():
    history = _loop(NSGA2Sampler(population_size=8, seed=1), SPACE, _zdt1, 70)
    memo = HistoryMemo()
    for n in (1, 9, 10, 40, 70):  # the buffer grows past its first size on the way
        *_, dom, _ = _memo_inputs(memo, history[:n])
        np.testing.assert_array_equal(memo.beaten, dom.sum(axis=0))
        np.testing.assert_array_equal(dom, dominance(np.array([r.values for r in history[:n]])))


def test_the_design_drawn_once_is_sample_sobol_point_for_point():
    mixed = SearchSpace({"x": Float(1e-3, 1.0, log=True), "n": Int(1, 9),
                         "c": Categorical(["a", "b", "c"])})  # fmt: skip
    design = SobolDesign(12)
    for space in (SPACE, mixed):
        for seed in (0, 12345):
            for n in (1, 3):
                for start in range(13 - n):
                    want = space.sample_sobol(n, seed=seed, start=start)
                    assert design.configs(space, seed, start, n) == want
