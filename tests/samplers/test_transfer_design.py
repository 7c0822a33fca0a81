"""The zero-shot initial design: the portfolio while the earlier tasks hold, then Sobol points."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_autotune.knowledge import KnowledgeBase
from lightning_autotune.samplers import BoTorchSampler, TransferSampler, WarmSource, WarmStartMode
from lightning_autotune.samplers._transfer_design import (
    DesignStep,
    cold_design_size,
    next_step,
)
from lightning_autotune.samplers._transfer_map import load_source
from lightning_autotune.samplers._transfer_portfolio import greedy_portfolio, portfolio_size
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def bowl(c, cx=0.3, cy=0.7):
    return (c["x"] - cx) ** 2 + (c["y"] - cy) ** 2


@pytest.mark.parametrize(
    ("share", "left", "position", "step"),
    [
        (None, 2, 0, DesignStep.PORTFOLIO),  # nothing to rank by yet
        (0.9, 2, 3, DesignStep.PORTFOLIO),  # the earlier tasks hold
        (0.5, 1, 4, DesignStep.PORTFOLIO),  # a tie is not a contradiction
        (0.2, 2, 3, DesignStep.SOBOL),  # contradicted: the rest of the portfolio is dropped
        (None, 0, 2, DesignStep.SOBOL),  # portfolio used up: the design is completed
        (0.9, 0, 5, DesignStep.MODEL),  # the design has the cold sampler's size
        (0.2, 2, 5, DesignStep.MODEL),
    ],
)
def test_next_step(share, left, position, step):
    assert next_step(share=share, portfolio_left=left, position=position, design_size=5) is step


def test_the_design_has_the_cold_samplers_size():
    wide = SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(8)})
    assert cold_design_size(SPACE) == BoTorchSampler().initial_points(SPACE) == 5
    assert cold_design_size(wide) == BoTorchSampler().initial_points(wide) == 9


def _sources(store, shuffled):
    """Four earlier tasks with their optima near (0.3, 0.7); `shuffled`: values permuted."""
    names = []
    for i in range(4):
        study = create_study(f"old{i}", SPACE, store, seed=i)
        configs = SPACE.sample(20, i)
        values = [bowl(c, 0.3 + 0.02 * i, 0.7) for c in configs]
        if shuffled:
            values = list(np.random.default_rng(i).permutation(values))
        for c, v in zip(configs, values, strict=True):
            study.tell(study.ask(c), v)
        names.append(study.name)
    return [WarmSource(store, n) for n in names]


def _cold_sobol(n):
    cold = create_study("cold", SPACE, InMemoryStorage(), seed=0)
    cold.optimize(lambda t: bowl(t.params), max_trials=n)
    return [dict(t.params) for t in cold.trials]


def test_related_sources_keep_the_portfolio_and_sobol_points_complete_the_design():
    store = InMemoryStorage()
    sources = _sources(store, shuffled=False)
    data = [load_source(s, SPACE, (Direction.MINIMIZE,)) for s in sources]
    portfolio = greedy_portfolio(data, portfolio_size(data, 5))
    sampler = TransferSampler(sources, "zero_shot", seed=0, raw_samples=64)
    study = create_study("new", SPACE, store, sampler=sampler, seed=0)
    study.optimize(lambda t: bowl(t.params), max_trials=6)
    params = [dict(t.params) for t in study.trials]
    k = len(portfolio)
    assert params[:k] == portfolio
    assert params[k:5] == _cold_sobol(5)[: 5 - k]  # the cold sampler's first points
    assert params[5] not in _cold_sobol(6)  # then the model


@pytest.mark.parametrize(("shuffled", "portfolio_next"), [(False, True), (True, False)])
def test_observations_that_contradict_shuffled_sources_return_the_design_to_sobol_points(
    shuffled, portfolio_next
):
    store = InMemoryStorage()
    sources = _sources(store, shuffled)
    data = [load_source(s, SPACE, (Direction.MINIMIZE,)) for s in sources]
    portfolio = greedy_portfolio(data, portfolio_size(data, 5))
    study = create_study("new", SPACE, store, warm_start=KnowledgeBase(store), seed=0)
    assert isinstance(study.sampler, TransferSampler)
    assert study.sampler.mode is WarmStartMode.ZERO_SHOT
    for c in ({"x": 0.9, "y": 0.1}, {"x": 0.7, "y": 0.3}, {"x": 0.5, "y": 0.5}):
        study.tell(study.ask(c), bowl(c))  # three observations: enough to rank
    following = study.ask().params
    assert (following in portfolio) is portfolio_next
    assert (following in _cold_sobol(5)) is not portfolio_next
