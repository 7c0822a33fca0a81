"""PB2's explore step: a time-aware GP bandit over the improvement members made per interval.

Imports BoTorch (inside `pb2_suggest` only).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["pb2_suggest"]


def pb2_suggest(
    X: np.ndarray,
    y: np.ndarray,
    *,
    t_now: float,
    base: np.ndarray,
    beta: float = 2.0,
    n_candidates: int = 512,
    seed: int = 0,
) -> np.ndarray | None:
    """Hyperparameters (encoded) with the highest upper confidence bound of improvement.

    A GP (BoTorch `SingleTaskGP`, ARD Matern kernel) is fitted over `(t, x) -> y`. Time is an
    input with its own lengthscale, so old intervals weigh less when the data say the landscape
    moved: a simpler stand-in for the time-varying kernel of Parker-Holder et al. (2020). The
    bound `mean + sqrt(beta) * std` is maximized at `t = t_now` over random candidates and
    perturbations of `base`.

    Args:
        X: `n x (1 + d)` rows: the boundary, then `d` hyperparameter columns in [0, 1].
        y: `n` improvements (higher is better).
        t_now: The boundary the suggestion is for.
        base: `d`, the copied member's encoded hyperparameters.
        beta: Exploration weight of the bound.
        n_candidates: Candidates scored.
        seed: Seed of the candidates.

    Returns:
        `d` encoded columns, or None when the GP could not be fitted (the caller falls back).
    """
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    n, width = X.shape
    d = width - 1
    if n < 2 or d < 1 or not np.all(np.isfinite(y)) or float(np.std(y)) == 0.0:
        return None
    rng = np.random.default_rng(seed)
    t_scale = max(float(X[:, 0].max()), t_now, 1.0)
    train_x = torch.tensor(np.column_stack([X[:, 0] / t_scale, X[:, 1:]]), dtype=torch.float64)
    train_y = torch.tensor(y, dtype=torch.float64).unsqueeze(-1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SingleTaskGP(
                train_x,
                train_y,
                input_transform=Normalize(d=1 + d, bounds=_unit_bounds(1 + d)),
                outcome_transform=Standardize(m=1),
            )
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    except Exception:  # a failed fit falls back to PBT's explore step
        return None
    near = np.clip(base + rng.normal(0.0, 0.1, (n_candidates // 2, d)), 0.0, 1.0)
    cand = np.vstack([rng.random((n_candidates - len(near), d)), near])
    cand_x = torch.tensor(np.column_stack([np.full(len(cand), t_now / t_scale), cand]))
    with torch.no_grad():
        post = model.posterior(cand_x)
        ucb = post.mean.squeeze(-1) + np.sqrt(beta) * post.variance.clamp_min(0).sqrt().squeeze(-1)
    return np.asarray(cand[int(torch.argmax(ucb))])


def _unit_bounds(width: int) -> Any:
    import torch

    return torch.stack([torch.zeros(width), torch.ones(width)]).to(torch.float64)
