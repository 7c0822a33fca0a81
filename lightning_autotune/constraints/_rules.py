"""Feasibility constraints, parameter rules and outcome constraints, built from strings.

- `Constraint('hidden_dim >= 4 * embedding_dim')`: must hold for every configuration tried.
- `ParameterRule(condition='batch_size > 64', action='scale learning_rate by 0.5')`: changes a
  sampled configuration when its condition holds.
- `OutcomeConstraint('val_loss <= 0.5')`: a bound on a measured metric of a finished trial.

See docs/constraints.md for the grammar and the exact meaning of each action string.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lightning_autotune._validation import check_number
from lightning_autotune.constraints._parser import Expression, UndefinedValue, parse_expression
from lightning_autotune.exceptions import ConstraintError

if TYPE_CHECKING:
    from lightning_autotune.space import SearchSpace

__all__ = ["ActionKind", "Constraint", "OutcomeConstraint", "ParameterRule", "Sense"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SCALE = re.compile(rf"^scale\s+(?P<name>{_NAME})\s+by\s+(?P<num>{_NUMBER})x?$")
_SET = re.compile(rf"^set\s+(?P<name>{_NAME})\s+to\s+(?P<value>.+)$")
_ARTICLE = re.compile(
    rf"^(?P<verb>increase|decrease|scale|multiply)_(?P<name>{_NAME}?)_by_(?P<num>{_NUMBER})x$"
)


@runtime_checkable
class _NumericParam(Protocol):
    """What a rule needs of a numeric parameter (`Float`, `Int`): the space's classes stay out
    of this package, which sits below `space` (the space holds its constraints)."""

    def clip(self, value: float) -> float: ...

    def contains(self, value: Any) -> bool: ...


def _is_condition(node: ast.expr) -> bool:
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def _parse_condition(text: str, names: Collection[str] | None, what: str) -> Expression:
    expr = parse_expression(text, names, what=what)
    if not _is_condition(expr._tree):
        raise ConstraintError(
            f"{what} {text!r}: is a value, not a condition; write a comparison such as "
            "'hidden_dim >= 4 * embedding_dim'"
        )
    return expr


def _holds(expr: Expression, config: Mapping[str, Any]) -> bool:
    if not expr.names <= set(config):
        return True
    try:
        return bool(expr.evaluate(config))
    except UndefinedValue:
        return False


@dataclass(frozen=True, init=False)
class Constraint:
    """A feasibility rule every configuration must satisfy, e.g. 'hidden_dim >= 4 * embedding_dim'.

    A constraint binds only when every parameter it names is active in the configuration: if one
    of them is inactive (left out by a `when` condition), the constraint holds vacuously. Arithmetic
    without a value (division or modulo by zero, overflow) makes it not hold.

    Args:
        text: The condition (grammar in docs/constraints.md).
        names: Parameter names it may use (None: checked later, when attached to a space).

    Raises:
        ConstraintError: The text is malformed, not a condition, or uses something not allowed.

    Example:
        >>> c = Constraint("hidden_dim >= 4 * embedding_dim")
        >>> c.holds({"hidden_dim": 128, "embedding_dim": 16}), c.holds({"hidden_dim": 32})
        (True, True)
    """

    text: str
    expression: Expression = field(repr=False, compare=False)

    def __init__(self, text: str, names: Collection[str] | None = None) -> None:
        object.__setattr__(self, "expression", _parse_condition(text, names, "constraint"))
        object.__setattr__(self, "text", text)

    @property
    def names(self) -> frozenset[str]:
        """Parameter names the constraint reads."""
        return self.expression.names

    def holds(self, config: Mapping[str, Any]) -> bool:
        """True if `config` satisfies the constraint (see the class notes on inactive names).

        Raises:
            ConstraintError: An operation does not apply to the values (e.g. 'a' < 1).
        """
        return _holds(self.expression, config)

    def check_names(self, names: Collection[str]) -> None:
        """Raise `ConstraintError` if the constraint names a parameter not in `names`."""
        unknown = sorted(self.names - set(names))
        if unknown:
            raise ConstraintError(
                f"constraint {self.text!r}: name(s) {unknown} are not parameters of the space "
                f"({sorted(names)}); fix the spelling or add the parameter"
            )


class ActionKind(Enum):
    """What a `ParameterRule` does to its target parameter."""

    SCALE = "scale"
    """Multiply the target by `value`."""
    SET = "set"
    """Replace the target by `value`."""


@dataclass(frozen=True, init=False)
class ParameterRule:
    """A rule applied to a sampled configuration: when `condition` holds, change one parameter.

    Actions (exact forms; see docs/constraints.md):

    - 'scale NAME by F' (or 'by Fx'): NAME = NAME * F, F > 0.
    - 'set NAME to V': NAME = V (a number, or a quoted string / True / False for categoricals).
    - The article's forms: 'increase_NAME_by_Fx' means NAME = NAME * (1 + F), so
      'increase_learning_rate_by_0.5x' raises the learning rate by half; 'decrease_NAME_by_Fx'
      means NAME = NAME * (1 - F) with 0 < F < 1; 'scale_NAME_by_Fx' and 'multiply_NAME_by_Fx'
      mean NAME = NAME * F.

    The rule fires only when every name in the condition and the target are active. A numeric
    result is clipped to the target's bounds and snapped to its grid (integers are rounded).

    Args:
        condition: When the rule fires, e.g. 'batch_size > 64'.
        action: What it does, e.g. 'scale learning_rate by 0.5'.

    Raises:
        ConstraintError: The condition or the action is malformed.

    Example:
        >>> rule = ParameterRule("batch_size > 64", "increase_lr_by_0.5x")
        >>> rule.apply({"batch_size": 128, "lr": 0.01})
        {'batch_size': 128, 'lr': 0.015}
    """

    condition: str
    action: str
    kind: ActionKind = field(compare=False)
    target: str = field(compare=False)
    value: Any = field(compare=False)
    expression: Expression = field(repr=False, compare=False)

    def __init__(self, condition: str, action: str) -> None:
        expr = _parse_condition(condition, None, "rule condition")
        kind, target, value = _parse_action(action)
        for name, v in (
            ("condition", condition),
            ("action", action),
            ("kind", kind),
            ("target", target),
            ("value", value),
            ("expression", expr),
        ):
            object.__setattr__(self, name, v)

    @property
    def names(self) -> frozenset[str]:
        """Every parameter name the rule reads or writes."""
        return self.expression.names | {self.target}

    def check(self, space: SearchSpace) -> None:
        """Raise `ConstraintError` if the rule does not fit `space` (unknown names, wrong kinds)."""
        unknown = sorted(self.names - set(space.names))
        if unknown:
            raise ConstraintError(
                f"rule {self.condition!r} -> {self.action!r}: name(s) {unknown} are not "
                f"parameters of the space ({list(space.names)}); fix the spelling"
            )
        p = space[self.target]
        numeric = isinstance(p, _NumericParam)
        if self.kind is ActionKind.SCALE and not numeric:
            raise ConstraintError(
                f"rule action {self.action!r}: {self.target!r} is categorical and cannot be "
                "scaled; use 'set NAME to VALUE'"
            )
        if self.kind is ActionKind.SET:
            if isinstance(p, _NumericParam):
                legal = _is_number(self.value) and p.contains(p.clip(self.value))
            else:
                legal = p.contains(self.value)
            if not legal:
                raise ConstraintError(
                    f"rule action {self.action!r}: {self.value!r} is not a value "
                    f"{self.target!r} can take ({p.to_dict()})"
                )

    def apply(self, config: Mapping[str, Any], space: SearchSpace | None = None) -> dict[str, Any]:
        """Return `config` with the rule applied (a copy; unchanged when the rule does not fire).

        Args:
            config: A configuration.
            space: When given, the result is clipped to the target's bounds and grid.
        """
        out = dict(config)
        if self.target not in out or not self.expression.names <= set(out):
            return out
        try:
            fires = bool(self.expression.evaluate(out))
        except UndefinedValue:
            fires = False
        if not fires:
            return out
        if self.kind is ActionKind.SCALE:
            current = out[self.target]
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise ConstraintError(
                    f"rule action {self.action!r}: {self.target!r} is {current!r}, not a number"
                )
            new: Any = current * self.value
        else:
            new = self.value
        target = None if space is None else space[self.target]
        if isinstance(target, _NumericParam) and _is_number(new):
            new = target.clip(new)
        out[self.target] = new
        return out

    def to_dict(self) -> dict[str, str]:
        """The rule as {'condition': ..., 'action': ...} (accepted by `ParameterRule(**d)`)."""
        return {"condition": self.condition, "action": self.action}


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float))


def _parse_number(text: str, action: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ConstraintError(f"rule action {action!r}: {text} is not a finite number")
    return value


def _parse_action(action: str) -> tuple[ActionKind, str, Any]:
    if not isinstance(action, str):
        raise ConstraintError(
            f"a rule action must be a string such as 'scale learning_rate by 0.5', got {action!r}"
        )
    text = " ".join(action.split())
    if m := _ARTICLE.match(text):
        f = _parse_number(m["num"], action)
        factor = {"increase": 1 + f, "decrease": 1 - f}.get(m["verb"], f)
        if m["verb"] == "decrease" and not 0 < f < 1:
            raise ConstraintError(
                f"rule action {action!r}: 'decrease_NAME_by_Fx' needs 0 < F < 1 (got {f})"
            )
        if factor <= 0:
            raise ConstraintError(
                f"rule action {action!r}: the resulting factor {factor} must be > 0"
            )
        return ActionKind.SCALE, m["name"], factor
    if m := _SCALE.match(text):
        f = check_number(
            float(m["num"]),
            f"rule action {action!r}: the factor",
            low=0.0,
            strict_low=True,
            hint="write e.g. 'scale learning_rate by 0.5'",
            error=ConstraintError,
        )
        return ActionKind.SCALE, m["name"], f
    if m := _SET.match(text):
        return ActionKind.SET, m["name"], _parse_set_value(m["value"], action)
    raise ConstraintError(
        f"rule action {action!r} is not understood; write 'scale NAME by NUMBER', "
        "'set NAME to VALUE' or 'increase_NAME_by_NUMBERx'"
    )


def _parse_set_value(text: str, action: str) -> Any:
    if re.fullmatch(_NUMBER, text):
        v = _parse_number(text, action)
        return int(v) if re.fullmatch(r"[+-]?\d+", text) else v
    if text in ("True", "False"):
        return text == "True"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" and len(text) <= 66:
        return text[1:-1]
    raise ConstraintError(
        f"rule action {action!r}: value {text!r} must be a number, True, False or a quoted "
        "string such as 'adam'"
    )


class Sense(Enum):
    """Which side of its bound an outcome must stay on."""

    AT_MOST = "<="
    AT_LEAST = ">="


@dataclass(frozen=True, init=False)
class OutcomeConstraint:
    """A bound on a measured metric, e.g. 'val_loss <= 0.5' or 'latency_ms <= 20'.

    The grammar is `METRIC OP NUMBER` or `NUMBER OP METRIC`, OP one of < <= > >=. Strict and
    non-strict comparisons mean the same here (metrics are real-valued and modelled).

    Args:
        text: The constraint.

    Attributes:
        metric: The metric's name.
        sense: `Sense.AT_MOST` or `Sense.AT_LEAST`.
        bound: The bound.

    Example:
        >>> c = OutcomeConstraint("val_loss <= 0.5")
        >>> c.metric, c.sense.value, c.bound, c.violation(0.7)
        ('val_loss', '<=', 0.5, 0.19999999999999996)
    """

    text: str
    metric: str = field(compare=False)
    sense: Sense = field(compare=False)
    bound: float = field(compare=False)

    def __init__(self, text: str) -> None:
        tree = parse_expression(text, None, what="outcome constraint")._tree
        ops = {ast.Lt: Sense.AT_MOST, ast.LtE: Sense.AT_MOST, ast.Gt: Sense.AT_LEAST}
        ops[ast.GtE] = Sense.AT_LEAST
        if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in ops:
            left, right = tree.left, tree.comparators[0]
            sense = ops[type(tree.ops[0])]
            if isinstance(right, ast.Name) and _number(left) is not None:
                left, right = right, left
                sense = Sense.AT_LEAST if sense is Sense.AT_MOST else Sense.AT_MOST
            bound = _number(right)
            if isinstance(left, ast.Name) and bound is not None:
                for name, v in (("text", text), ("metric", left.id), ("sense", sense)):
                    object.__setattr__(self, name, v)
                object.__setattr__(self, "bound", bound)
                return
        raise ConstraintError(
            f"outcome constraint {text!r}: write METRIC <= NUMBER or METRIC >= NUMBER, "
            "e.g. 'val_loss <= 0.5'"
        )

    def violation(self, value: float) -> float:
        """How far `value` is on the wrong side of the bound (<= 0 when satisfied)."""
        return value - self.bound if self.sense is Sense.AT_MOST else self.bound - value

    def is_satisfied(self, value: float) -> bool:
        """True when `value` is on the right side of the bound (NaN never is)."""
        return bool(self.violation(value) <= 0)


def _number(node: ast.expr) -> float | None:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            return None
        value = sign * float(node.value)
        return value if math.isfinite(value) else None
    return None
