"""Constraints and rules attached to a search space: binding them, and rejection sampling."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.constraints import Constraint, ParameterRule
from lightning_autotune.exceptions import ConstraintError

if TYPE_CHECKING:
    from lightning_autotune.space._space import SearchSpace

__all__ = ["bind", "check", "rejection_sample"]

# Rejection sampling gives up when this many draws per requested point found too few feasible.
_DRAWS_PER_POINT = 1000


def bind(
    space: SearchSpace,
    constraints: Sequence[str | Constraint],
    rules: Sequence[ParameterRule | Mapping[str, str]],
) -> tuple[tuple[Constraint, ...], tuple[ParameterRule, ...]]:
    """Parse the constraints and rules of `space` and check them against its parameters.

    Raises:
        ConstraintError: A constraint or rule is malformed or does not fit the space.
    """
    if not constraints and not rules:
        return (), ()
    if isinstance(constraints, str) or not isinstance(constraints, Sequence):
        raise ConstraintError(
            f"constraints must be a list of strings, got {constraints!r:.80}; write "
            "constraints=['hidden_dim >= 4 * embedding_dim']"
        )
    if isinstance(rules, (str, Mapping)) or not isinstance(rules, Sequence):
        raise ConstraintError(
            f"rules must be a list, got {rules!r:.80}; write "
            "rules=[ParameterRule('batch_size > 64', 'scale lr by 0.5')]"
        )
    bound: list[Constraint] = []
    for c in constraints:
        c = c if isinstance(c, Constraint) else Constraint(c)
        c.check_names(space.names)
        bound.append(c)
    bound_rules: list[ParameterRule] = []
    for r in rules:
        if isinstance(r, Mapping):
            if set(r) != {"condition", "action"}:
                raise ConstraintError(
                    f"a rule dict needs exactly the keys 'condition' and 'action', got "
                    f"{sorted(r)}; write {{'condition': 'batch_size > 64', "
                    "'action': 'scale lr by 0.5'}"
                )
            r = ParameterRule(r["condition"], r["action"])
        elif not isinstance(r, ParameterRule):
            raise ConstraintError(
                f"rule {r!r:.80} is not a ParameterRule or a {{'condition', 'action'}} dict"
            )
        r.check(space)
        bound_rules.append(r)
    return tuple(bound), tuple(bound_rules)


def check(space: SearchSpace, config: Mapping[str, Any]) -> None:
    """Raise `ConstraintError` naming the first constraint of `space` that `config` violates."""
    for c in space.constraints:
        if not c.holds(config):
            shown = {k: config[k] for k in sorted(c.names) if k in config}
            raise ConstraintError(
                f"configuration {shown} violates the constraint {c.text!r}; choose values "
                "that satisfy it"
            )


def rejection_sample(
    space: SearchSpace, draw: Callable[[int], np.ndarray], n: int, skip: int
) -> list[dict[str, Any]]:
    """Feasible configurations number `skip` .. `skip + n - 1` among decoded draws.

    Each draw is decoded, the space's rules are applied, and draws that break a constraint are
    dropped.

    Args:
        space: The search space.
        draw: `draw(k)` returns a `k x dim` array of points of the unit cube.
        n: Number of configurations wanted.
        skip: Number of feasible configurations to pass over first.

    Raises:
        ConstraintError: Fewer than `skip + n` feasible draws within the budget of draws.
    """
    out: list[dict[str, Any]] = []
    feasible = drawn = 0
    budget = _DRAWS_PER_POINT * (n + skip)
    chunk = 64
    while len(out) < n:
        if drawn >= budget:
            raise ConstraintError(
                f"found {feasible} feasible configuration(s) in {drawn} random draws, needed "
                f"{n + skip}; the constraints {[c.text for c in space.constraints]} seem to "
                "leave (almost) no feasible region: loosen them or widen the parameter ranges"
            )
        for config in space.decode(draw(chunk)):
            config = space.apply_rules(config)
            if not space.is_feasible(config):
                continue
            feasible += 1
            if feasible > skip and len(out) < n:
                out.append(config)
        drawn += chunk
        chunk = min(chunk * 2, 4096)
    return out
