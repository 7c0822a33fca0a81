"""The spaces `SearchSpace.from_dict` already parsed in this process, by the dict's text.

A study's space is stored as JSON and parsed again whenever the study is opened: by each
`load_study`, each worker and each trial process. A space with tens of thousands of choices
takes a noticeable fraction of a second to check, so each distinct dict is parsed once per
process; spaces are immutable, so the same object can serve every caller.

Only a dict made of plain JSON values (str keys; lists; str, int, float, bool, None) has a
key: its text (`repr`, which is faster than JSON's and as exact for these types) tells it apart
from every other such dict (1, 1.0 and True differ, and the order of parameters is kept). A
dict holding anything else (parameter objects, tuples, numpy numbers) is parsed every time, as
its text may not tell it apart from another.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning_autotune.space._space import SearchSpace

__all__ = ["MAX_SPACES", "clear", "get", "key", "put"]

MAX_SPACES = 64
"""Most parsed spaces kept; the least recently used goes first."""

_KEYS = frozenset({str})
_VALUES = frozenset({str, int, float, bool, type(None), list, dict})

_spaces: OrderedDict[tuple[type, str], SearchSpace] = OrderedDict()
_lock = threading.Lock()


def key(cls: type, spec: Mapping[str, Any]) -> tuple[type, str] | None:
    """The cache key of `spec` parsed as `cls`, or None when it holds more than plain JSON."""
    if not _plain(spec):
        return None
    return cls, repr(spec)


def get(k: tuple[type, str]) -> SearchSpace | None:
    """The space parsed under key `k`, if it is still kept."""
    with _lock:
        space = _spaces.get(k)
        if space is not None:
            _spaces.move_to_end(k)
        return space


def put(k: tuple[type, str], space: SearchSpace) -> None:
    """Keep `space` under key `k`."""
    with _lock:
        _spaces[k] = space
        while len(_spaces) > MAX_SPACES:
            _spaces.popitem(last=False)


def clear() -> None:
    """Forget every parsed space."""
    with _lock:
        _spaces.clear()


def _plain(value: Any) -> bool:
    """Whether `value` is made of plain JSON values only (exact types, not subclasses)."""
    if type(value) is not dict:
        return False
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            if not set(map(type, item)) <= _KEYS:
                return False
            item = item.values()
        # `set(map(type, ...))` runs in C: a list of 50,000 choices costs milliseconds.
        kinds = set(map(type, item))
        if not kinds <= _VALUES:
            return False
        if dict in kinds or list in kinds:
            stack.extend(v for v in item if type(v) in (dict, list))
    return True
