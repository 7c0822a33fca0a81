"""Property tests: sampling, validation and the unit-cube encoding on random valid spaces."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightning_autotune.space import (
    Categorical,
    ColumnKind,
    Conditional,
    Float,
    Int,
    Param,
    SearchSpace,
)

# A longer search for bugs: AUTOTUNE_HYPOTHESIS_EXAMPLES=2000 pytest tests/space
SETTINGS = settings(
    max_examples=int(os.environ.get("AUTOTUNE_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = st.one_of(
    st.text(max_size=4),
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)


def _same(a: Any, b: Any) -> bool:
    # The package's rule, restated here so a change to it is caught: True is not 1, 1 is 1.0.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(_same(v, o) for o in out):
            out.append(v)
    return out


@st.composite
def numeric_params(draw: st.DrawFn) -> Param:
    kind = draw(st.sampled_from(["float", "float_log", "float_step", "int", "int_log", "int_step"]))
    if kind == "float":
        low = draw(st.floats(-1e3, 1e3))
        return Float(low, low + draw(st.floats(1e-3, 1e3)))
    if kind == "float_log":
        low = draw(st.floats(1e-6, 10.0))
        return Float(low, low * draw(st.floats(1.01, 1e6)), log=True)
    if kind == "float_step":
        low = draw(st.floats(-10.0, 10.0))
        step = draw(st.floats(1e-3, 2.0))
        width = step * draw(st.integers(1, 20)) + draw(st.floats(0.0, 0.99)) * step
        return Float(low, low + width, step=step)
    if kind == "int":
        low = draw(st.integers(-50, 50))
        return Int(low, low + draw(st.integers(1, 100)))
    if kind == "int_log":
        low = draw(st.integers(1, 50))
        return Int(low, low + draw(st.integers(1, 2000)), log=True)
    low = draw(st.integers(-20, 20))
    step = draw(st.integers(1, 5))
    return Int(
        low, low + step * draw(st.integers(1, 10)) + draw(st.integers(0, step - 1)), step=step
    )


def _values_of(p: Param) -> list[Any]:
    """Some values a parent can take (for conditions on it)."""
    if isinstance(p, Categorical):
        return list(p.choices)
    if isinstance(p, Conditional):
        return list(p.all_choices)
    assert isinstance(p, Int)
    return list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))[:6]


@st.composite
def spaces(draw: st.DrawFn) -> SearchSpace:
    params: dict[str, Param] = {}
    for i in range(draw(st.integers(1, 6))):
        name = f"p{i}"
        discrete_parents = [
            n for n, p in params.items() if not isinstance(p, Float) and _values_of(p)
        ]
        kind = draw(
            st.sampled_from(
                ["numeric", "categorical", "conditional", "when"]
                if discrete_parents
                else ["numeric", "categorical"]
            )
        )
        if kind == "numeric":
            params[name] = draw(numeric_params())
        elif kind == "categorical":
            choices = _unique(draw(st.lists(scalars, min_size=1, max_size=5)))
            params[name] = Categorical(choices)
        elif kind == "conditional":
            parent = draw(st.sampled_from(discrete_parents))
            keys = _unique(
                draw(st.lists(st.sampled_from(_values_of(params[parent])), min_size=1, max_size=4))
            )
            keys = [k for k in keys if k is None or isinstance(k, (str, int, float))]
            if not keys:
                params[name] = Categorical(["only"])
                continue
            mapping = {k: _unique(draw(st.lists(scalars, min_size=1, max_size=4))) for k in keys}
            params[name] = Conditional(parent, mapping)
        else:
            parent = draw(st.sampled_from(discrete_parents))
            values = _unique(
                draw(st.lists(st.sampled_from(_values_of(params[parent])), min_size=1, max_size=3))
            )
            base = draw(st.one_of(numeric_params(), st.just(Categorical(["x", None, 3]))))
            kwargs = (
                {k: getattr(base, k) for k in ("low", "high", "log", "step")}
                if not isinstance(base, Categorical)
                else {"choices": base.choices}
            )
            params[name] = type(base)(**kwargs, when={parent: values})
    return SearchSpace(params)


@st.composite
def space_and_configs(draw: st.DrawFn) -> tuple[SearchSpace, list[dict[str, Any]]]:
    """A space and a few valid configs drawn directly from each active parameter's domain."""
    space = draw(spaces())
    configs = []
    for _ in range(draw(st.integers(1, 4))):
        config: dict[str, Any] = {}
        for name in space.order:
            p = space[name]
            if not p.is_active(config):
                continue
            if isinstance(p, Categorical):
                config[name] = draw(st.sampled_from(p.choices))
            elif isinstance(p, Conditional):
                config[name] = draw(st.sampled_from(p.choices_for(config)))
            elif isinstance(p, Int):
                k = draw(st.integers(0, p.n_levels - 1))
                config[name] = int(p.low) + k * int(p.step or 1)
            elif p.step is not None:
                k = draw(st.integers(0, p.n_levels - 1))  # type: ignore[operator]
                config[name] = min(p.low + k * p.step, p.high)
            else:
                config[name] = draw(st.floats(p.low, p.high))
        configs.append({k: config[k] for k in space.names if k in config})
    return space, configs


