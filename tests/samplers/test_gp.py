"""The GP surrogate: its closed-form MAP fit, its resolution, and the warping of its outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_autotune.samplers._gp import (
    _MapObjective,
    fit_hyperparameters,
    gp_model,
    standardize,
    warp_outcomes,
)


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fits_stopping_rule_lands_next_to_scipys_default(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning_autotune.samplers import _gp

    rng = np.random.default_rng(seed)
    X = torch.from_numpy(rng.random((80, 5)))
    y = warp_outcomes(-(np.sin(4 * X.numpy()).sum(-1) + 0.3 * X[:, 0].numpy() ** 2))
    loose = fit_hyperparameters(X, y)
    monkeypatch.setattr(_gp, "_FIT_FTOL", 2.220446049250313e-09)  # SciPy's default factr 1e7
    tight = fit_hyperparameters(X, y)
    d = X.shape[1]
    objective = _MapObjective(
        X, standardize(y), True, ls_loc=math.sqrt(2.0) + 0.5 * math.log(d), ls_scale=math.sqrt(3)
    )

    def nll(h: _gp.GPHyper) -> float:
        z = np.array([*np.log(h.lengthscales), math.log(h.noise), h.mean])
        return float(objective(z)[0])

    assert nll(loose) - nll(tight) < 0.01
    assert np.max(np.abs(np.log(loose.lengthscales) - np.log(tight.lengthscales))) < 0.1


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


def _branin(u: np.ndarray) -> np.ndarray:
    x1, x2 = u[:, 0] * 15.0 - 5.0, u[:, 1] * 15.0
    b = x2 - 5.1 / (4.0 * math.pi**2) * x1**2 + 5.0 / math.pi * x1 - 6.0
    return b * b + 10.0 * (1.0 - 1.0 / (8.0 * math.pi)) * np.cos(x1) + 10.0


def test_the_model_resolves_values_near_a_deterministic_optimum() -> None:
    # Branin on 32 Sobol points plus 6 within about 1e-3 of a minimizer; at 6 more such points
    # the regrets are 4e-4 to 7e-3 (outputs span about 300). A noise floor of 1e-6 gave
    # posterior-mean errors of that size (median 9e-4), too coarse to rank them; 1e-8 gives 9e-5.
    from scipy.stats import qmc

    best = np.array([math.pi + 5.0, 2.275]) / 15.0
    rng = np.random.default_rng(0)
    X = np.concatenate([qmc.Sobol(2, seed=0).random(32), best + 1e-3 * rng.normal(size=(6, 2))])
    y = -_branin(X)  # the model maximizes
    Xt = torch.tensor(X)
    model = gp_model(Xt, torch.tensor(y[:, None]), fit_hyperparameters(Xt, y))
    probes = best + 1e-3 * rng.normal(size=(6, 2))
    with torch.no_grad():
        mean = model.posterior(torch.tensor(probes)).mean[:, 0].numpy()
    assert np.median(np.abs(mean + _branin(probes))) < 3e-4


def test_warping_keeps_the_order_and_shrinks_the_skew() -> None:
    from scipy.stats import skew

    y = np.random.default_rng(0).lognormal(0.0, 1.5, size=60)  # a long tail of bad values
    warped = warp_outcomes(y)
    assert np.array_equal(np.argsort(warped), np.argsort(y))
    assert skew(y) > 2.4
    assert abs(skew(warped)) < 0.5


@pytest.mark.parametrize("n", [25, 400])
def test_warping_agrees_with_scipys_yeo_johnson(n: int) -> None:
    from scipy.stats import yeojohnson

    y = -np.random.default_rng(n).lognormal(0.0, 1.5, size=n)
    np.testing.assert_allclose(warp_outcomes(y), yeojohnson(standardize(y))[0], atol=1e-6)


@pytest.mark.parametrize("y", [[3.0, 3.0, 3.0, 3.0], [1.0, 1.0, 2.0, 2.0], [5.0]])
def test_too_few_distinct_values_are_only_standardized(y: list[float]) -> None:
    np.testing.assert_array_equal(warp_outcomes(np.array(y)), standardize(np.array(y)))


def _rosenbrock(u: np.ndarray) -> np.ndarray:
    x = u * 15.0 - 5.0
    return np.sum(100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1.0 - x[:, :-1]) ** 2, axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warped_outcomes_rank_unseen_points_better(seed: int) -> None:
    # Rosenbrock spans five orders of magnitude: fitted to its raw values the GP's mean orders
    # 500 random points with Spearman 0.90-0.95 (seeds 0-4), to the warped ones 0.96-0.99.
    from scipy.stats import qmc, spearmanr

    X = qmc.Sobol(4, seed=seed).random(32)
    probes = np.random.default_rng(seed).random((500, 4))
    Xt = torch.tensor(X)
    rho = []
    for y in (standardize(-_rosenbrock(X)), warp_outcomes(-_rosenbrock(X))):
        model = gp_model(Xt, torch.tensor(y[:, None]), fit_hyperparameters(Xt, y))
        with torch.no_grad():
            mean = model.posterior(torch.tensor(probes)).mean[:, 0].numpy()
        rho.append(spearmanr(mean, -_rosenbrock(probes))[0])
    assert rho[1] > rho[0] + 0.02
