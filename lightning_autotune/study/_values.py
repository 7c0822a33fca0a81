"""The objective value(s) a trial is told: one float per objective, or a clear error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["objective_values"]


def objective_values(value: Any, study: Study, number: int) -> tuple[float, ...]:
    """One float per objective from a number, a 0-d array/tensor or a sequence of them."""
    n = len(study.directions)
    raw: list[Any]
    if isinstance(value, (str, bytes, Mapping)):
        raw = [value]
    elif getattr(value, "ndim", None) == 0 or not isinstance(value, Iterable):
        raw = [value]  # a number, or a 0-d numpy array / torch tensor
    else:
        raw = list(value)
    try:
        values = tuple(float(v) for v in raw)
    except (TypeError, ValueError):
        values = None
    if values is None or any(isinstance(v, (bool, str, bytes)) for v in raw):
        raise ConfigError(
            f"trial {number}: the objective value must be a number (or {n} numbers, one per "
            f"objective), got {value!r}; return e.g. float(loss)"
        )
    if len(values) != n:
        raise ConfigError(
            f"study {study.name!r} has {n} objective(s) but trial {number} was told "
            f"{len(values)} value(s): {list(values)}; return one value per direction"
        )
    return values
