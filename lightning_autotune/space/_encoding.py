"""Encoding of configurations to points of the unit cube, and back.

Each Float or Int parameter owns one column in [0, 1] (log-scaled when the parameter is); each
Categorical or Conditional parameter owns one column per choice (one-hot; decoding takes the
largest). An inactive parameter's columns hold a fixed value (0.5, or all zeros for one-hot), so
two configurations that differ only in inactive values are the same point for a surrogate model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space._base import Value
from lightning_autotune.space._choices import Categorical, _index
from lightning_autotune.space._numeric import Float, Int

if TYPE_CHECKING:
    from lightning_autotune.space._space import SearchSpace

__all__ = ["Column", "ColumnKind", "decode", "encode"]

INACTIVE_NUMERIC = 0.5


class ColumnKind(Enum):
    """How a column of the encoded cube behaves."""

    CONTINUOUS = "continuous"
    """Any value in [0, 1] is meaningful."""
    ORDINAL = "ordinal"
    """Integer or grid parameter with `n_levels` values, decoded by the parameter's `from_unit`.

    The cells are of equal width, except for a log-scaled `Int`, whose cells are of equal width
    in log space (the column is the log-scaled value; decoding rounds to the nearest integer).
    """
    ONE_HOT = "one_hot"
    """One choice of a categorical parameter; the choice with the largest column wins."""


@dataclass(frozen=True)
class Column:
    """One column of the encoded unit cube.

    Attributes:
        param: Name of the parameter the column belongs to.
        kind: How the column is decoded.
        n_levels: Number of distinct values for ORDINAL columns, else None.
        choice: The choice this column stands for (ONE_HOT columns only).
    """

    param: str
    kind: ColumnKind
    n_levels: int | None = None
    choice: Value = None


def columns_of(space: SearchSpace) -> tuple[Column, ...]:
    """The encoded columns of `space`, in parameter order."""
    cols: list[Column] = []
    for name, p in space.items():
        if isinstance(p, (Float, Int)):
            levels = p.n_levels
            if isinstance(p, Int) and p.log:
                cols.append(Column(name, ColumnKind.ORDINAL, levels))
            elif levels is None:
                cols.append(Column(name, ColumnKind.CONTINUOUS))
            else:
                cols.append(Column(name, ColumnKind.ORDINAL, levels))
        else:
            choices = p.choices if isinstance(p, Categorical) else p.all_choices
            cols.extend(Column(name, ColumnKind.ONE_HOT, choice=c) for c in choices)
    return tuple(cols)


def spans_of(columns: Sequence[Column]) -> dict[str, tuple[int, int]]:
    """Parameter name -> its columns `start, stop` (a parameter's columns are adjacent)."""
    spans: dict[str, tuple[int, int]] = {}
    for i, col in enumerate(columns):
        start, _ = spans.get(col.param, (i, i))
        spans[col.param] = (start, i + 1)
    return spans


def encode(space: SearchSpace, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Encode configurations as rows of the unit cube.

    Args:
        space: The search space.
        configs: Valid configurations (inactive parameters may be present or absent).

    Returns:
        An `n x d` float64 array, `d = len(space.columns)`, in [0, 1].

    Each space remembers the rows of the configurations it has encoded, so a sampler that
    encodes the whole history at every suggestion pays for validating each trial once.

    Raises:
        SearchSpaceError: A configuration is not valid for `space` (see `SearchSpace.validate`).
    """
    out = np.zeros((len(configs), space.dim), dtype=np.float64)
    memo = space._encoded_rows
    for i, raw in enumerate(configs):
        # each value with its type, so True and 1 differ
        key = tuple((name, type(v), v) for name, v in raw.items())
        try:
            row, hashable = memo.get(key), True
        except TypeError:  # an unhashable value: encoded (and refused) afresh every time
            row, hashable = None, False
        if row is None:
            row = _encode_one(space, raw)
            if hashable:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[key] = row
        out[i] = row
    return out


MEMO_SIZE = 20_000
"""Most rows a space remembers (see `encode`); the memory is dropped whole when full."""


def _encode_one(space: SearchSpace, raw: Mapping[str, Any]) -> np.ndarray:
    # Out-of-domain values would leave the unit cube; infeasible ones are fine to encode.
    config = space.validate(raw, check_constraints=False)
    active = space.active_names(config)
    row = np.zeros(space.dim, dtype=np.float64)
    for name, p in space.items():
        start = space.column_span(name)[0]
        if isinstance(p, (Float, Int)):
            row[start] = p.to_unit(config[name]) if name in active else INACTIVE_NUMERIC
        elif name in active:
            choices = p.choices if isinstance(p, Categorical) else p.all_choices
            row[start + _index(choices, config[name])] = 1.0
    row.flags.writeable = False
    return row


def decode(space: SearchSpace, X: np.ndarray) -> list[dict[str, Any]]:
    """Decode rows of the unit cube into valid configurations (inactive parameters left out).

    Args:
        space: The search space.
        X: An `n x d` array; values outside [0, 1] are clipped.

    Returns:
        One configuration per row.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.ndim != 2 or X.shape[1] != space.dim:
        raise ConfigError(
            f"decode needs an n x {space.dim} array (one column per encoded dimension of the "
            f"space), got shape {X.shape}; build it from space.encode or space.columns"
        )
    if not np.isfinite(X).all():
        raise ConfigError(
            "decode got NaN or infinite entries; every entry must be a finite number in [0, 1]"
        )
    configs: list[dict[str, Any]] = []
    for row in X:
        config: dict[str, Any] = {}
        for name in space.order:
            p = space[name]
            if not p.is_active(config):
                continue
            start, stop = space.column_span(name)
            if isinstance(p, (Float, Int)):
                config[name] = p.from_unit(row[start])
            elif isinstance(p, Categorical):
                config[name] = p.choices[int(np.argmax(row[start:stop]))]
            else:
                allowed = p.choices_for(config)
                universe = p.all_choices
                scores = [row[start + _index(universe, c)] for c in allowed]
                config[name] = allowed[int(np.argmax(scores))]
        configs.append({k: config[k] for k in space.names if k in config})
    return configs
