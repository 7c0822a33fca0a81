import math

import numpy as np
import pytest

from lightning_autotune._validation import check_fraction, check_int, check_number
from lightning_autotune.exceptions import ConfigError, SearchSpaceError


def test_check_int_accepts_ints_and_numpy_ints():
    assert check_int(3, "n") == 3
    assert check_int(np.int64(5), "n") == 5
    assert type(check_int(np.int64(5), "n")) is int


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "3", None])
def test_check_int_refuses_with_field_rule_and_value(bad):
    with pytest.raises(ConfigError, match=rf"n_workers must be an integer >= 1, got {bad!r}"):
        check_int(bad, "n_workers")


def test_check_int_range_hint_and_error_class():
    with pytest.raises(SearchSpaceError, match=r"k must be an integer in \[0, 3\], got 4; use 3"):
        check_int(4, "k", low=0, high=3, hint="use 3", error=SearchSpaceError)


def test_check_number_bounds():
    assert check_number(0, "x", low=0.0) == 0.0
    with pytest.raises(ConfigError, match=r"x must be a finite number > 0, got 0"):
        check_number(0, "x", low=0.0, strict_low=True)
    with pytest.raises(ConfigError, match=r"x must be a finite number, got nan"):
        check_number(math.nan, "x")
    with pytest.raises(ConfigError, match=r"q must be a number >= 0 and <= 1, got 1.5"):
        check_number(1.5, "q", low=0.0, high=1.0)


@pytest.mark.parametrize("bad", [0, 0.0, 1.01, -0.5, "0.5", math.inf])
def test_check_fraction(bad):
    assert check_fraction(1, "f") == 1.0
    with pytest.raises(ConfigError, match=r"f must be a number > 0 and <= 1"):
        check_fraction(bad, "f")
