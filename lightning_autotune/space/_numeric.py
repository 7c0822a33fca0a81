"""Numeric parameters: `Float` and `Int`, on a linear or log scale, optionally on a grid."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space._base import _Base, _fail

__all__ = ["Float", "Int"]


@dataclass(frozen=True)
class _Numeric(_Base):
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def _check_numeric(self, name: str) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise _fail(
                name,
                f"low and high must be finite (got low={self.low}, high={self.high})",
                "give finite bounds",
            )
        if self.low >= self.high:
            raise _fail(
                name,
                f"low must be < high (got low={self.low}, high={self.high})",
                "swap the bounds or widen the range; use Categorical([value]) for a constant",
            )
        if self.log and self.low <= 0:
            raise _fail(
                name,
                f"a log scale needs low > 0 (got low={self.low})",
                "raise low above 0 or set log=False",
            )
        if self.step is not None:
            check_number(
                self.step,
                f"parameter {name!r}: step",
                low=0.0,
                strict_low=True,
                hint="give a positive step, or none for a continuous range",
                error=SearchSpaceError,
            )
            if self.log and not isinstance(self, Int):
                raise _fail(
                    name,
                    f"step and log=True cannot be combined (got step={self.step}, log=True)",
                    "drop step for a log scale, or set log=False to keep the grid",
                )
            # Through n_levels, so a step equal to the range up to rounding is accepted.
            if (self.n_levels or 0) < 2:
                raise _fail(
                    name,
                    f"step must not exceed high - low (got step={self.step} for the range "
                    f"[{self.low}, {self.high}] of width {self.high - self.low})",
                    "use a smaller step or a wider range",
                )

    @property
    def n_levels(self) -> int | None:
        """Number of distinct values on a grid, or None for a continuous parameter."""
        if self.step is None:
            return None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    def clip(self, value: float) -> float:
        """The legal value nearest to `value`: clamped to [low, high], snapped to the grid.

        Example:
            >>> Float(0.0, 1.0, step=0.25).clip(0.3)
            0.25
        """
        v = min(max(float(value), self.low), self.high)
        if self.step is not None and not self.log:
            k = min(max(round((v - self.low) / self.step), 0), (self.n_levels or 1) - 1)
            v = self.low + k * self.step
        return v

    def to_unit(self, value: float) -> float:
        """Map a value in [low, high] to [0, 1]. Grid values map to the centre of their cell."""
        levels = self.n_levels
        if levels is not None and not self.log:
            index = round((value - self.low) / self.step)  # type: ignore[operator]
            return (index + 0.5) / levels
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(value) - lo) / (hi - lo)
        return (value - self.low) / (self.high - self.low)

    def _from_unit_float(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        levels = self.n_levels
        if levels is not None and not self.log:
            index = min(int(u * levels), levels - 1)
            return min(self.low + index * self.step, self.high)  # type: ignore[operator]
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return min(max(math.exp(lo + u * (hi - lo)), self.low), self.high)
        return min(max(self.low + u * (self.high - self.low), self.low), self.high)


@dataclass(frozen=True)
class Float(_Numeric):
    """A real number in [low, high], on a linear or log scale, optionally on a grid of `step`.

    Example:
        >>> Float(1e-5, 1e-2, log=True).from_unit(0.0)
        1e-05
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        for label in ("low", "high"):
            v = getattr(self, label)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise SearchSpaceError(
                    f"Float {label} must be a number, got {v!r} ({type(v).__name__}); give a "
                    "number such as 0.001"
                )
            object.__setattr__(self, label, float(v))

    def check(self, name: str) -> None:
        """Raise `SearchSpaceError` if the definition is malformed."""
        self._check_numeric(name)

    def contains(self, value: Any) -> bool:
        """True if `value` is a legal value of this parameter."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        v = float(value)
        if not (self.low <= v <= self.high):
            return False
        if self.step is not None:
            k = (v - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def from_unit(self, u: float) -> float:
        """Map u in [0, 1] back to a value (snapped to the grid when `step` is set)."""
        return self._from_unit_float(u)

    def to_dict(self) -> dict[str, Any]:
        """This parameter in the `SearchSpace.from_dict` format."""
        d: dict[str, Any] = {"type": "continuous", "min": self.low, "max": self.high}
        if self.log:
            d["scale"] = "log"
        if self.step is not None:
            d["step"] = self.step
        if self.when:
            d["when"] = self._when_dict()
        return d


@dataclass(frozen=True)
class Int(_Numeric):
    """An integer in [low, high], on a linear or log scale, optionally on a grid of `step`.

    Example:
        >>> Int(1, 8).from_unit(0.99)
        8
    """

    step: float | None = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step is None:
            object.__setattr__(self, "step", 1)
        # numpy integers are integers too; store plain ints so the value is JSON-friendly.
        for label in ("low", "high", "step"):
            v = getattr(self, label)
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                object.__setattr__(self, label, int(v))

    def check(self, name: str) -> None:
        """Raise `SearchSpaceError` if the definition is malformed."""
        for label, v in (("low", self.low), ("high", self.high), ("step", self.step)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise _fail(
                    name,
                    f"an Int needs integer {label} (got {label}={v!r})",
                    "use integers, or Float for real values",
                )
        self._check_numeric(name)
        if self.log and self.step != 1:
            raise _fail(
                name,
                f"an Int with log=True needs step=1 (got step={self.step})",
                "drop step for a log scale, or set log=False to keep the grid",
            )

    @property
    def n_levels(self) -> int:
        """Number of integers on the grid `low, low + step, ..., <= high`."""
        return (int(self.high) - int(self.low)) // int(self.step or 1) + 1

    def contains(self, value: Any) -> bool:
        """True if `value` is a legal value of this parameter."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        v = int(value)
        return self.low <= v <= self.high and (v - int(self.low)) % int(self.step or 1) == 0

    def clip(self, value: float) -> int:
        """The legal integer nearest to `value`: clamped to [low, high], snapped to the grid.

        Example:
            >>> Int(1, 8).clip(11.7)
            8
        """
        return round(super().clip(value))

    def to_unit(self, value: float) -> float:
        """Map an integer to [0, 1] (log-scaled when `log`; see `from_unit`)."""
        if self.log:
            # Each integer owns the log-interval between its half-way neighbours.
            lo, hi = math.log(self.low - 0.5 + 1e-9), math.log(self.high + 0.5)
            return (math.log(value) - lo) / (hi - lo)
        return super().to_unit(value)

    def from_unit(self, u: float) -> int:
        """Map u in [0, 1] to an integer.

        On a linear scale every value owns an equal share of [0, 1]; on a log scale each owns
        the stretch between its half-way neighbours in log space (small values get more).
        """
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low - 0.5 + 1e-9), math.log(self.high + 0.5)
            value = round(math.exp(lo + u * (hi - lo)))
            return int(min(max(value, self.low), self.high))
        return round(self._from_unit_float(u))

    def to_dict(self) -> dict[str, Any]:
        """This parameter in the `SearchSpace.from_dict` format."""
        d: dict[str, Any] = {"type": "integer", "min": int(self.low), "max": int(self.high)}
        if self.log:
            d["scale"] = "log"
        if self.step not in (None, 1):
            d["step"] = self.step
        if self.when:
            d["when"] = self._when_dict()
        return d
