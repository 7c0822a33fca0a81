"""A space dict is parsed once per process: every study opened on it shares one immutable space."""

from __future__ import annotations

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.space import Categorical, Float, SearchSpace, _parsed, _space
from lightning_autotune.study import create_study, load_study

N = 32_768
SPEC = {
    "c": {"type": "categorical", "values": [f"v{i}" for i in range(N)]},
    "x": {"type": "continuous", "min": 0.0, "max": 1.0},
}


@pytest.fixture
def parses(monkeypatch):
    """Counts the parses of a space dict (`parse_spec` calls)."""
    _parsed.clear()
    calls: list[int] = []
    real = _space.parse_spec

    def counted(spec):
        calls.append(len(spec))
        return real(spec)

    monkeypatch.setattr(_space, "parse_spec", counted)
    yield calls
    _parsed.clear()


def test_opening_a_study_twice_parses_its_space_once(tmp_path, parses):
    url = f"sqlite:///{tmp_path / 'big.db'}"
    create_study("big", SPEC, url, sampler=RandomSampler(), seed=0)
    _parsed.clear()  # as in a new process (a worker, a trial process)
    parses.clear()
    first = load_study("big", url, sampler=RandomSampler())
    second = load_study("big", url, sampler=RandomSampler())
    assert first.space is second.space
    assert len(parses) == 1
    assert first.space.validate({"c": f"v{N - 1}", "x": 0.5}) == {"c": f"v{N - 1}", "x": 0.5}


def test_dicts_that_differ_only_in_value_types_are_parsed_apart(parses):
    spaces = [
        SearchSpace.from_dict({"c": {"type": "categorical", "values": [value, "a"]}})
        for value in (1, 1.0, True, 1, "1")
    ]
    assert len(parses) == 4
    assert spaces[0] is spaces[3]
    assert [type(s["c"].choices[0]) for s in spaces] == [int, float, bool, int, str]


def test_the_order_of_parameters_is_part_of_the_key(parses):
    a = SearchSpace.from_dict({"a": SPEC["x"], "b": SPEC["x"]})
    b = SearchSpace.from_dict({"b": SPEC["x"], "a": SPEC["x"]})
    assert a.names == ("a", "b") and b.names == ("b", "a")


def test_dicts_holding_more_than_plain_json_are_parsed_each_time(parses):
    spec = {"lr": Float(1e-4, 1e-1, log=True), "c": {"type": "discrete", "values": (1, 2)}}
    assert SearchSpace.from_dict(spec) == SearchSpace.from_dict(spec)
    assert len(parses) == 2


def test_a_space_is_immutable():
    space = SearchSpace({"c": Categorical(["a", "b"])})
    with pytest.raises(AttributeError, match=r"SearchSpace is immutable.*cannot set 'order'"):
        space.order = ("c",)
    with pytest.raises(AttributeError, match=r"immutable; cannot delete 'constraints'"):
        del space.constraints
    assert space.dim == 2  # derived values are still computed (and remembered) on first use
