"""Pure schedule values: what a callback applies at each epoch, with no Lightning in sight.

A schedule maps an epoch number (0-based) to a value. Milestones are given either as epochs
(`int`) or as fractions of training (`float` in [0, 1)), which are resolved against
`Trainer(max_epochs=...)`: fraction `f` starts at the first epoch that begins at or after `f` of
training, `ceil(f * max_epochs)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError

__all__ = ["Piecewise", "Schedule", "StepDecay", "as_schedule", "milestone_epoch"]


@runtime_checkable
class Schedule(Protocol):
    """Anything that gives a value for an epoch; `max_epochs` resolves fractional milestones."""

    def value(self, epoch: int, max_epochs: int | None) -> float | None:
        """The value for `epoch`, or None to keep what the model already has."""
        ...

    def needs_max_epochs(self) -> bool:
        """True when a milestone is a fraction of training."""
        ...


def milestone_epoch(at: int | float, max_epochs: int | None, field: str = "at") -> int:
    """Resolve a milestone to an epoch: an `int` is an epoch, a float in [0, 1) a fraction.

    Raises:
        ConfigError: A fraction with no `max_epochs` to resolve it against.
    """
    if isinstance(at, int):
        return at
    if max_epochs is None or max_epochs < 1:
        raise ConfigError(
            f"{field}={at} is a fraction of training, which needs Trainer(max_epochs=N) with "
            f"N >= 1 (got max_epochs={max_epochs}); set max_epochs or give the milestone as an "
            "integer epoch"
        )
    return math.ceil(at * max_epochs - 1e-9)


def _check_milestone(at: object, field: str) -> int | float:
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise ConfigError(
            f"{field}: a milestone must be an epoch (int >= 0) or a fraction of training "
            f"(float in [0, 1)), got {at!r}"
        )
    if isinstance(at, int) and at < 0:
        raise ConfigError(f"{field}: epoch milestone must be >= 0, got {at}")
    if isinstance(at, float) and not 0.0 <= at < 1.0:
        raise ConfigError(
            f"{field}: fractional milestone must be in [0, 1), got {at}; write an epoch as an "
            "int (e.g. 5) or a fraction as a float (e.g. 0.5)"
        )
    return at


@dataclass(frozen=True)
class Piecewise:
    """A value held constant from each milestone until the next one.

    Before the first milestone the value is None (the model keeps its own setting).

    Args:
        milestones: `((at, value), ...)` or a mapping `{at: value}`; `at` is an epoch (int) or a
            fraction of training (float in [0, 1)).
        name: Used in error messages.

    Example:
        >>> Piecewise({0: 32, 0.5: 64}).value(epoch=5, max_epochs=10)
        64.0
    """

    milestones: tuple[tuple[int | float, float], ...]
    name: str = "schedule"

    def __init__(
        self,
        milestones: Mapping[int | float, float] | tuple[tuple[int | float, float], ...],
        name: str = "schedule",
    ) -> None:
        items = list(milestones.items()) if isinstance(milestones, Mapping) else list(milestones)
        if not items:
            raise ConfigError(f"{name}: give at least one milestone, e.g. {{0: 32, 0.5: 64}}")
        checked = []
        for at, value in items:
            _check_milestone(at, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}: value at {at!r} must be a number, got {value!r}")
            checked.append((at, float(value)))
        object.__setattr__(self, "milestones", tuple(checked))
        object.__setattr__(self, "name", name)

    def needs_max_epochs(self) -> bool:
        """True when a milestone is a fraction of training."""
        return any(isinstance(at, float) for at, _ in self.milestones)

    def resolved(self, max_epochs: int | None) -> list[tuple[int, float]]:
        """Milestones as `(epoch, value)` sorted by epoch; a later entry wins a tie."""
        pairs = [(milestone_epoch(at, max_epochs, self.name), v) for at, v in self.milestones]
        return sorted(pairs, key=lambda p: p[0])

    def value(self, epoch: int, max_epochs: int | None) -> float | None:
        """The value of the last milestone at or before `epoch` (None before the first)."""
        current = None
        for start, v in self.resolved(max_epochs):
            if start <= epoch:
                current = v
        return current

    def values(self) -> tuple[float, ...]:
        """Every value the schedule can take."""
        return tuple(v for _, v in self.milestones)


@dataclass(frozen=True)
class StepDecay:
    """`start`, lowered by `amount` every `every` epochs, never below `floor`.

    Args:
        start: Value at epoch 0.
        amount: Subtracted every `every` epochs (0 keeps `start` constant).
        every: Epochs between two decreases (>= 1).
        floor: Lowest value.

    Example:
        >>> StepDecay(start=0.5, amount=0.1, every=10, floor=0.1).value(25, None)
        0.3
    """

    start: float
    amount: float = 0.0
    every: int = 1
    floor: float = 0.0

    def __post_init__(self) -> None:
        for field in ("start", "floor"):
            check_number(getattr(self, field), f"StepDecay.{field}")
        check_number(self.amount, "StepDecay.amount", low=0.0, hint="the schedule decreases")
        check_int(self.every, "StepDecay.every", hint="it counts epochs")
        if self.floor > self.start:
            raise ConfigError(
                f"StepDecay.floor={self.floor} is above start={self.start}; lower the floor"
            )

    def needs_max_epochs(self) -> bool:
        """Always False: a step decay counts epochs, not fractions of training."""
        return False

    def value(self, epoch: int, max_epochs: int | None) -> float:
        """`start` minus `amount` for every `every` epochs elapsed, never below `floor`."""
        return round(max(self.floor, self.start - self.amount * (epoch // self.every)), 12)


def as_schedule(spec: Schedule | Mapping[int | float, float], name: str) -> Schedule:
    """Accept a schedule object or a `{milestone: value}` mapping (made a `Piecewise`).

    Raises:
        ConfigError: Anything else.
    """
    if isinstance(spec, Mapping):
        return Piecewise(spec, name=name)
    if isinstance(spec, Schedule):
        return spec
    raise ConfigError(
        f"{name} must be a mapping {{epoch or fraction: value}}, a Piecewise or a StepDecay, got "
        f"{type(spec).__name__}; write e.g. {{0: 32, 0.5: 64}}"
    )
