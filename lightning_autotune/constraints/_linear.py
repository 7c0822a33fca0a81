"""Recognizing linear constraints, so that optimizers can respect them exactly."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lightning_autotune.constraints._rules import Constraint

__all__ = ["LinearInequality", "linear_inequality"]


@dataclass(frozen=True)
class LinearInequality:
    """`sum(coefficients[name] * name) >= rhs`, the linear form of a constraint.

    Attributes:
        coefficients: Parameter name -> coefficient (names with a zero coefficient left out).
        rhs: The right-hand side.
    """

    coefficients: Mapping[str, float]
    rhs: float


def linear_inequality(constraint: Constraint) -> LinearInequality | None:
    """The constraint as a `LinearInequality`, or None when it is not one linear comparison.

    Recognized: a single comparison `<`, `<=`, `>`, `>=` between two sides built from names,
    numbers, `+`, `-`, unary `-`, multiplication by a number and division by a non-zero number.
    Strict and non-strict comparisons give the same inequality.

    Example:
        >>> from lightning_autotune.constraints import Constraint
        >>> form = linear_inequality(Constraint("hidden_dim >= 4 * embedding_dim + 2"))
        >>> dict(form.coefficients), form.rhs
        ({'hidden_dim': 1.0, 'embedding_dim': -4.0}, 2.0)
    """
    tree = constraint.expression._tree
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1):
        return None
    op = tree.ops[0]
    left, right = _affine(tree.left), _affine(tree.comparators[0])
    if left is None or right is None:
        return None
    if isinstance(op, (ast.Gt, ast.GtE)):
        diff = _combine(left, right, -1.0)
    elif isinstance(op, (ast.Lt, ast.LtE)):
        diff = _combine(right, left, -1.0)
    else:
        return None
    const = diff.pop(None, 0.0)
    coefs = {k: v for k, v in diff.items() if k is not None and v != 0.0}
    if not coefs:
        return None
    return LinearInequality(MappingProxyType(coefs), -const)


_Affine = dict[str | None, float]  # name -> coefficient; None -> constant term


def _combine(a: _Affine, b: _Affine, factor: float) -> _Affine:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + factor * v
    return out


def _affine(node: ast.expr) -> _Affine | None:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return {None: float(value)}
    if isinstance(node, ast.Name):
        return {node.id: 1.0}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _affine(node.operand)
        if inner is None:
            return None
        return {k: -v for k, v in inner.items()} if isinstance(node.op, ast.USub) else inner
    if not isinstance(node, ast.BinOp):
        return None
    left, right = _affine(node.left), _affine(node.right)
    if left is None or right is None:
        return None
    if isinstance(node.op, ast.Add):
        return _combine(left, right, 1.0)
    if isinstance(node.op, ast.Sub):
        return _combine(left, right, -1.0)
    if isinstance(node.op, ast.Mult):
        for const, other in ((left, right), (right, left)):
            if set(const) == {None}:
                return {k: v * const[None] for k, v in other.items()}
        return None
    if isinstance(node.op, ast.Div) and set(right) == {None} and right[None] != 0.0:
        return {k: v / right[None] for k, v in left.items()}
    return None
