from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning_autotune.constraints import Constraint, ParameterRule
from lightning_autotune.exceptions import ConstraintError
from lightning_autotune.samplers import RandomSampler, SobolSampler
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.study import create_study


def _space(**kw: object) -> SearchSpace:
    return SearchSpace(
        {
            "embedding_dim": Int(8, 64),
            "hidden_dim": Int(16, 256),
            "batch_size": Categorical([16, 32, 64, 128, 256]),
            "learning_rate": Float(1e-4, 1e-1, log=True),
            "optimizer": Categorical(["adam", "sgd"]),
            "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
        },
        **kw,  # type: ignore[arg-type]
    )


CONSTRAINTS = ["hidden_dim >= 4 * embedding_dim", "momentum <= 0.9", "learning_rate < 0.05"]
RULES = [ParameterRule("batch_size > 64", "increase_learning_rate_by_0.5x")]


def test_constraints_bound_and_serialized() -> None:
    space = _space(constraints=CONSTRAINTS, rules=RULES)
    assert [c.text for c in space.constraints] == CONSTRAINTS
    d = space.to_dict()
    assert d["_constraints"] == CONSTRAINTS
    assert d["_rules"] == [
        {"condition": "batch_size > 64", "action": "increase_learning_rate_by_0.5x"}
    ]
    again = SearchSpace.from_dict(d)
    assert again == space and again.rules == space.rules
    assert "_constraints" not in _space().to_dict()
    yaml_again = SearchSpace.from_yaml(space.to_yaml())
    assert yaml_again.constraints == space.constraints


def test_bad_constraints_in_space() -> None:
    with pytest.raises(ConstraintError, match=r"\['hiden_dim'\] are not parameters"):
        _space(constraints=["hiden_dim >= 4 * embedding_dim"])
    with pytest.raises(ConstraintError, match="constraints must be a list of strings"):
        _space(constraints="hidden_dim > 1")
    with pytest.raises(ConstraintError, match="not allowed: function calls"):
        _space(constraints=["abs(hidden_dim) > 1"])
    with pytest.raises(ConstraintError, match="needs exactly the keys 'condition' and 'action'"):
        _space(rules=[{"if": "batch_size > 64", "action": "scale learning_rate by 2"}])


def test_validate_checks_constraints() -> None:
    space = _space(constraints=CONSTRAINTS)
    ok = {"embedding_dim": 8, "hidden_dim": 64, "batch_size": 16, "learning_rate": 0.01}
    assert space.validate({**ok, "optimizer": "adam"})
    with pytest.raises(ConstraintError, match=r"violates the constraint 'hidden_dim >= 4 \*"):
        space.validate({**ok, "optimizer": "adam", "hidden_dim": 16})
    with pytest.raises(ConstraintError, match=r"'momentum <= 0\.9'"):
        space.validate({**ok, "optimizer": "sgd", "momentum": 0.95})


def test_empty_feasible_region_raises() -> None:
    space = _space(constraints=["hidden_dim < embedding_dim - 100"])
    with pytest.raises(ConstraintError, match=r"found 0 feasible configuration\(s\) in \d+"):
        space.sample(2, seed=0)


def test_sobol_feasible_subsequence_does_not_repeat() -> None:
    space = _space(constraints=CONSTRAINTS)
    first = space.sample_sobol(4, seed=1)
    rest = space.sample_sobol(4, seed=1, start=4)
    assert space.sample_sobol(8, seed=1) == first + rest
    assert all(space.is_feasible(c) for c in first + rest)


def test_unconstrained_sampling_unchanged() -> None:
    space = _space()
    assert space.sample(3, seed=0) == space.decode(
        __import__("numpy").random.default_rng(0).random((3, space.dim))
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    ratio=st.integers(1, 4),
    lr_cap=st.floats(2e-4, 0.1),
    sobol=st.booleans(),
)
def test_every_sampled_config_satisfies_the_constraints(
    seed: int, ratio: int, lr_cap: float, sobol: bool
) -> None:
    constraints = [
        Constraint(f"hidden_dim >= {ratio} * embedding_dim"),
        Constraint(f"learning_rate <= {lr_cap!r}"),
        Constraint("optimizer == 'adam' or momentum * batch_size <= 100"),
    ]
    space = _space(constraints=constraints, rules=RULES)
    configs = space.sample_sobol(6, seed=seed) if sobol else space.sample(6, seed=seed)
    for config in configs:
        assert all(c.holds(config) for c in constraints), config
        assert space.validate(config) == config
        if config["batch_size"] > 64:
            assert config["learning_rate"] <= lr_cap


@pytest.mark.parametrize("sampler", [RandomSampler(), SobolSampler(seed=3)])
def test_study_with_constraints(sampler: object) -> None:
    space = _space(constraints=CONSTRAINTS, rules=RULES)
    study = create_study(space=space, sampler=sampler)  # type: ignore[arg-type]
    for _ in range(6):
        trial = study.ask()
        assert space.is_feasible(trial.params)
        study.tell(trial, float(trial.params["hidden_dim"]))
    assert study.space.constraints == space.constraints
