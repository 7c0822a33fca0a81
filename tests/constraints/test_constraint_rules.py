from __future__ import annotations

import math

import pytest

from lightning_autotune.constraints import (
    ActionKind,
    Constraint,
    OutcomeConstraint,
    ParameterRule,
    Sense,
)
from lightning_autotune.exceptions import ConstraintError
from lightning_autotune.space import Categorical, Float, Int, SearchSpace


def test_constraint_holds_and_inactive_names() -> None:
    c = Constraint("hidden_dim >= 4 * embedding_dim")
    assert c.holds({"hidden_dim": 128, "embedding_dim": 32})
    assert not c.holds({"hidden_dim": 64, "embedding_dim": 32})
    # embedding_dim inactive: the constraint does not bind.
    assert c.holds({"hidden_dim": 8})
    # Undefined arithmetic means infeasible, not an error.
    assert not Constraint("a / b >= 1").holds({"a": 1, "b": 0})
    assert c.names == {"hidden_dim", "embedding_dim"}


def test_constraint_check_names() -> None:
    with pytest.raises(ConstraintError, match=r"name\(s\) \['hiden'\] are not parameters"):
        Constraint("hiden > 1").check_names(["hidden"])
    with pytest.raises(ConstraintError, match="name 'x' is not allowed"):
        Constraint("x > 1", names=["a"])


@pytest.mark.parametrize(
    ("action", "kind", "target", "value"),
    [
        ("scale learning_rate by 0.5", ActionKind.SCALE, "learning_rate", 0.5),
        ("scale  learning_rate  by 2x", ActionKind.SCALE, "learning_rate", 2.0),
        ("increase_learning_rate_by_0.5x", ActionKind.SCALE, "learning_rate", 1.5),
        ("decrease_learning_rate_by_0.25x", ActionKind.SCALE, "learning_rate", 0.75),
        ("scale_learning_rate_by_0.5x", ActionKind.SCALE, "learning_rate", 0.5),
        ("multiply_lr_by_3x", ActionKind.SCALE, "lr", 3.0),
        ("set dropout to 0.1", ActionKind.SET, "dropout", 0.1),
        ("set layers to 3", ActionKind.SET, "layers", 3),
        ("set optimizer to 'sgd'", ActionKind.SET, "optimizer", "sgd"),
        ("set use_bn to True", ActionKind.SET, "use_bn", True),
    ],
)
def test_action_grammar(action: str, kind: ActionKind, target: str, value: object) -> None:
    rule = ParameterRule("batch_size > 64", action)
    assert (rule.kind, rule.target) == (kind, target)
    assert rule.value == pytest.approx(value) if isinstance(value, float) else rule.value == value


@pytest.mark.parametrize(
    ("action", "match"),
    [
        ("double the lr", "is not understood"),
        ("scale lr by -1", r"the factor must be a finite number > 0, got -1.0"),
        ("decrease_lr_by_1.5x", "needs 0 < F < 1"),
        ("set lr to os.system", "must be a number, True, False or a quoted string"),
        ("increase_lr_by_1e999x", "not a finite number"),
    ],
)
def test_bad_actions(action: str, match: str) -> None:
    with pytest.raises(ConstraintError, match=match):
        ParameterRule("batch_size > 64", action)


def test_rule_applies_and_clips() -> None:
    space = SearchSpace(
        {
            "batch_size": Int(16, 256),
            "learning_rate": Float(1e-4, 1e-2, log=True),
            "layers": Int(1, 8),
        }
    )
    rule = ParameterRule("batch_size > 64", "increase_learning_rate_by_0.5x")
    assert rule.apply({"batch_size": 128, "learning_rate": 0.002}, space)[
        "learning_rate"
    ] == pytest.approx(0.003)
    assert rule.apply({"batch_size": 128, "learning_rate": 0.009}, space)["learning_rate"] == 1e-2
    unchanged = {"batch_size": 32, "learning_rate": 0.002}
    assert rule.apply(unchanged, space) == unchanged
    grow = ParameterRule("batch_size > 64", "scale layers by 1.6")
    assert grow.apply({"batch_size": 100, "layers": 3}, space)["layers"] == 5
    assert grow.apply({"batch_size": 100, "layers": 6}, space)["layers"] == 8
    # The target inactive (absent): nothing happens.
    assert grow.apply({"batch_size": 100}, space) == {"batch_size": 100}


def test_rule_check_against_space() -> None:
    space = SearchSpace({"batch_size": Int(16, 256), "opt": Categorical(["adam", "sgd"])})
    with pytest.raises(ConstraintError, match="'opt' is categorical and cannot be scaled"):
        ParameterRule("batch_size > 64", "scale opt by 2").check(space)
    with pytest.raises(ConstraintError, match="'rmsprop' is not a value 'opt' can take"):
        ParameterRule("batch_size > 64", "set opt to 'rmsprop'").check(space)
    with pytest.raises(ConstraintError, match=r"\['lr'\] are not parameters"):
        ParameterRule("batch_size > 64", "scale lr by 2").check(space)
    ParameterRule("batch_size > 64", "set opt to 'sgd'").check(space)


@pytest.mark.parametrize(
    ("text", "metric", "sense", "bound"),
    [
        ("val_loss <= 0.5", "val_loss", Sense.AT_MOST, 0.5),
        ("latency_ms < 20", "latency_ms", Sense.AT_MOST, 20.0),
        ("accuracy >= 0.9", "accuracy", Sense.AT_LEAST, 0.9),
        ("0.9 <= accuracy", "accuracy", Sense.AT_LEAST, 0.9),
        ("-1 > margin", "margin", Sense.AT_MOST, -1.0),
    ],
)
def test_outcome_constraint(text: str, metric: str, sense: Sense, bound: float) -> None:
    c = OutcomeConstraint(text)
    assert (c.metric, c.sense, c.bound) == (metric, sense, bound)


def test_outcome_violation() -> None:
    c = OutcomeConstraint("val_loss <= 0.5")
    assert c.violation(0.4) < 0 and c.is_satisfied(0.4)
    assert c.violation(0.6) == pytest.approx(0.1) and not c.is_satisfied(0.6)
    assert not c.is_satisfied(math.nan)
    assert OutcomeConstraint("acc >= 0.9").violation(0.8) == pytest.approx(0.1)


@pytest.mark.parametrize("text", ["a <= b", "a + 1 <= 2", "a == 1", "0 < a < 1", "a", "f(a) < 1"])
def test_outcome_constraint_shape(text: str) -> None:
    with pytest.raises(ConstraintError, match="outcome constraint"):
        OutcomeConstraint(text)
