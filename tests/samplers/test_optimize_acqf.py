"""The acquisition search over the encoded cube, and the box it can be held in."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_autotune.samplers._optimize_acqf import Box, box_columns, optimize_acquisition
from lightning_autotune.space import Categorical, Float, Int, SearchSpace


def _peak_at(target: np.ndarray):  # type: ignore[no-untyped-def]
    """An acquisition (`b x 1 x d` -> `b`) whose maximum is at `target`."""
    t = torch.from_numpy(target)

    def acqf(X: torch.Tensor) -> torch.Tensor:
        return -((X[..., 0, :] - t) ** 2).sum(-1)

    return acqf


def test_box_columns_are_the_continuous_ones_of_parameters_always_active() -> None:
    space = SearchSpace(
        {
            "lr": Float(1e-4, 1.0, log=True),
            "layers": Int(1, 4),
            "opt": Categorical(["sgd", "adam"]),
            "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
            "width": Float(0.0, 1.0),
        }
    )
    spans = {name: space.column_span(name) for name in space.names}
    assert box_columns(space).tolist() == [spans["lr"][0], spans["width"][0]]
    box = Box.around(space, np.full(space.dim, 0.5), 0.1)
    free = [i for i in range(space.dim) if i not in box_columns(space)]
    assert np.allclose(box.lower[box_columns(space)], 0.4)
    assert np.allclose(box.upper[box_columns(space)], 0.6)
    assert box.lower[free].tolist() == [0.0] * len(free)
    assert box.upper[free].tolist() == [1.0] * len(free)


def test_a_box_is_cut_to_the_cube() -> None:
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    box = Box.around(space, np.array([0.05, 0.9]), 0.2)
    assert box.lower.tolist() == pytest.approx([0.0, 0.7])
    assert box.upper.tolist() == pytest.approx([0.25, 1.0])


def test_the_search_stays_in_the_box_when_the_maximum_is_outside() -> None:
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    acqf = _peak_at(np.array([0.9, 0.9]))
    free = optimize_acquisition(
        acqf, space, anchors=np.zeros((0, 2)), avoid=np.zeros((0, 2)), seed=0
    )
    assert free is not None
    assert free == pytest.approx([0.9, 0.9], abs=1e-4)
    box = Box.around(space, np.array([0.3, 0.5]), 0.1)
    held = optimize_acquisition(
        acqf,
        space,
        anchors=np.array([[0.3, 0.5], [0.95, 0.95]]),  # an anchor outside is clipped into it
        avoid=np.zeros((0, 2)),
        seed=0,
        box=box,
    )
    assert held is not None
    assert held == pytest.approx([0.4, 0.6], abs=1e-6)  # the corner nearest the peak


def _search_with_choices(best_choice: str) -> dict[str, object]:
    """Where the search goes when the acquisition peaks at x=0.9 with `best_choice`, held in a
    box around x=0.2 that belongs to the choice "a"."""
    space = SearchSpace({"x": Float(0.0, 1.0), "c": Categorical(["a", "b", "c"])})
    target = space.encode([{"x": 0.9, "c": best_choice}])[0]
    box = Box.around(space, space.encode([{"x": 0.2, "c": "a"}])[0], 0.05)
    x = optimize_acquisition(
        _peak_at(target),
        space,
        anchors=np.zeros((0, space.dim)),
        avoid=np.zeros((0, space.dim)),
        seed=0,
        box=box,
    )
    assert x is not None
    return space.decode(x[None, :])[0]


def test_a_box_bounds_only_the_points_making_its_choices() -> None:
    assert _search_with_choices("a") == {"x": pytest.approx(0.25, abs=1e-6), "c": "a"}
    # another choice is searched in the whole cube: its x may mean something else
    assert _search_with_choices("c") == {"x": pytest.approx(0.9, abs=1e-4), "c": "c"}


def test_a_box_knows_which_points_it_bounds() -> None:
    space = SearchSpace(
        {
            "opt": Categorical(["sgd", "adam"]),
            "lr": Float(1e-4, 1.0, log=True),
            "nesterov": Categorical([False, True], when={"opt": "sgd"}),
        }
    )
    center = space.encode([{"opt": "sgd", "lr": 1e-2, "nesterov": True}])[0]
    box = Box.around(space, center, 0.1)
    points = space.encode(
        [
            {"opt": "sgd", "lr": 1.0, "nesterov": False},  # a conditional choice: still held
            {"opt": "adam", "lr": 1.0},
        ]
    )
    assert box.holds(points).tolist() == [True, False]
    lr = space.column_span("lr")[0]
    assert box.clip(points)[:, lr] == pytest.approx([0.6, 1.0])


def test_a_step_onto_the_boxs_choice_lands_in_the_box() -> None:
    space = SearchSpace({"x": Float(0.0, 1.0), "c": Categorical(["a", "b", "c"])})
    x_col, a_col = space.column_span("x")[0], space.column_span("c")[0]

    def acqf(X: torch.Tensor) -> torch.Tensor:  # x near 0.9 matters most; choice "a" a bonus
        X = X[..., 0, :]
        return -10 * (X[..., x_col] - 0.9) ** 2 + X[..., a_col]

    box = Box.around(space, space.encode([{"x": 0.2, "c": "a"}])[0], 0.05)
    x = optimize_acquisition(
        acqf,
        space,
        anchors=np.zeros((0, space.dim)),
        avoid=np.zeros((0, space.dim)),
        seed=0,
        box=box,
    )
    assert x is not None
    # "a" at x=0.9 would score best, but it is outside the box; "a" inside it scores less
    config = space.decode(x[None, :])[0]
    assert config["c"] != "a"
    assert config["x"] == pytest.approx(0.9, abs=1e-4)
