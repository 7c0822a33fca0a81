from __future__ import annotations

import math

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.stages import Narrowing, narrow_space

SPACE = SearchSpace(
    {
        "lr": Float(1e-5, 1e-1, log=True),
        "hidden": Int(4, 64),
        "optimizer": Categorical(["adam", "sgd", "rmsprop"]),
        "dropout": Float(0.0, 0.5),
    }
)


def test_log_parameter_box_is_symmetric_on_the_log_scale():
    best = [{"lr": 1e-3, "hidden": 16, "optimizer": "adam", "dropout": 0.2}]
    new, changes = narrow_space(SPACE, best, Narrowing(top_k=1, margin=0.25))
    # the range spans 4 decades: a 0.25 margin is one decade on each side of 1e-3
    assert math.isclose(new["lr"].low, 1e-4) and math.isclose(new["lr"].high, 1e-2)
    lr_change = next(c for c in changes if c.name == "lr")
    assert "log scale" in lr_change.reason
    assert lr_change.before == SPACE["lr"].to_dict()


def test_box_covers_every_best_value_with_a_linear_margin():
    best = [
        {"lr": 1e-3, "hidden": 10, "optimizer": "adam", "dropout": 0.1},
        {"lr": 2e-3, "hidden": 20, "optimizer": "adam", "dropout": 0.3},
    ]
    new, _ = narrow_space(SPACE, best, Narrowing(top_k=2, margin=0.1))
    assert math.isclose(new["dropout"].low, 0.05) and math.isclose(new["dropout"].high, 0.35)
    # 10% of the 60-wide integer range is 6; integers round outward
    assert (new["hidden"].low, new["hidden"].high) == (4, 26)


def test_categorical_keeps_only_choices_among_the_best_in_user_order():
    best = [
        {"lr": 1e-3, "hidden": 10, "optimizer": "sgd", "dropout": 0.1},
        {"lr": 1e-3, "hidden": 10, "optimizer": "adam", "dropout": 0.1},
    ]
    new, changes = narrow_space(SPACE, best, Narrowing(top_k=2, margin=0.0))
    assert new["optimizer"].choices == ("adam", "sgd")
    assert any(c.name == "optimizer" and c.after["values"] == ["adam", "sgd"] for c in changes)


def test_clipped_to_the_user_ranges_and_integers_keep_two_values():
    best = [{"lr": 1e-1, "hidden": 64, "optimizer": "adam", "dropout": 0.5}]
    new, _ = narrow_space(SPACE, best, Narrowing(top_k=1, margin=0.0))
    assert new["lr"].high == 1e-1 and new["dropout"].high == 0.5
    assert (new["hidden"].low, new["hidden"].high) == (63, 64)


def test_kept_parameters_are_not_narrowed():
    best = [{"lr": 1e-3, "hidden": 16, "optimizer": "adam", "dropout": 0.2}]
    new, changes = narrow_space(SPACE, best, Narrowing(top_k=1), keep=["hidden"])
    assert new["hidden"] == SPACE["hidden"]
    assert "hidden" not in {c.name for c in changes}


def test_no_best_trial_is_an_empty_space_error():
    with pytest.raises(ConfigError, match=r"completed no trial.*narrow=None"):
        narrow_space(SPACE, [], Narrowing())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_k": 0}, "top_k must be a whole number >= 1, got 0"),
        ({"quantile": 0.0}, r"quantile must be in \(0, 1\], got 0.0"),
        ({"margin": -0.1}, r"margin must be in \[0, 1\].*got -0.1"),
    ],
)
def test_bad_narrowing_is_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Narrowing(**kwargs)


def test_quantile_takes_a_share_of_the_completed_trials():
    assert Narrowing(quantile=0.25).how_many(10) == 3
    assert Narrowing(top_k=5).how_many(3) == 3


def test_stage_params_hold_a_user_fidelity_at_one_value():
    from lightning_autotune.stages._narrow import stage_space

    new, changes = stage_space(SPACE, {"hidden": 8}, "fidelity of this stage")
    assert new["hidden"].choices == (8,)
    assert changes[0].before == SPACE["hidden"].to_dict() and changes[0].after["values"] == [8]
    with pytest.raises(ConfigError, match=r"hidden=100 is outside the parameter's range"):
        stage_space(SPACE, {"hidden": 100}, "fidelity of this stage")


def test_grid_floats_stay_on_the_users_grid():
    space = SearchSpace({"d": Float(0.0, 1.0, step=0.1)})
    new, _ = narrow_space(space, [{"d": 0.3}], Narrowing(top_k=1, margin=0.05))
    assert new["d"].step == 0.1
    assert (new["d"].low, new["d"].high) == (0.2, 0.4)
