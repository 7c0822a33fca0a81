"""Long choice lists are checked in linear time, with the same duplicate rule."""

from __future__ import annotations

import pytest

from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space import SearchSpace

N = 50_000


def test_fifty_thousand_choices_are_accepted_and_round_trip():
    values = [f"v{i}" for i in range(N)]
    space = SearchSpace.from_dict({"c": {"type": "categorical", "values": values}})
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert space.validate({"c": f"v{N - 1}"}) == {"c": f"v{N - 1}"}


def test_a_duplicate_at_the_end_of_a_long_list_is_found():
    values = [*range(N), 7.0]
    with pytest.raises(SearchSpaceError, match=rf"\({N + 1} values\) repeats 7.0"):
        SearchSpace.from_dict({"c": {"type": "categorical", "values": values}})


@pytest.mark.parametrize(
    ("values", "ok"),
    [([True, 1], True), ([False, 0, None], True), ([1, 1.0], False), ([True, True], False)],
)
def test_the_duplicate_rule_keeps_booleans_apart_from_numbers(values, ok):
    spec = {"c": {"type": "categorical", "values": values}}
    if ok:
        assert SearchSpace.from_dict(spec).to_dict()["c"]["values"] == values
    else:
        with pytest.raises(SearchSpaceError, match=r"repeats"):
            SearchSpace.from_dict(spec)
