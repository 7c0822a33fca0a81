from __future__ import annotations

import pytest

from lightning_autotune import pruners, samplers
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.registry import PRUNERS, SAMPLERS, make_pruner, make_sampler


def test_every_sampler_and_pruner_class_has_a_name():
    def concrete(module, base):
        found = (getattr(module, n) for n in module.__all__)
        return {c for c in found if isinstance(c, type) and issubclass(c, base) and c is not base}

    sampler_classes = concrete(samplers, samplers.Sampler)
    pruner_classes = concrete(pruners, pruners.Pruner)
    assert set(SAMPLERS.values()) == sampler_classes
    assert set(PRUNERS.values()) == pruner_classes


def test_the_tables_are_read_only():
    with pytest.raises(TypeError):
        SAMPLERS["grid"] = samplers.RandomSampler  # type: ignore[index]
    with pytest.raises(TypeError):
        PRUNERS["mine"] = pruners.NopPruner  # type: ignore[index]


def test_names_build_their_classes_with_options():
    assert make_sampler("sobol", seed=2).seed == 2
    assert isinstance(make_sampler("Random"), samplers.RandomSampler)
    median = make_pruner({"type": "median", "n_startup_trials": 4})
    assert isinstance(median, pruners.MedianPruner) and median.n_startup_trials == 4
    assert isinstance(make_pruner("successive-halving"), pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("none"), pruners.NopPruner)


def test_any_builds_its_members_from_names():
    combined = make_pruner({"type": "any", "pruners": ["divergence", {"type": "median"}]})
    assert [type(p) for p in combined.pruners] == [pruners.DivergencePruner, pruners.MedianPruner]


def test_unknown_names_and_options_are_refused_with_the_known_ones():
    with pytest.raises(
        ConfigError,
        match=r"sampler must be one of \['bayesian', 'cmaes', 'evolutionary', 'multifidelity', "
        r"'multiobjective', 'nsga2', 'random', 'sobol', 'transfer'\], "
        r"got 'grid'",
    ):
        make_sampler("grid")
    with pytest.raises(ConfigError, match=r"pruner must be one of \['adaptive_threshold', 'any',"):
        make_pruner("asha")
    with pytest.raises(ConfigError, match=r"a mapping needs a 'type' key"):
        make_pruner({"n_startup_trials": 2})
    with pytest.raises(
        ConfigError,
        match=r"pruner 'median' \(MedianPruner\) does not take the option\(s\) \['patience'\]",
    ):
        make_pruner("median", patience=3)
