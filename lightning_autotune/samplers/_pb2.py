"""PB2's explore step: a time-varying GP bandit over the improvement members made per interval.

Imports BoTorch (inside the functions only).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

__all__ = ["pb2_beta", "pb2_suggest"]

EPSILON_BOUNDS = (1e-5, 0.5)
"""Range of the forgetting parameter: at 0.5 an interval ago still correlates at sqrt(0.5)."""


def pb2_beta(n: int) -> float:
    """The UCB weight for `n` observations: `0.2 + max(0, log(0.4 n))`.

    It grows with the logarithm of the data, as the schedule of Parker-Holder et al. (2020),
    with the constants of their experiments.
    """
    return 0.2 + max(0.0, math.log(0.4 * max(n, 1)))


def pb2_suggest(
    X: np.ndarray,
    y: np.ndarray,
    *,
    t_now: float,
    pending: np.ndarray | None = None,
    beta: float | None = None,
    n_candidates: int = 512,
    seed: int = 0,
) -> np.ndarray | None:
    """Hyperparameters (encoded) with the highest upper confidence bound of improvement at `t_now`.

    The GP of Parker-Holder et al. (2020): a squared-exponential kernel over the hyperparameters
    times the time kernel `(1 - eps) ** (|t - t'| / 2)`, whose forgetting parameter `eps` (in
    `EPSILON_BOUNDS`, fitted with the other hyperparameters) makes older intervals count less.
    Time is in intervals; hyperparameters are the space's [0, 1] encoding (so the bounds);
    improvements are standardized. The members still training over the coming interval are
    `pending`: the GP is conditioned on them at their posterior mean, which leaves the mean
    unchanged and shrinks the variance around them (as GP-BUCB), so the new member is sent
    elsewhere. The bound `mean + sqrt(beta) * std` is maximized over random candidates, then
    refined by L-BFGS-B.

    Args:
        X: `n x (1 + d)` rows: the boundary that ends an interval, then `d` columns in [0, 1].
        y: `n` improvements over those intervals (higher is better).
        t_now: The boundary that ends the interval the suggestion is for.
        pending: `m x d` hyperparameters of the members training over that interval.
        beta: Weight of the bound (None: `pb2_beta(n)`).
        n_candidates: Random candidates scored before the refinement.
        seed: Seed of the candidates.

    Returns:
        `d` encoded columns, or None when the GP could not be fitted (the caller falls back).
    """
    import torch
    from botorch.acquisition import UpperConfidenceBound
    from botorch.optim import optimize_acqf

    n, width = X.shape
    d = width - 1
    if n < 2 or d < 1 or not np.all(np.isfinite(y)) or float(np.std(y)) == 0.0:
        return None
    scaled = (y - float(np.mean(y))) / float(np.std(y))
    try:
        model = fit_tv_gp(X, scaled)
        if pending is not None and len(pending):
            at = np.column_stack([np.full(len(pending), t_now), np.asarray(pending, float)])
            model = condition_on_pending(model, at)
    except Exception:  # a failed fit falls back to PBT's explore step
        return None
    weight = pb2_beta(n) if beta is None else beta
    bounds = torch.tensor([[t_now] + [0.0] * d, [t_now] + [1.0] * d], dtype=torch.float64)
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        best, _ = optimize_acqf(
            UpperConfidenceBound(model, beta=weight),
            bounds=bounds,
            q=1,
            num_restarts=4,
            raw_samples=n_candidates,
            fixed_features={0: float(t_now)},
        )
    return np.clip(best.detach().numpy()[0, 1:], 0.0, 1.0)


def fit_tv_gp(X: np.ndarray, y: np.ndarray) -> Any:
    """A `SingleTaskGP` with PB2's time-varying kernel fitted to `(t, x) -> y` (y as given)."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from lightning_autotune.samplers._pb2_kernel import ForgettingKernel

    d = X.shape[1] - 1
    space = get_covar_module_with_dim_scaled_prior(ard_num_dims=d, active_dims=range(1, 1 + d))
    kernel = space * ForgettingKernel(active_dims=(0,), bounds=EPSILON_BOUNDS)
    train_x = torch.tensor(X, dtype=torch.float64)
    train_y = torch.tensor(y, dtype=torch.float64).unsqueeze(-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SingleTaskGP(train_x, train_y, covar_module=kernel, outcome_transform=None)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    return model


def condition_on_pending(model: Any, at: np.ndarray) -> Any:
    """`model` conditioned on its own mean at `at` (`m x (1 + d)`): same mean, less variance."""
    import torch

    x = torch.tensor(at, dtype=torch.float64)
    with torch.no_grad():
        mean = model.posterior(x).mean
    return model.condition_on_observations(x, mean)
