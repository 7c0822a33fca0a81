"""A safe parser and evaluator for constraint expressions such as 'hidden_dim >= 4 * embedding_dim'.

The text is turned into a Python syntax tree with `ast.parse` (which builds a tree and runs
nothing), every node is checked against a short whitelist, and the checked tree is evaluated by
walking it here. No code object is ever made or run: there is no `eval` and no `compile` to code.

Allowed: parameter names, numbers, short string literals (to compare categorical values), True and
False, + - * / // % ** and unary - +, comparisons (< <= > >= == !=, chained), and / or / not,
parentheses. Everything else is refused with a `ConstraintError` naming the expression and the
construct that is not allowed.
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lightning_autotune.exceptions import ConstraintError

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_STRING",
    "Expression",
    "UndefinedValue",
    "parse_expression",
]

MAX_LENGTH = 500
"""Longest expression text accepted, in characters."""
MAX_DEPTH = 32
"""Deepest nesting of the syntax tree accepted."""
MAX_STRING = 64
"""Longest string literal accepted, in characters."""
MAX_EXPONENT = 64.0
"""Largest absolute exponent of `**` (checked on literals when parsing, on values when run)."""

_BINOPS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
# What each refused node is called in messages; anything else is named by its class.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function calls",
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[i])",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.IfExp: "conditional expressions (a if c else b)",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Starred: "starred expressions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


class UndefinedValue(ArithmeticError):
    """Arithmetic in an expression has no value here (division by zero, overflow)."""


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to be evaluated against parameter values.

    Attributes:
        text: The expression as written.
        names: The parameter names it reads.
    """

    text: str
    names: frozenset[str]
    _tree: ast.expr

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate with `values` for the names.

        Args:
            values: A value for each name in `names` (others are ignored).

        Returns:
            The value: a bool for comparisons and and/or/not, else a number (or string literal).

        Raises:
            ConstraintError: A name has no value, or an operation does not apply to the values
                (for example `<` between a string and a number).
            UndefinedValue: Division or modulo by zero, or a result too large to represent.
        """
        missing = sorted(self.names - set(values))
        if missing:
            raise ConstraintError(
                f"expression {self.text!r}: no value for {missing}; give a value for every "
                f"name it uses ({sorted(self.names)})"
            )
        return _Evaluator(self.text, values).run(self._tree)


def parse_expression(
    text: str, names: Collection[str] | None = None, *, what: str = "constraint"
) -> Expression:
    """Parse and check an expression.

    Args:
        text: The expression, e.g. 'hidden_dim >= 4 * embedding_dim'.
        names: The names it may use (None: any identifier; check later).
        what: What the expression is, for messages ('constraint', 'rule condition').

    Returns:
        The checked `Expression`.

    Raises:
        ConstraintError: The text is not a string, too long, not valid syntax, nested too
            deeply, or uses a construct or a name that is not allowed.

    Example:
        >>> parse_expression("a + 1 < b").evaluate({"a": 1, "b": 3})
        True
    """
    if not isinstance(text, str):
        raise ConstraintError(
            f"a {what} must be a string such as 'hidden_dim >= 4 * embedding_dim', got "
            f"{type(text).__name__} {text!r:.80}"
        )
    shown = f"{what} {text!r:.120}"
    if len(text) > MAX_LENGTH:
        raise ConstraintError(
            f"{shown}: is {len(text)} characters long, more than the limit of {MAX_LENGTH}; "
            "split it into several shorter constraints"
        )
    if not text.strip():
        raise ConstraintError(f"{what} is empty; write an expression such as 'a <= 2 * b'")
    try:
        with warnings.catch_warnings():
            # Python's own SyntaxWarnings (e.g. '1and') mean nothing to a user of this grammar.
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as err:
        detail = getattr(err, "msg", None) or str(err)
        raise ConstraintError(
            f"{shown}: is not a valid expression ({detail}); write e.g. 'a <= 2 * b'"
        ) from None
    except (RecursionError, MemoryError):
        raise ConstraintError(
            f"{shown}: is nested too deeply (the limit is {MAX_DEPTH} levels); simplify it"
        ) from None
    found: set[str] = set()
    _check(tree.body, 1, shown, None if names is None else frozenset(names), found)
    return Expression(text, frozenset(found), tree.body)


def _check(
    node: ast.AST, depth: int, shown: str, allowed: frozenset[str] | None, found: set[str]
) -> None:
    if depth > MAX_DEPTH:
        raise ConstraintError(
            f"{shown}: is nested too deeply (the limit is {MAX_DEPTH} levels); simplify it"
        )
    children: list[ast.AST]
    if isinstance(node, ast.Name):
        if allowed is not None and node.id not in allowed:
            raise ConstraintError(
                f"{shown}: name {node.id!r} is not allowed; only parameter names may appear "
                f"({sorted(allowed)})"
            )
        found.add(node.id)
        return
    if isinstance(node, ast.Constant):
        _check_constant(node.value, shown)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right, shown)
        children = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        children = [node.operand]
    elif isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
        children = list(node.values)
    elif isinstance(node, ast.Compare):
        bad = [type(op).__name__ for op in node.ops if type(op) not in _CMPOPS]
        if bad:
            raise ConstraintError(
                f"{shown}: not allowed: comparison {bad[0]} ('in', 'is'); use < <= > >= == !="
            )
        children = [node.left, *node.comparators]
    else:
        label = _REFUSED.get(type(node))
        if label is None and isinstance(node, (ast.BinOp, ast.UnaryOp)):
            label = f"operator {type(node.op).__name__}"
        label = label or f"{type(node).__name__} expressions"
        raise ConstraintError(
            f"{shown}: not allowed: {label}; use only parameter names, numbers, arithmetic "
            "(+ - * / // % **), comparisons and and/or/not"
        )
    for child in children:
        _check(child, depth + 1, shown, allowed, found)


def _check_constant(value: Any, shown: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ConstraintError(
                f"{shown}: a string literal of {len(value)} characters is longer than the limit "
                f"of {MAX_STRING}"
            )
        return
    if isinstance(value, complex) or not isinstance(value, (bool, int, float)):
        raise ConstraintError(
            f"{shown}: literal {value!r:.40} ({type(value).__name__}) is not allowed; use "
            "numbers, short strings, True or False"
        )


def _check_exponent(node: ast.expr, shown: str) -> None:
    value = _literal_number(node)
    if value is not None and abs(value) > MAX_EXPONENT:
        raise ConstraintError(
            f"{shown}: exponent {value} is larger than the limit of {MAX_EXPONENT:g}; use a "
            "smaller power"
        )


def _literal_number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal_number(node.operand)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    return None


class _Evaluator:
    """Walks a checked tree. Only node kinds that `_check` accepted can reach it."""

    def __init__(self, text: str, values: Mapping[str, Any]) -> None:
        self.text = text
        self.values = values

    def run(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.values[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._truth(self.run(v)) for v in node.values)
            return any(self._truth(self.run(v)) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            operand = self.run(node.operand)
            if isinstance(node.op, ast.Not):
                return not self._truth(operand)
            self._need_number(operand, "unary " + ("-" if isinstance(node.op, ast.USub) else "+"))
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.run(comparator)
                try:
                    ok = _CMPOPS[type(op)](left, right)
                except TypeError:
                    raise self._type_error(type(op).__name__, left, right) from None
                if not ok:
                    return False
                left = right
            return True
        raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover

    def _binop(self, node: ast.BinOp) -> Any:
        symbol, fn = _BINOPS[type(node.op)]
        left, right = self.run(node.left), self.run(node.right)
        self._need_number(left, symbol)
        self._need_number(right, symbol)
        if symbol == "**":
            return self._power(left, right)
        try:
            result = fn(left, right)
        except ZeroDivisionError:
            raise UndefinedValue(f"{self.text!r}: division by zero in {symbol}") from None
        except OverflowError:
            raise UndefinedValue(f"{self.text!r}: {symbol} overflows") from None
        if isinstance(result, float) and not math.isfinite(result):
            raise UndefinedValue(f"{self.text!r}: {symbol} gives {result}")
        return result

    def _power(self, base: float, exponent: float) -> float:
        if abs(exponent) > MAX_EXPONENT:
            raise ConstraintError(
                f"expression {self.text!r}: exponent {exponent} is larger than the limit of "
                f"{MAX_EXPONENT:g}"
            )
        try:
            # Floats keep every result small; integer powers could grow without bound.
            result = float(base) ** float(exponent)
        except ZeroDivisionError:
            raise UndefinedValue(f"{self.text!r}: 0 to a negative power") from None
        except OverflowError:
            raise UndefinedValue(f"{self.text!r}: ** overflows") from None
        if isinstance(result, complex) or not math.isfinite(result):
            raise UndefinedValue(f"{self.text!r}: {base} ** {exponent} is not a real number")
        return result

    def _need_number(self, value: Any, symbol: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConstraintError(
                f"expression {self.text!r}: {symbol} needs numbers, got {value!r:.40} "
                f"({type(value).__name__}); compare categorical values with == or != only"
            )

    def _truth(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConstraintError(
                f"expression {self.text!r}: and/or/not need true/false values, got {value!r:.40}; "
                "write a comparison such as 'a > 0'"
            )
        return value

    def _type_error(self, op: str, left: Any, right: Any) -> ConstraintError:
        return ConstraintError(
            f"expression {self.text!r}: cannot apply {op} to {left!r:.40} "
            f"({type(left).__name__}) and {right!r:.40} ({type(right).__name__})"
        )
