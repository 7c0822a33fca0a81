"""Public helpers that other packages use instead of the space's internals."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (Float(0.0, 1.0), 1.7, 1.0),
        (Float(0.0, 1.0), -3.0, 0.0),
        (Float(0.0, 1.0, step=0.25), 0.3, 0.25),
        (Float(0.0, 1.0, step=0.25), 0.9, 1.0),
        (Float(1e-4, 1e-1, log=True), 0.5, 0.1),
        (Int(1, 8), 11.7, 8),
        (Int(1, 8), 3.4, 3),
        (Int(0, 10, step=5), 6.0, 5),
        (Int(1, 64, log=True), 0.0, 1),
    ],
)
def test_clip_returns_the_nearest_legal_value(param: Float | Int, value: float, expected) -> None:
    clipped = param.clip(value)
    assert clipped == pytest.approx(expected)
    assert param.contains(clipped)
    assert isinstance(clipped, int) == isinstance(param, Int)


def test_conditional_contains_any_of_its_choices() -> None:
    p = Conditional("opt", {"adam": ["a", "b"], "sgd": ["c"]})
    assert p.contains("c") and p.contains("a")
    assert not p.contains("z")


def test_column_span_names_each_parameters_columns() -> None:
    space = SearchSpace(
        {"opt": Categorical(["adam", "sgd", "rmsprop"]), "lr": Float(1e-4, 1e-1, log=True)}
    )
    assert space.column_span("opt") == (0, 3)
    assert space.column_span("lr") == (3, 4)
    row = space.encode([{"opt": "sgd", "lr": 1e-2}])[0]
    start, stop = space.column_span("opt")
    assert np.argmax(row[start:stop]) == 1
    with pytest.raises(KeyError, match="no parameter 'momentum' in the search space"):
        space.column_span("momentum")


def test_sample_count_is_checked() -> None:
    space = SearchSpace({"x": Float(0, 1)})
    with pytest.raises(ValueError, match=r"number of samples n must be an integer >= 0, got -1"):
        space.sample(-1)


def test_the_repr_lists_the_reserved_schedule_names():
    from lightning_autotune.callbacks import SCHEDULE_PARAMS as from_callbacks
    from lightning_autotune.space import SCHEDULE_PARAMS

    space = SearchSpace({"lr": Float(1e-4, 1e-1), "switch_at": Float(0.2, 0.8)})
    assert space.schedule_names == ("switch_at",)
    assert repr(space).endswith("; schedule parameters: ['switch_at'])")
    plain = SearchSpace({"lr": Float(1e-4, 1e-1)})
    assert plain.schedule_names == () and "schedule" not in repr(plain)
    assert from_callbacks is SCHEDULE_PARAMS
