"""Parsing of time budgets: seconds or 'HH:MM:SS'."""

from __future__ import annotations

import re

from lightning_autotune.exceptions import ConfigError

__all__ = ["parse_duration"]

_HMS = re.compile(r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)$")


def parse_duration(value: float | str | None, field: str = "time_budget") -> float | None:
    """Seconds from a number or an 'HH:MM:SS' string; None stays None.

    Args:
        value: Seconds (int or float), 'HH:MM:SS' (hours may exceed 24, seconds may have a
            fraction), or None for no limit.
        field: The argument's name, used in error messages.

    Returns:
        The duration in seconds, or None.

    Raises:
        ConfigError: The value is not a duration, or not positive.

    Example:
        >>> parse_duration("01:30:00")
        5400.0
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(
            f"{field} must be a number of seconds or 'HH:MM:SS' (e.g. '24:00:00'), got {value!r}"
        )
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _HMS.match(value.strip())):
        seconds = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    else:
        raise ConfigError(
            f"{field} must be a number of seconds or 'HH:MM:SS' (e.g. '24:00:00'), got {value!r}"
        )
    if not seconds > 0:
        raise ConfigError(
            f"{field} must be positive, got {value!r}; give a number of seconds > 0 or "
            "'HH:MM:SS' such as '01:00:00'"
        )
    return seconds
