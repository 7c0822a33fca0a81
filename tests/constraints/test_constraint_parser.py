from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning_autotune.constraints import (
    MAX_DEPTH,
    MAX_LENGTH,
    Constraint,
    UndefinedValue,
    parse_expression,
)
from lightning_autotune.exceptions import ConstraintError


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("hidden_dim >= 4 * embedding_dim", {"hidden_dim": 128, "embedding_dim": 32}, True),
        ("hidden_dim >= 4 * embedding_dim", {"hidden_dim": 127, "embedding_dim": 32}, False),
        ("a + b - c * 2 / 4 == 2", {"a": 1, "b": 2, "c": 2}, True),
        ("a // 2 == 3 and a % 2 == 1", {"a": 7}, True),
        ("a ** 2 <= 49", {"a": 7}, True),
        ("-a < 0", {"a": 1}, True),
        ("+a > 0", {"a": 1}, True),
        ("0 < a <= 1 < b", {"a": 1, "b": 2}, True),
        ("0 < a <= 1 < b", {"a": 1, "b": 1}, False),
        ("not (a > 1) or b", {"a": 2, "b": True}, True),
        ("optimizer == 'sgd' and momentum > 0.5", {"optimizer": "sgd", "momentum": 0.9}, True),
        ("optimizer != 'sgd'", {"optimizer": "sgd"}, False),
        ("True", {}, True),
        ("(a + 1) * (b - 1) > 0", {"a": 1, "b": 3}, True),
        ("1e-3 <= lr", {"lr": 0.01}, True),
    ],
)
def test_evaluates_allowed_expressions(text: str, values: dict, expected: bool) -> None:
    assert parse_expression(text).evaluate(values) is expected


def test_names_are_collected() -> None:
    assert parse_expression("a + b * 2 > c").names == frozenset({"a", "b", "c"})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("f(x) > 1", r"'f\(x\) > 1'.*not allowed: function calls"),
        ("__import__('os') == 1", "not allowed: function calls"),
        ("a.real > 1", r"not allowed: attribute access"),
        ("a[0] > 1", r"not allowed: subscripts"),
        ("(lambda: 1) == 1", "not allowed: lambdas"),
        ("[i for i in a] == 1", "not allowed: comprehensions"),
        ("{i for i in a} == 1", "not allowed: comprehensions"),
        ("sum(i for i in a) > 0", "not allowed: function calls"),
        ("f'{a}' == 'x'", "not allowed: f-strings"),
        ("a if b else c", r"not allowed: conditional expressions"),
        ("(a, b) == 1", "not allowed: tuples"),
        ("[a] == 1", "not allowed: lists"),
        ("{'a': 1} == 1", "not allowed: dicts"),
        ("a in b", r"not allowed: comparison In"),
        ("a is None", r"not allowed: comparison Is"),
        ("a & b", r"not allowed: operator BitAnd"),
        ("~a > 1", r"not allowed: operator Invert"),
        ("b'x' == a", r"literal b'x' \(bytes\) is not allowed"),
        ("1j == a", r"literal 1j \(complex\) is not allowed"),
        ("a == ...", r"literal Ellipsis"),
        ("a == None", r"literal None"),
        ("a = 1", "is not a valid expression"),
        ("a > ", "is not a valid expression"),
        ("a\x00 > 1", "is not a valid expression"),
        ("", "is empty"),
        ("2 ** 100 > a", "exponent 100.0 is larger than the limit of 64"),
        ("2 ** -100 > a", "exponent -100.0 is larger than the limit"),
        ("'" + "x" * 65 + "' == a", "string literal of 65 characters is longer than the limit"),
        ("a" * (MAX_LENGTH + 1) + " > 1", f"more than the limit of {MAX_LENGTH}"),
        ("-" * 40 + "a > 1", f"nested too deeply \\(the limit is {MAX_DEPTH} levels\\)"),
        ("(" * 210 + "a" + ")" * 210, "not a valid expression|nested too deeply"),
    ],
)
def test_rejects_with_a_message(text: str, match: str) -> None:
    with pytest.raises(ConstraintError, match=match):
        parse_expression(text)


def test_unknown_names_rejected_when_names_given() -> None:
    with pytest.raises(ConstraintError, match=r"name 'os' is not allowed; only parameter names"):
        parse_expression("os > 1", names=["a", "b"])


def test_not_a_string() -> None:
    with pytest.raises(ConstraintError, match="must be a string"):
        parse_expression(3)  # type: ignore[arg-type]


def test_constraint_must_be_a_condition() -> None:
    with pytest.raises(ConstraintError, match="is a value, not a condition"):
        Constraint("a + 1")


def test_evaluation_errors() -> None:
    expr = parse_expression("a / b > 1")
    with pytest.raises(UndefinedValue, match="division by zero"):
        expr.evaluate({"a": 1, "b": 0})
    with pytest.raises(ConstraintError, match=r"no value for \['b'\]"):
        expr.evaluate({"a": 1})
    with pytest.raises(ConstraintError, match="/ needs numbers"):
        expr.evaluate({"a": "x", "b": 1})
    with pytest.raises(ConstraintError, match="cannot apply Lt"):
        parse_expression("a < 1").evaluate({"a": "x"})
    with pytest.raises(ConstraintError, match="and/or/not need true/false values"):
        parse_expression("a and b > 1").evaluate({"a": 3, "b": 2})
    with pytest.raises(ConstraintError, match="exponent 100 is larger than the limit"):
        parse_expression("a ** b > 1").evaluate({"a": 2, "b": 100})


def test_huge_powers_stay_bounded() -> None:
    # Nested literal powers would be astronomically large integers; floats overflow instead.
    expr = parse_expression("((((9 ** 64) ** 64) ** 64) ** 64) > a")
    with pytest.raises(UndefinedValue, match=r"overflows|not a real number"):
        expr.evaluate({"a": 1})
    assert Constraint("((9 ** 64) ** 64) ** 64 > a").holds({"a": 1}) is False


_ALPHABET = "ab1234567890.+-*/%()<>=!&|~^,:;[]{}'\" _eEjnotadrifxlmbs\\\n\t@#$`?"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=80) | st.text(max_size=40))
def test_fuzz_parser_raises_only_the_documented_error(text: str) -> None:
    try:
        expr = parse_expression(text, names=["a", "b"])
    except ConstraintError:
        return
    for a in (0, 1, -2.5, 7):
        with contextlib.suppress(ConstraintError, UndefinedValue):
            expr.evaluate({"a": a, "b": 3})


_leaf = (
    st.sampled_from(["a", "b"])
    | st.integers(-1000, 1000).map(str)
    | st.floats(-1e6, 1e6, allow_nan=False).map(repr)
)


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and"])
    return (
        st.tuples(inner, binop, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        | inner.map(lambda e: f"-({e})")
        | inner.map(lambda e: f"not ({e})")
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_leaf, _grow, max_leaves=25), st.floats(-100, 100), st.integers(-5, 5))
def test_fuzz_grammar_evaluates_or_raises_the_documented_errors(
    text: str, a: float, b: int
) -> None:
    # Expressions built from the allowed grammar: parsing may refuse (length, depth, exponent),
    # evaluation may refuse types or undefined arithmetic; nothing else escapes.
    try:
        expr = parse_expression(text, names=["a", "b"])
    except ConstraintError:
        return
    with contextlib.suppress(ConstraintError, UndefinedValue):
        expr.evaluate({"a": a, "b": b})
