"""Checks of a space's structure: the order its conditions impose and the parent values they
expect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space._params import (
    Categorical,
    Conditional,
    Float,
    Int,
    Param,
    same_value,
)

__all__ = ["check_parents", "topological_order"]


def topological_order(params: Mapping[str, Param]) -> tuple[str, ...]:
    """The parameter names with every condition's parent before its child.

    Raises:
        SearchSpaceError: A condition names an undeclared parent, or conditions form a cycle.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise SearchSpaceError(
                f"parameter {name!r}: conditions form a cycle ({cycle}, each depending on "
                "the next); a parameter cannot depend on itself, remove one of the conditions"
            )
        state[name] = 1
        for parent in params[name].parents:
            if parent not in params:
                raise SearchSpaceError(
                    f"parameter {name!r}: its condition names parent {parent!r}, which is not "
                    f"in the space (parameters: {list(params)}); declare {parent!r} or "
                    "fix the name"
                )
            visit(parent, [*path, name])
        state[name] = 2
        order.append(name)

    for name in params:
        visit(name, [])
    return tuple(order)


def check_parents(params: Mapping[str, Param], name: str, p: Param) -> None:
    """Check that every value `name`'s conditions expect of a parent is one it can take."""
    checks: list[tuple[str, Sequence[Any]]] = list(p.when)
    if isinstance(p, Conditional):
        checks.append((p.parent, tuple(p.mapping)))
    for parent, values in checks:
        q = params[parent]
        for v in values:
            if isinstance(q, (Float, Int, Categorical)):
                legal = q.contains(v)
                domain = (
                    f"one of {list(q.choices)!r}"
                    if isinstance(q, Categorical)
                    else f"a value of {q.to_dict()}"
                )
            else:
                legal = any(same_value(v, c) for c in q.all_choices)
                domain = f"one of {list(q.all_choices)!r}"
            if not legal:
                raise SearchSpaceError(
                    f"parameter {name!r}: its condition expects {parent!r} = {v!r}, which "
                    f"{parent!r} can never take; use {domain}"
                )
