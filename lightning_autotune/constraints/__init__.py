"""Constraints from strings: feasibility rules, parameter rules and outcome bounds.

Expressions are parsed with a whitelist over Python's `ast` and evaluated by walking the checked
tree; nothing is ever passed to `eval`. See docs/constraints.md.
"""

from lightning_autotune.constraints._linear import LinearInequality, linear_inequality
from lightning_autotune.constraints._parser import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_STRING,
    Expression,
    UndefinedValue,
    parse_expression,
)
from lightning_autotune.constraints._rules import (
    ActionKind,
    Constraint,
    OutcomeConstraint,
    ParameterRule,
    Sense,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_STRING",
    "ActionKind",
    "Constraint",
    "Expression",
    "LinearInequality",
    "OutcomeConstraint",
    "ParameterRule",
    "Sense",
    "UndefinedValue",
    "linear_inequality",
    "parse_expression",
]
