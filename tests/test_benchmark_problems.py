"""The benchmark problems: known optima where the module says, moved off the centre."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks._functions import PROBLEMS, _problems
from lightning_autotune.space import Float


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_the_minimizer_is_in_the_space_and_reaches_the_optimum(name):
    problem = PROBLEMS[name]
    assert problem.minimizer is not None
    problem.space.encode([problem.minimizer])  # raises if a value is out of its range
    assert problem.objective(problem.minimizer) == pytest.approx(problem.optimum, abs=1e-6)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_no_random_configuration_beats_the_optimum(name):
    problem = PROBLEMS[name]
    values = [problem.objective(c) for c in problem.space.sample(500, seed=1)]
    assert min(values) >= problem.optimum - 1e-9


@pytest.mark.parametrize("name", ["ackley4", "levy4", "rosenbrock4", "levy20", "mixed"])
def test_optima_are_off_the_centre_and_off_integer_grid_points(name):
    problem = PROBLEMS[name]
    floats = [k for k in problem.minimizer if isinstance(problem.space[k], Float)]
    unit = problem.space.encode([problem.minimizer])[0]
    spans = [problem.space.column_span(k)[0] for k in floats]
    assert np.all(np.abs(unit[spans] - 0.5) > 1e-3)
    assert np.max(np.abs(unit[spans] - 0.5)) > 0.03
    values = np.array([problem.minimizer[k] for k in floats])
    assert np.all(np.abs(values - np.round(values)) > 1e-3)


def test_the_shifts_are_fixed():
    again = {p.name: p.minimizer for p in _problems()}
    assert again == {name: p.minimizer for name, p in PROBLEMS.items()}


def test_embedded_hartmann_reads_six_of_its_columns():
    problem = PROBLEMS["hartmann6_d20"]
    at = dict(problem.minimizer)
    read = 0
    for k, v in at.items():
        moved = {**at, k: 1.0 - v if abs(v - 0.5) > 0.1 else v + 0.4}
        read += problem.objective(moved) > problem.optimum + 1e-6
    assert read == 6
