"""Fit the Gaussian-process surrogate of the BoTorch sampler (imports BoTorch lazily).

The model is BoTorch's `SingleTaskGP`: a constant mean, an ARD Matern-5/2 (or RBF) kernel whose
length scales carry BoTorch's dimension-scaled log-normal prior (Hvarfner et al., 2024), a
Gaussian likelihood with a Gamma(1.1, 30) noise prior and a 1e-6 floor (BoTorch's default
LogNormal(-4, 1) prior and 1e-4 floor blur deterministic objectives near the optimum), and
standardized outcomes. Its maximum-a-posteriori hyper-parameters are found by one L-BFGS-B run
on a direct transcription of that objective (what GPyTorch's marginal log likelihood computes,
without its per-call overhead), started from the prior modes, then loaded into the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP

__all__ = ["GPHyper", "fit_gp", "fit_hyperparameters", "max_history", "select_history"]

max_history = 300
"""Histories longer than this are thinned before fitting (see `select_history`)."""

_MIN_LENGTHSCALE = 0.025
_MIN_NOISE = 1e-6
_MAX_NOISE = 10.0
_NOISE_CONCENTRATION, _NOISE_RATE = 1.1, 30.0


@dataclass(frozen=True)
class GPHyper:
    """MAP hyper-parameters of the GP in standardized outcome units.

    Attributes:
        lengthscales: `d` kernel length scales.
        noise: Observation noise variance.
        mean: Constant prior mean.
        matern: Matern-5/2 kernel if True, else RBF.
    """

    lengthscales: tuple[float, ...]
    noise: float
    mean: float
    matern: bool


def select_history(y: np.ndarray, limit: int = max_history) -> np.ndarray:
    """Indices of the observations the surrogate is fitted on.

    Cubic cost in the number of points makes long histories slow, while the acquisition mostly
    cares about the region near the best points. Keeps the best half of `limit` observations and
    the most recent others, so the model still sees where it has been recently.

    Args:
        y: `n` lower-is-better scores, in trial order.
        limit: Largest number of observations to keep.

    Returns:
        Sorted indices into `y` (all of them when `n <= limit`).
    """
    n = len(y)
    if n <= limit:
        return np.arange(n)
    n_best = limit // 2
    best = np.argsort(y, kind="stable")[:n_best]
    rest = np.setdiff1d(np.arange(n), best)
    recent = rest[-(limit - n_best) :]
    return np.sort(np.concatenate([best, recent]))


def _standardize(y: np.ndarray) -> np.ndarray:
    std = float(np.std(y, ddof=1)) if len(y) > 1 else 1.0
    if not std > 1e-8:  # BoTorch's Standardize also falls back to 1 for a constant outcome
        std = 1.0
    return (y - y.mean()) / std


def _kernel(X: torch.Tensor, ls: torch.Tensor, matern: bool) -> torch.Tensor:
    import torch

    sq = _sqdist(X / ls)
    if not matern:
        return torch.exp(-0.5 * sq)
    r = torch.sqrt(sq + 1e-12) * math.sqrt(5.0)
    return (1.0 + r + r * r / 3.0) * torch.exp(-r)


def _sqdist(Z: torch.Tensor) -> torch.Tensor:
    norms = (Z * Z).sum(-1)
    return (norms[:, None] + norms[None, :] - 2.0 * Z @ Z.T).clamp_min(0.0)


def fit_hyperparameters(
    X: torch.Tensor, y: np.ndarray, *, matern: bool = True, maxiter: int = 100
) -> GPHyper:
    """MAP estimate of the GP hyper-parameters on standardized `y`.

    Args:
        X: `n x d` encoded points in [0, 1] (float64).
        y: `n` observations, higher is better (standardized inside).
        matern: Matern-5/2 kernel if True, else RBF.
        maxiter: Iteration cap of L-BFGS-B.

    Returns:
        The hyper-parameters (the prior mode when the optimizer fails).
    """
    import torch
    from scipy.optimize import minimize

    n, d = X.shape
    Y = torch.from_numpy(_standardize(y))
    ls_loc, ls_scale = math.sqrt(2.0) + 0.5 * math.log(d), math.sqrt(3.0)
    eye = torch.eye(n, dtype=X.dtype)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.from_numpy(z).requires_grad_(True)
        log_ls, log_noise, mean = zt[:d], zt[d], zt[d + 1]
        K = _kernel(X, torch.exp(log_ls), matern) + (torch.exp(log_noise) + 1e-8) * eye
        L = torch.linalg.cholesky(K)
        r = (Y - mean).unsqueeze(-1)
        a = torch.cholesky_solve(r, L)
        nll = 0.5 * (r * a).sum() + torch.log(torch.diagonal(L)).sum()
        # priors as densities over the positive values, as GPyTorch adds them (the log-normal
        # density of a length scale includes the 1 / l Jacobian)
        nll = nll + (0.5 * ((log_ls - ls_loc) / ls_scale) ** 2 + log_ls).sum()
        noise = torch.exp(log_noise)
        nll = nll - (_NOISE_CONCENTRATION - 1.0) * log_noise + _NOISE_RATE * noise
        (grad,) = torch.autograd.grad(nll, zt)
        return float(nll.item()), grad.numpy().copy()

    ls0 = max(math.exp(ls_loc - ls_scale**2), _MIN_LENGTHSCALE)
    noise0 = (_NOISE_CONCENTRATION - 1.0) / _NOISE_RATE
    z0 = np.array([math.log(ls0)] * d + [math.log(noise0), 0.0])
    bounds = [(math.log(_MIN_LENGTHSCALE), math.log(1e3))] * d
    bounds += [(math.log(_MIN_NOISE), math.log(_MAX_NOISE)), (-10.0, 10.0)]
    try:
        result = minimize(
            objective,
            z0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter},
        )
        z = result.x if np.all(np.isfinite(result.x)) else z0
    except (RuntimeError, ValueError):  # a non-PD matrix along the way: keep the prior mode
        z = z0
    return GPHyper(
        lengthscales=tuple(float(v) for v in np.exp(z[:d])),
        noise=float(np.exp(z[d])),
        mean=float(z[d + 1]),
        matern=matern,
    )


def fit_gp(X: torch.Tensor, y: torch.Tensor, *, matern: bool = True) -> SingleTaskGP:
    """Fit a BoTorch `SingleTaskGP` to (higher-is-better) observations.

    Args:
        X: `n x d` encoded points in [0, 1] (float64).
        y: `n x 1` observations, higher is better (float64).
        matern: Matern-5/2 kernel if True, else RBF.

    Returns:
        The model in eval mode, holding the MAP hyper-parameters.

    Raises:
        RuntimeError: The data are unusable (e.g. non-finite), so callers fall back.
    """
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    if not bool(torch.isfinite(X).all() and torch.isfinite(y).all()):
        raise RuntimeError("the training data contain non-finite numbers")
    hyper = fit_hyperparameters(X, y[:, 0].numpy(), matern=matern)
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    covar = get_covar_module_with_dim_scaled_prior(X.shape[-1], use_rbf_kernel=not matern)
    likelihood = GaussianLikelihood(
        noise_prior=GammaPrior(_NOISE_CONCENTRATION, _NOISE_RATE),
        noise_constraint=GreaterThan(_MIN_NOISE, transform=None),
    )
    model = SingleTaskGP(X, y, likelihood=likelihood, covar_module=covar)
    model.covar_module.lengthscale = torch.tensor([hyper.lengthscales], dtype=X.dtype)
    model.likelihood.noise = torch.tensor([hyper.noise], dtype=X.dtype)
    model.mean_module.constant = torch.tensor(hyper.mean, dtype=X.dtype)
    model.eval()
    return model
