"""parse_duration: seconds or 'HH:MM:SS'."""

from __future__ import annotations

import pytest

from lightning_autotune._time import parse_duration
from lightning_autotune.exceptions import ConfigError


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        (90, 90.0),
        (0.5, 0.5),
        ("24:00:00", 86400.0),
        ("01:30:00", 5400.0),
        ("0:00:05", 5.0),
        (" 00:01:02.5 ", 62.5),
        ("100:00:00", 360000.0),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("1h", r"time_budget must be a number of seconds or 'HH:MM:SS' \(e.g. '24:00:00'\), got"),
        ("00:60:00", r"got '00:60:00'"),
        ("10:00", r"got '10:00'"),
        ([60], r"got \[60\]"),
        (True, r"time_budget must be a number of seconds or 'HH:MM:SS' .*, got True"),
        (0, r"time_budget must be positive, got 0; give a number of seconds > 0 or 'HH:MM:SS'"),
        (-3, r"time_budget must be positive, got -3"),
        ("00:00:00", r"time_budget must be positive, got '00:00:00'"),
        (float("nan"), r"time_budget must be positive, got nan"),
    ],
)
def test_parse_duration_refuses(value, match):
    with pytest.raises(ConfigError, match=match):
        parse_duration(value)


def test_field_name_in_message():
    with pytest.raises(ConfigError, match=r"^timeout must be"):
        parse_duration("soon", "timeout")
