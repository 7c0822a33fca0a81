"""The closed-form MAP objective of the GP fit, against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_autotune.samplers._gp import _MapObjective, fit_hyperparameters, standardize


@pytest.mark.parametrize("matern", [True, False])
def test_gradient_matches_finite_differences(matern: bool) -> None:
    rng = np.random.default_rng(3)
    X = torch.from_numpy(rng.random((25, 3)))
    y = standardize(np.sin(5 * X.numpy()).sum(-1))
    objective = _MapObjective(X, y, matern, ls_loc=1.9, ls_scale=math.sqrt(3.0))
    z = np.array([math.log(0.3), math.log(0.8), math.log(1.5), math.log(0.01), 0.2])
    _, grad = objective(z)
    h = 1e-6
    for j in range(len(z)):
        e = np.zeros_like(z)
        e[j] = h
        fd = (objective(z + e)[0] - objective(z - e)[0]) / (2 * h)
        assert grad[j] == pytest.approx(fd, rel=1e-4, abs=1e-5)


def test_fit_recovers_the_informative_dimension() -> None:
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.random((40, 3)))
    y = np.sin(6 * X[:, 0].numpy())  # only the first column matters
    hyper = fit_hyperparameters(X, y)
    assert hyper.lengthscales[0] < min(hyper.lengthscales[1:]) / 3
    assert hyper.noise < 1e-2  # a noiseless function is interpolated


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_fit_refuses_non_finite_data(bad: float) -> None:
    X = torch.rand(6, 2, dtype=torch.float64)
    y = np.arange(6, dtype=np.float64)
    y[2] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        fit_hyperparameters(X, y)
    X[1, 0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        fit_hyperparameters(X, np.arange(6, dtype=np.float64))
