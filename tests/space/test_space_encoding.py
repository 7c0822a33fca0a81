"""The rows a space remembers between `encode` calls: same results, bounded, never pickled."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space import Categorical, Float, Int, SearchSpace, _encoding


def _space() -> SearchSpace:
    return SearchSpace(
        {
            "opt": Categorical(["adam", "sgd"]),
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
            "layers": Int(1, 4),
        }
    )


def test_remembered_rows_equal_fresh_encodings():
    space = _space()
    configs = space.sample(50, seed=0)
    first = space.encode(configs)
    again = space.encode(configs[::-1])[::-1]
    fresh = SearchSpace.from_dict(space.to_dict()).encode(configs)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(again, fresh)
    assert len(space._encoded_rows) == 50


def test_changing_a_returned_array_does_not_change_the_next_encoding():
    space = _space()
    config = {"opt": "sgd", "lr": 0.01, "momentum": 0.9, "layers": 2}
    X = space.encode([config])
    want = X.copy()
    X[:] = -1.0
    np.testing.assert_array_equal(space.encode([config]), want)


def test_values_equal_across_types_are_told_apart():
    space = SearchSpace({"flag": Categorical([1, True])})
    np.testing.assert_array_equal(space.encode([{"flag": 1}, {"flag": True}]), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(space.encode([{"flag": True}]), [[0, 1]])


def test_invalid_configs_are_refused_every_time():
    space = _space()
    bad = {"opt": "sgd", "lr": 0.01, "layers": 2}  # momentum missing
    for _ in range(2):
        with pytest.raises(SearchSpaceError, match=r"'momentum' is active .* but missing"):
            space.encode([bad])
    assert not space._encoded_rows


def test_an_unhashable_value_gets_the_spaces_error_not_a_hashing_error():
    space = _space()
    bad = {"opt": "adam", "lr": [0.01], "layers": 2}
    with pytest.raises(SearchSpaceError, match=r"'lr': value \[0.01\] is not allowed"):
        space.encode([bad])
    assert not space._encoded_rows


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(_encoding, "MEMO_SIZE", 10)
    space = _space()
    configs = space.sample(35, seed=1)
    X = space.encode(configs)
    assert len(space._encoded_rows) <= 10
    np.testing.assert_array_equal(X, SearchSpace.from_dict(space.to_dict()).encode(configs))


def test_pickles_leave_the_memory_behind():
    space = _space()
    space.encode(space.sample(20, seed=2))
    clone = pickle.loads(pickle.dumps(space))
    assert clone == space
    assert not clone._encoded_rows
    assert "_encoded_rows" in space.__dict__  # the original keeps its own
