"""Parameter kinds of a search space: Float, Int, Categorical and Conditional.

A parameter knows its own domain: how to check a value, how to map a value to the unit interval
(or to one-hot columns for choices) and back. It does not know its name; the `SearchSpace` that
holds it does, and passes the name in when it reports an error.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lightning_autotune.exceptions import SearchSpaceError

__all__ = ["Categorical", "Conditional", "Float", "Int", "Param", "Value"]

Value: TypeAlias = str | int | float | bool | None
_JSON_SCALARS = (str, int, float, bool, type(None))


def _fail(name: str, rule: str, fix: str) -> SearchSpaceError:
    return SearchSpaceError(f"parameter {name!r}: {rule}; {fix}")


def same_value(a: Any, b: Any) -> bool:
    """Equality of choice values that keeps booleans apart from numbers (True is not 1).

    1 and 1.0 are the same value (they are equal after a JSON round trip of the number).
    """
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _among(value: Any, values: Sequence[Any]) -> bool:
    return any(same_value(value, v) for v in values)


def _normalize_when(when: Mapping[str, Any] | None) -> tuple[tuple[str, tuple[Value, ...]], ...]:
    if when is None:
        return ()
    if not isinstance(when, Mapping):
        raise SearchSpaceError(
            f"`when` must map a parent name to the value(s) that activate this parameter, got "
            f"{when!r}; write e.g. when={{'optimizer': 'sgd'}}"
        )
    items = []
    for parent, values in when.items():
        vals = tuple(values) if isinstance(values, (list, tuple, set, frozenset)) else (values,)
        if not vals:
            raise SearchSpaceError(
                f"`when` for parent {parent!r} lists no values; give at least one parent value"
            )
        items.append((str(parent), vals))
    return tuple(items)


def _is_normalized(when: Any) -> bool:
    return isinstance(when, tuple) and all(
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], tuple)
        and item[1]
        for item in when
    )


@dataclass(frozen=True)
class _Base:
    """Fields every parameter has: the activation condition."""

    # Accepts {parent: value or [values]}; stored normalized as ((parent, (values...)), ...).
    when: Any = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not _is_normalized(self.when):
            object.__setattr__(self, "when", _normalize_when(self.when))

    @property
    def parents(self) -> tuple[str, ...]:
        """Names of the parameters this one depends on."""
        return tuple(parent for parent, _ in self.when)

    def is_active(self, config: Mapping[str, Any]) -> bool:
        """True when every `when` clause holds in `config` (a missing parent means inactive)."""
        return all(parent in config and _among(config[parent], vals) for parent, vals in self.when)

    def _when_dict(self) -> dict[str, Any]:
        return {p: list(v) if len(v) > 1 else v[0] for p, v in self.when}


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
            if isinstance(self.step, bool) or not isinstance(self.step, numbers.Real):
                raise _fail(
                    name, f"step must be a number (got step={self.step!r})", "give a number"
                )
            if not self.step > 0:
                raise _fail(
                    name, f"step must be > 0 (got step={self.step})", "give a positive step"
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


def _check_choices(name: str, choices: Sequence[Any], what: str) -> None:
    if len(choices) == 0:
        raise _fail(name, f"{what} is empty (got [])", "list at least one choice")
    for c in choices:
        if not isinstance(c, _JSON_SCALARS):
            raise _fail(
                name,
                f"choice {c!r} is a {type(c).__name__}; choices must be str, int, float, bool or "
                "None so they can be stored as JSON",
                "name the choice with a string and map it to the object in your build function",
            )
        if isinstance(c, float) and not math.isfinite(c):
            raise _fail(
                name,
                f"choice {c!r} is not a finite number; it cannot be matched or stored as JSON",
                "remove it, or use a string such as 'inf'",
            )
    seen: list[Any] = []
    for c in choices:
        if _among(c, seen):
            raise _fail(
                name,
                f"{what} {list(choices)!r} repeats {c!r} (True and 1 differ, 1 and 1.0 do not)",
                "remove the duplicate",
            )
        seen.append(c)


def _index(choices: Sequence[Any], value: Any) -> int:
    for i, c in enumerate(choices):
        if same_value(c, value):
            return i
    raise ValueError(f"{value!r} is not one of {list(choices)!r}")


@dataclass(frozen=True)
class Categorical(_Base):
    """One of a list of choices (strings, numbers, booleans or None).

    Example:
        >>> Categorical(["adam", "sgd"]).choices
        ('adam', 'sgd')
    """

    choices: tuple[Value, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Sequence):
            raise SearchSpaceError(
                f"Categorical choices must be a list, got {self.choices!r}; write "
                "Categorical(['a', 'b'])"
            )
        object.__setattr__(self, "choices", tuple(self.choices))

    def check(self, name: str) -> None:
        """Raise `SearchSpaceError` if the definition is malformed."""
        _check_choices(name, self.choices, "choices")

    def contains(self, value: Any) -> bool:
        """True if `value` is one of the choices (True and 1 are different choices)."""
        try:
            _index(self.choices, value)
        except ValueError:
            return False
        return True

    def index(self, value: Any) -> int:
        """Position of `value` among the choices."""
        return _index(self.choices, value)

    def to_dict(self) -> dict[str, Any]:
        """This parameter in the `SearchSpace.from_dict` format."""
        d: dict[str, Any] = {"type": "categorical", "values": list(self.choices)}
        if self.when:
            d["when"] = self._when_dict()
        return d


@dataclass(frozen=True)
class Conditional(_Base):
    """A choice whose list of options depends on the value of a parent parameter.

    `Conditional("model_type", {"resnet": [3, 5, 7], "transformer": [6, 12]})` takes one of
    3, 5, 7 when `model_type == "resnet"` and one of 6, 12 when it is `"transformer"`.

    Example:
        >>> Conditional("model", {"a": [1, 2], "b": [3]}).choices_for({"model": "b"})
        (3,)
    """

    parent: str
    mapping: Mapping[Value, tuple[Value, ...]]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.mapping, Mapping):
            raise SearchSpaceError(
                f"Conditional mapping must map parent values to lists of choices, got "
                f"{self.mapping!r}; write e.g. {{'resnet': [3, 5], 'transformer': [6, 12]}}"
            )
        object.__setattr__(
            self,
            "mapping",
            {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in self.mapping.items()},
        )

    @property
    def parents(self) -> tuple[str, ...]:
        """The parent whose value picks the choices, then any `when` parents."""
        return (self.parent, *super().parents)

    def check(self, name: str) -> None:
        """Raise `SearchSpaceError` if the definition is malformed."""
        if not self.mapping:
            raise _fail(name, "the mapping is empty", "map each parent value to a list of choices")
        for key, choices in self.mapping.items():
            if not isinstance(choices, tuple):
                raise _fail(
                    name,
                    f"the choices for parent value {key!r} must be a list (got {choices!r})",
                    "write a list of choices",
                )
            _check_choices(name, choices, f"the list for parent value {key!r}")

    @property
    def all_choices(self) -> tuple[Value, ...]:
        """Union of every parent value's choices, in first-seen order (used for one-hot columns)."""
        out: list[Value] = []
        for choices in self.mapping.values():
            for c in choices:
                if not _among(c, out):
                    out.append(c)
        return tuple(out)

    def choices_for(self, config: Mapping[str, Any]) -> tuple[Value, ...]:
        """The choices allowed under the parent's value in `config` (empty if not mapped)."""
        if self.parent not in config:
            return ()
        value = config[self.parent]
        for key, choices in self.mapping.items():
            if same_value(key, value):
                return tuple(choices)
        return ()

    def is_active(self, config: Mapping[str, Any]) -> bool:
        """True when the parent's value in `config` is mapped and every `when` clause holds."""
        return (
            self.parent in config
            and _among(config[self.parent], tuple(self.mapping))
            and super().is_active(config)
        )

    def contains_under(self, value: Any, config: Mapping[str, Any]) -> bool:
        """True if `value` is allowed under the parent's value in `config`."""
        try:
            _index(self.choices_for(config), value)
        except ValueError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """This parameter in the `SearchSpace.from_dict` format."""
        d: dict[str, Any] = {
            "type": "conditional",
            "parent": self.parent,
            "mapping": {k: list(v) for k, v in self.mapping.items()},
        }
        if self.when:
            d["when"] = self._when_dict()
        return d


Param: TypeAlias = Float | Int | Categorical | Conditional
