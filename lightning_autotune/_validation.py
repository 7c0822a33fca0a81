"""Argument checks shared by every module, so that one rule reads the same everywhere.

Each check returns the value it accepted (converted where that is safe) and raises the given
error class, `ConfigError` by default, with a message that names the field, the rule, the value
and, where one is given, the fix.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from lightning_autotune.exceptions import ConfigError

__all__ = ["check_fraction", "check_int", "check_number"]


def _fail(error: type[Exception], field: str, rule: str, value: Any, hint: str) -> Exception:
    return error(f"{field} must be {rule}, got {value!r}" + (f"; {hint}" if hint else ""))


def check_int(
    value: Any,
    field: str,
    *,
    low: int = 1,
    high: int | None = None,
    hint: str = "",
    error: type[Exception] = ConfigError,
) -> int:
    """Return `value` if it is an integer in [low, high] (a bool is not an integer).

    NumPy integers are accepted and returned as `int`.

    Args:
        value: What the caller passed.
        field: The argument's name as the user wrote it, e.g. 'n_workers'.
        low: Smallest allowed value.
        high: Largest allowed value (None: no upper bound).
        hint: How to fix it, appended to the message.
        error: The exception class to raise.

    Raises:
        ConfigError (or `error`): `value` is not an integer in range.

    Example:
        >>> check_int(4, "n_workers")
        4
    """
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or value < low or (high is not None and value > high):
        rule = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise _fail(error, field, rule, value, hint)
    return int(value)


def check_number(
    value: Any,
    field: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    strict_low: bool = False,
    hint: str = "",
    error: type[Exception] = ConfigError,
) -> float:
    """Return `value` as a float if it is a finite real number in its range.

    Args:
        value: What the caller passed.
        field: The argument's name as the user wrote it.
        low: Lower bound; excluded when `strict_low`, else included.
        high: Upper bound (included).
        strict_low: Whether `low` itself is refused (use for "> 0").
        hint: How to fix it, appended to the message.
        error: The exception class to raise.

    Raises:
        ConfigError (or `error`): `value` is not a finite number in range.

    Example:
        >>> check_number(0.5, "quantile", low=0.0, high=1.0)
        0.5
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > low if strict_low else v >= low) and v <= high
    if not ok:
        lower = f"> {low:g}" if strict_low else f">= {low:g}"
        if high == math.inf:
            rule = f"a finite number {lower}" if low != -math.inf else "a finite number"
        else:
            rule = f"a number {lower} and <= {high:g}"
        raise _fail(error, field, rule, value, hint)
    return float(value)


def check_fraction(
    value: Any, field: str, *, hint: str = "", error: type[Exception] = ConfigError
) -> float:
    """Return `value` as a float if it lies in (0, 1], e.g. a share of training or of the data.

    Raises:
        ConfigError (or `error`): `value` is not in (0, 1].

    Example:
        >>> check_fraction(0.25, "data_fraction")
        0.25
    """
    return check_number(value, field, low=0.0, high=1.0, strict_low=True, hint=hint, error=error)
