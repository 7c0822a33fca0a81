"""Trial states and optimization directions."""

from __future__ import annotations

from enum import Enum

from lightning_autotune.exceptions import ConfigError

__all__ = ["Direction", "TrialState"]


class TrialState(str, Enum):
    """Where a trial is in its life. Finished states (COMPLETE, PRUNED, FAILED) never change."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        """True for COMPLETE, PRUNED and FAILED."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)


class Direction(str, Enum):
    """Whether an objective is minimized or maximized."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    @property
    def sign(self) -> float:
        """Multiplier that turns a value of this direction into a lower-is-better score."""
        return 1.0 if self is Direction.MINIMIZE else -1.0

    @classmethod
    def parse(cls, value: str | Direction, field: str = "direction") -> Direction:
        """Accept 'minimize'/'maximize' (or 'min'/'max'), with an error naming the field."""
        if isinstance(value, Direction):
            return value
        aliases = {"min": cls.MINIMIZE, "max": cls.MAXIMIZE}
        if isinstance(value, str):
            key = value.strip().lower()
            if key in aliases:
                return aliases[key]
            try:
                return cls(key)
            except ValueError:
                pass
        raise ConfigError(
            f"{field} must be 'minimize' or 'maximize' (or 'min'/'max'), got {value!r}"
        )
