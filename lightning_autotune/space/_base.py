"""What every parameter shares: the value type, choice equality and `when` conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lightning_autotune.exceptions import SearchSpaceError

__all__ = ["Value", "same_value"]

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
