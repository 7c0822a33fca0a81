"""Choice parameters: `Categorical`, and `Conditional` whose choices depend on a parent."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space._base import _JSON_SCALARS, Value, _among, _Base, _fail, same_value

__all__ = ["Categorical", "Conditional"]


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
    # Hashing keeps this linear for long lists; the key follows `same_value` (1 == 1.0 hash
    # alike, and the flag keeps True apart from 1).
    seen: set[tuple[bool, Any]] = set()
    for c in choices:
        key = (isinstance(c, bool), c)
        if key in seen:
            shown = repr(list(choices)) if len(choices) <= 20 else f"({len(choices)} values)"
            raise _fail(
                name,
                f"{what} {shown} repeats {c!r} (True and 1 differ, 1 and 1.0 do not)",
                "remove the duplicate",
            )
        seen.add(key)


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

    def contains(self, value: Any) -> bool:
        """True if `value` is a choice under some parent value (see `contains_under`)."""
        return _among(value, self.all_choices)

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
