"""TransferSampler: earlier studies mapped by name, ranked by how well they order this one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import TransferSampler, WarmSource, WarmStartMode
from lightning_autotune.samplers._transfer_map import load_source, map_configs
from lightning_autotune.samplers._transfer_model import ranking_weights
from lightning_autotune.samplers._transfer_portfolio import greedy_portfolio, portfolio_size
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def bowl(c, cx=0.3, cy=0.7):
    return (c["x"] - cx) ** 2 + (c["y"] - cy) ** 2


def _source(store, name, f, n=12, direction="minimize", seed=0, space=SPACE):
    study = create_study(name, space, store, direction, seed=seed)
    for c in space.sample(n, seed):
        study.tell(study.ask(c), f(c))
    return study


def test_map_configs_fills_missing_clips_ranges_and_drops_unknown_choices():
    source = SearchSpace({"x": Float(-1.0, 2.0), "opt": Categorical(["adam", "lion"])})
    target = SearchSpace(
        {"x": Float(0.0, 1.0), "opt": Categorical(["adam", "sgd"]), "n": Int(2, 10)}
    )
    configs = [{"x": 1.7, "opt": "adam"}, {"x": 0.5, "opt": "lion"}, {"x": -0.4, "opt": "adam"}]
    mapped, kept = map_configs(source, target, configs)
    assert kept.tolist() == [0, 2]  # 'lion' is not one of this study's choices
    assert [m["x"] for m in mapped] == [1.0, 0.0]  # clipped into [0, 1]
    assert {m["n"] for m in mapped} == {6}  # the centre of the missing Int(2, 10)


def test_a_parameter_that_changed_kind_is_refused_naming_it():
    store = InMemoryStorage()
    _source(store, "old", lambda c: float(c["x"]), space=SearchSpace({"x": Categorical([0, 1])}))
    with pytest.raises(
        ConfigError, match=r"parameter 'x' is categorical in the earlier study 'old' but numeric"
    ):
        load_source(WarmSource(store, "old"), SPACE, (Direction.MINIMIZE,))


def test_a_maximized_source_is_turned_lower_is_better():
    store = InMemoryStorage()
    _source(store, "acc", lambda c: -bowl(c), direction="maximize")
    data = load_source(WarmSource(store, "acc"), SPACE, (Direction.MINIMIZE,))
    assert np.allclose(data.y, [bowl(c) for c in data.configs])


def test_a_source_ranking_the_task_well_outweighs_one_ranking_it_backwards():
    rng = np.random.default_rng(0)
    y = rng.normal(size=12)
    good, backwards = y + 0.01 * rng.normal(size=12), -y
    w = ranking_weights([good, backwards], None, y, rng)
    assert w[0] > 0.95 and w[1] == 0.0 and math.isclose(w.sum(), 1.0)


def test_a_source_worse_than_the_target_model_is_dropped():
    rng = np.random.default_rng(1)
    y = rng.normal(size=20)
    noise = rng.normal(size=20)  # unrelated to y
    w = ranking_weights([noise], y + 0.05 * rng.normal(size=20), y, rng)
    assert w.tolist() == [0.0, 1.0]


def test_portfolio_covers_tasks_instead_of_repeating_one():
    store = InMemoryStorage()
    _source(store, "a", lambda c: bowl(c, 0.1, 0.1), n=20, seed=1)
    _source(store, "b", lambda c: bowl(c, 0.9, 0.9), n=20, seed=2)
    data = [load_source(WarmSource(store, s), SPACE, (Direction.MINIMIZE,)) for s in "ab"]
    two = greedy_portfolio(data, 2)
    near_a = [bowl(c, 0.1, 0.1) < bowl(c, 0.9, 0.9) for c in two]
    assert sorted(near_a) == [False, True]


def test_tasks_that_agree_need_a_smaller_portfolio_than_tasks_that_disagree():
    store = InMemoryStorage()
    corners = [(0.1, 0.1), (0.9, 0.9), (0.1, 0.9), (0.9, 0.1)]
    for i, (cx, cy) in enumerate(corners):
        _source(store, f"near{i}", lambda c, i=i: bowl(c, 0.3 + 0.01 * i, 0.7), n=20, seed=i)
        _source(store, f"far{i}", lambda c, cx=cx, cy=cy: bowl(c, cx, cy), n=20, seed=i)
    load = [
        load_source(WarmSource(store, s.name), SPACE, (Direction.MINIMIZE,))
        for s in store.list_studies()
    ]
    near = [d for d in load if d.name.startswith("near")]
    far = [d for d in load if d.name.startswith("far")]
    assert portfolio_size(near, 5) == 1
    assert portfolio_size(far, 5) >= 3  # about one configuration per corner
    assert portfolio_size(far, 2) == 2


def test_transfer_starts_where_the_earlier_tasks_agree_instead_of_a_sobol_point():
    store = InMemoryStorage()
    for i in range(3):
        _source(store, f"old{i}", lambda c, i=i: bowl(c, 0.28 + 0.02 * i, 0.7), n=15, seed=i)
    sources = [WarmSource(store, f"old{i}") for i in range(3)]
    sampler = TransferSampler(sources, seed=0, raw_samples=64)
    first = sampler.suggest(SPACE, [], seed=0)[0]
    assert bowl(first, 0.3, 0.7) < 0.01  # the mean of the three bowls is lowest at (0.3, 0.7)


def test_earlier_trials_inform_but_are_not_this_studys_trials():
    store = InMemoryStorage()
    _source(store, "old", bowl, n=15)
    sampler = TransferSampler([WarmSource(store, "old")], seed=0, raw_samples=64)
    study = create_study("new", SPACE, store, sampler=sampler, seed=0)
    study.optimize(lambda t: bowl(t.params, 0.32, 0.68), max_trials=5)
    assert len(study.trials) == 5
    old = {(t.params["x"], t.params["y"]) for t in create_study("old", SPACE, store).trials}
    assert not old & {(t.params["x"], t.params["y"]) for t in study.trials}
    assert study.best_value == min(t.values[0] for t in study.trials)
    assert study.best_value < 0.01  # the earlier study's optimum is close to this one's


@pytest.mark.parametrize("mode", list(WarmStartMode))
def test_every_mode_proposes_valid_distinct_points(mode):
    store = InMemoryStorage()
    _source(store, "old", bowl, n=8)
    sampler = TransferSampler([WarmSource(store, "old")], mode, seed=0, raw_samples=64)
    study = create_study("new", SPACE, store, sampler=sampler, seed=0)
    study.optimize(lambda t: bowl(t.params), max_trials=4)
    keys = {(t.params["x"], t.params["y"]) for t in study.trials}
    assert len(keys) == 4


def test_zero_shot_starts_from_the_earlier_best_configuration():
    store = InMemoryStorage()
    old = _source(store, "old", bowl, n=10)
    sampler = TransferSampler([WarmSource(store, "old")], "zero_shot", seed=0)
    first = sampler.suggest(SPACE, [], seed=0)[0]
    assert first == dict(old.best_params)


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError, match=r"at least one earlier study"):
        TransferSampler([])
    with pytest.raises(
        ConfigError, match=r"warm_start_mode must be one of .*'transfer'.*got 'warm'"
    ):
        WarmStartMode.parse("warm")


def test_the_registry_name_needs_its_sources():
    from lightning_autotune.registry import make_sampler

    with pytest.raises(ConfigError, match=r"at least one earlier study in sources \(or give"):
        make_sampler("transfer")