def _assert_same_config(space: SearchSpace, got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for name, w in want.items():
        g = got[name]
        p = space[name]
        if isinstance(p, Float):
            assert isinstance(g, float)
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9 * (p.high - p.low)), (name, g, w)
        else:
            assert type(g) is type(w) and g == w, (name, g, w)


def _assert_valid(space: SearchSpace, configs: list[dict[str, Any]]) -> None:
    for c in configs:
        assert space.validate(c) == c
        assert set(c) == set(space.active_names(c))
        for name, p in space.items():
            if isinstance(p, Int):
                assert name not in c or type(c[name]) is int
            if isinstance(p, Float):
                assert name not in c or type(c[name]) is float


@SETTINGS
@given(spaces(), st.integers(0, 2**32 - 1))
def test_uniform_samples_are_valid_and_respect_conditions(space, seed):
    configs = space.sample(8, seed=seed)
    assert len(configs) == 8
    _assert_valid(space, configs)
    assert space.sample(8, seed=seed) == configs


@SETTINGS
@given(spaces(), st.integers(0, 2**32 - 1))
def test_sobol_samples_are_valid(space, seed):
    configs = space.sample_sobol(5, seed=seed)
    assert len(configs) == 5
    _assert_valid(space, configs)


@SETTINGS
@given(spaces(), st.integers(0, 2**32 - 1))
def test_sampled_configs_round_trip_through_the_cube(space, seed):
    configs = space.sample(6, seed=seed)
    X = space.encode(configs)
    assert X.shape == (6, space.dim)
    _check_encoding(space, configs, X)
    decoded = space.decode(X)
    for got, want in zip(decoded, configs, strict=True):
        _assert_same_config(space, got, want)


@SETTINGS
@given(space_and_configs())
def test_every_valid_config_round_trips(space_configs):
    space, configs = space_configs
    for c in configs:
        assert space.validate(c) == c
    X = space.encode(configs)
    _check_encoding(space, configs, X)
    for got, want in zip(space.decode(X), configs, strict=True):
        _assert_same_config(space, got, want)


def _check_encoding(space: SearchSpace, configs: list[dict[str, Any]], X: np.ndarray) -> None:
    assert X.dtype == np.float64
    assert np.all((X >= 0.0) & (X <= 1.0))
    for row, config in zip(X, configs, strict=True):
        active = set(space.active_names(config))
        for j, col in enumerate(space.columns):
            if col.param in active:
                if col.kind is ColumnKind.ONE_HOT:
                    assert row[j] in (0.0, 1.0)
                continue
            # Inactive parameters encode to a constant fill: 0.5, or all-zero one-hot columns.
            assert row[j] == (0.0 if col.kind is ColumnKind.ONE_HOT else 0.5)
        for name in active:
            cols = [j for j, col in enumerate(space.columns) if col.param == name]
            if space.columns[cols[0]].kind is ColumnKind.ONE_HOT:
                assert row[cols].sum() == 1.0


@SETTINGS
@given(spaces(), st.integers(0, 2**32 - 1))
def test_decode_of_any_point_is_valid(space, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((4, space.dim))
    X[0] = 0.0
    X[1] = 1.0
    configs = space.decode(X)
    _assert_valid(space, configs)
    # Out-of-cube points are clipped, not refused.
    _assert_valid(space, space.decode(X * 3 - 1))


@SETTINGS
@given(spaces())
def test_to_dict_json_and_yaml_round_trip(space):
    assert SearchSpace.from_dict(space.to_dict()) == space
    # A store keeps to_dict() as JSON, which turns mapping keys into strings.
    stored = json.loads(json.dumps(space.to_dict()))
    assert SearchSpace.from_dict(stored) == space
    again = SearchSpace.from_yaml(space.to_yaml())
    assert again == space
    assert again.names == space.names


def test_decode_refuses_wrong_shape_and_nan():
    from lightning_autotune.exceptions import ConfigError

    space = SearchSpace({"x": Float(0, 1), "c": Categorical(["a", "b"])})
    with pytest.raises(ConfigError, match=r"decode needs an n x 3 array .* got shape \(1, 2\)"):
        space.decode(np.zeros((1, 2)))
    with pytest.raises(ConfigError, match=r"NaN or infinite entries"):
        space.decode(np.array([[np.nan, 0.0, 1.0]]))
    assert space.decode(np.array([0.25, 0.0, 1.0])) == [{"x": 0.25, "c": "b"}]
