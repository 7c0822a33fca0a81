"""Uniform sampling: every value reachable, frequencies as uniform as chance allows."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace


def _chi_square(counts: Counter, categories: list, n: int) -> float:
    expected = n / len(categories)
    return sum((counts[c] - expected) ** 2 / expected for c in categories)


def test_int_log_sampling_covers_both_ends():
    space = SearchSpace({"w": Int(1, 8, log=True)})
    values = Counter(c["w"] for c in space.sample(4000, seed=0))
    assert set(values) == set(range(1, 9))
    # Log-uniform: small values are more frequent than large ones, each end is reachable.
    assert values[1] > values[8] > 0


def test_int_log_sampling_is_log_uniform():
    space = SearchSpace({"w": Int(10, 10000, log=True)})
    values = np.array([c["w"] for c in space.sample(4000, seed=1)])
    assert values.min() >= 10 and values.max() <= 10000
    # Half the mass lies below the geometric mean (about 316).
    assert abs(np.mean(values < math.sqrt(10 * 10000)) - 0.5) < 0.05


def test_int_linear_and_step_sampling_are_uniform():
    space = SearchSpace({"n": Int(1, 5), "s": Int(0, 20, step=5)})
    configs = space.sample(5000, seed=2)
    n = Counter(c["n"] for c in configs)
    s = Counter(c["s"] for c in configs)
    # 4 degrees of freedom: chi-square above 25 happens with probability < 1e-4.
    assert _chi_square(n, [1, 2, 3, 4, 5], 5000) < 25
    assert _chi_square(s, [0, 5, 10, 15, 20], 5000) < 25


def test_float_grid_sampling_is_uniform_and_on_grid():
    space = SearchSpace({"d": Float(0.0, 0.5, step=0.1)})
    values = Counter(round(c["d"], 9) for c in space.sample(6000, seed=3))
    assert sorted(values) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert _chi_square(values, sorted(values), 6000) < 28  # 5 dof, p < 1e-4


def test_float_log_sampling_is_uniform_in_log():
    space = SearchSpace({"lr": Float(1e-5, 1e-1, log=True)})
    lr = np.array([c["lr"] for c in space.sample(4000, seed=4)])
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1
    assert abs(np.mean(lr < 1e-3) - 0.5) < 0.05


def test_categorical_frequencies_are_uniform():
    choices = ["a", "b", None, True, 1, 2.5]
    space = SearchSpace({"c": Categorical(choices)})
    counts = Counter(repr(c["c"]) for c in space.sample(6000, seed=5))
    assert set(counts) == {repr(c) for c in choices}
    assert _chi_square(counts, [repr(c) for c in choices], 6000) < 28  # 5 dof, p < 1e-4


def test_conditional_choices_are_uniform_among_the_allowed():
    space = SearchSpace(
        {
            "model": Categorical(["resnet", "transformer"]),
            "layers": Conditional("model", {"resnet": [3, 5, 7], "transformer": [5, 12]}),
        }
    )
    configs = space.sample(6000, seed=6)
    resnet = Counter(c["layers"] for c in configs if c["model"] == "resnet")
    transformer = Counter(c["layers"] for c in configs if c["model"] == "transformer")
    assert set(resnet) == {3, 5, 7} and set(transformer) == {5, 12}
    assert _chi_square(resnet, [3, 5, 7], sum(resnet.values())) < 19  # 2 dof, p < 1e-4
    assert _chi_square(transformer, [5, 12], sum(transformer.values())) < 16  # 1 dof


def test_sobol_samples_spread_over_every_choice():
    space = SearchSpace({"c": Categorical(["a", "b", "c", "d"]), "x": Float(0, 1)})
    configs = space.sample_sobol(64, seed=0)
    counts = Counter(c["c"] for c in configs)
    assert set(counts) == {"a", "b", "c", "d"}
    xs = sorted(c["x"] for c in configs)
    # A low-discrepancy set: every eighth of [0, 1] holds 8 points (give or take 3).
    hist, _ = np.histogram(xs, bins=8, range=(0, 1))
    assert hist.min() >= 5 and hist.max() <= 11


def test_seeded_sampling_is_reproducible():
    space = SearchSpace({"x": Float(0, 1), "c": Categorical([1, 2, 3])})
    assert space.sample(5, seed=7) == space.sample(5, seed=7)
    assert space.sample(5, seed=7) != space.sample(5, seed=8)
    assert space.sample_sobol(4, seed=7) == space.sample_sobol(4, seed=7)
    rng = np.random.default_rng(0)
    assert len(space.sample(3, seed=rng)) == 3
