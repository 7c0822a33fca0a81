"""Fit the Gaussian-process surrogate of the BoTorch sampler (imports BoTorch lazily).

The model is BoTorch's `SingleTaskGP`: a constant mean, an ARD Matern-5/2 (or RBF) kernel whose
length scales carry BoTorch's dimension-scaled log-normal prior (Hvarfner et al., 2024), a
Gaussian likelihood with a Gamma(1.1, 30) noise prior and a 1e-8 floor (BoTorch's default
LogNormal(-4, 1) prior and 1e-4 floor blur deterministic objectives near the optimum), and
standardized outcomes (which the sampler first reshapes with `warp_outcomes`). Its
maximum-a-posteriori hyper-parameters are found by one L-BFGS-B run on a direct transcription
of that objective (what GPyTorch's marginal log likelihood computes, without its per-call
overhead), started from the prior modes, then loaded into the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP

__all__ = [
    "MIN_NOISE",
    "NOISE_PRIOR",
    "GPHyper",
    "cross_kernel",
    "exp_neg",
    "fit_hyperparameters",
    "gp_model",
    "max_history",
    "select_history",
    "standardize",
    "warp_outcomes",
]

max_history = 300
"""Histories longer than this are thinned before fitting (see `select_history`)."""

_MIN_LENGTHSCALE = 0.025
MIN_NOISE = 1e-8
"""Floor of the noise variance of the standardized outcomes (both samplers' models).

A higher floor such as 1e-6 (a noise standard deviation of 1e-3 outcome standard deviations)
smooths over differences the search has already resolved: points 1e-4 either side of a
constraint boundary look alike, and near Branin's minimum the posterior mean is off by more than
the regrets of the points there (tests/samplers/test_gp.py pins both).
"""
_MAX_NOISE = 10.0
_SQRT5 = math.sqrt(5.0)
_FIT_FTOL = 1e-6
"""Relative change of the negative log posterior at which L-BFGS-B stops (SciPy's default is
2.2e-9). The iterations between the two move the log length scales and the objective by
amounts the acquisition cannot tell apart, and cost a sizeable share of a fit's evaluations."""
NOISE_PRIOR = (1.1, 30.0)
"""Concentration and rate of the Gamma prior on the noise variance (shared with the
multi-objective sampler's model)."""
_NOISE_CONCENTRATION, _NOISE_RATE = NOISE_PRIOR


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


def standardize(y: np.ndarray) -> np.ndarray:
    """`y` minus its mean, over its sample standard deviation (as BoTorch's `Standardize`)."""
    std = float(np.std(y, ddof=1)) if len(y) > 1 else 1.0
    if not std > 1e-8:  # BoTorch's Standardize also falls back to 1 for a constant outcome
        std = 1.0
    return (y - y.mean()) / std


def _kernel(X: torch.Tensor, ls: torch.Tensor, matern: bool) -> torch.Tensor:
    return cross_kernel(X, X, ls, matern)


def cross_kernel(A: torch.Tensor, B: torch.Tensor, ls: torch.Tensor, matern: bool) -> torch.Tensor:
    """Kernel matrix `a x b` between `a x d` and `b x d` points (unit output scale).

    Args:
        A: `a x d` points.
        B: `b x d` points.
        ls: `d` length scales.
        matern: Matern-5/2 if True, else RBF.
    """
    import torch

    sq = _sqdist(A / ls, B / ls)
    if not matern:
        return torch.exp(-0.5 * sq)
    r = torch.sqrt(sq + 1e-12) * math.sqrt(5.0)
    return (1.0 + r + r * r / 3.0) * torch.exp(-r)


def _sqdist(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    a2, b2 = (A * A).sum(-1), (B * B).sum(-1)
    return (a2[:, None] + b2[None, :] - 2.0 * A @ B.T).clamp_min(0.0)


def exp_neg(a: np.ndarray) -> np.ndarray:
    """`exp(-a)` of a float64 array, computed by PyTorch's vectorized exponential.

    NumPy's float64 `exp` is vectorized only on AVX-512 processors; elsewhere PyTorch's is
    several times faster, and every evaluation of the fit's objective and of the acquisition's
    gradient takes one over a kernel matrix.
    """
    import torch

    out = np.negative(a)
    torch.from_numpy(out).exp_()
    return out


class _MapObjective:
    """Negative log posterior of the GP hyper-parameters and its gradient, in closed form.

    The parameters are `z = (log length scales (d), log noise, constant mean)`. With
    `K = k(X, X) + (noise + 1e-8) I` and `alpha = K^{-1} (y - mean)`, the data term is
    `0.5 (y - mean)' alpha + log det(L)`; its derivative along any kernel parameter is
    `0.5 * sum((K^{-1} - alpha alpha') * dK)`. Writing that out in NumPy (instead of
    back-propagating through the Cholesky factorization in torch) makes one evaluation several
    times cheaper, which matters because L-BFGS-B calls it dozens of times per suggestion.
    The priors are added as GPyTorch adds them: a log-normal density on each length scale
    (with its `1 / l` Jacobian) and Gamma(1.1, 30) on the noise.
    """

    def __init__(
        self, X: torch.Tensor, y: np.ndarray, matern: bool, ls_loc: float, ls_scale: float
    ) -> None:
        Xn = X.detach().numpy() if hasattr(X, "detach") else np.asarray(X)
        self.matern = matern
        self.Y = np.asarray(y, dtype=np.float64)
        self.ls_loc, self.ls_scale = ls_loc, ls_scale
        self.X = np.asarray(Xn, dtype=np.float64)
        self.X2 = self.X * self.X
        self.d = Xn.shape[1]

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.linalg import lapack

        # n x n arrays are updated in place where possible: at a few hundred points the
        # temporaries of plain expressions cost as much as the arithmetic.
        d = self.d
        log_ls = z[:d]
        noise, mean = math.exp(z[d]), float(z[d + 1])
        inv_ls2 = np.exp(-2.0 * log_ls)
        Z = self.X * np.sqrt(inv_ls2)
        sq = np.einsum("ij,ij->i", Z, Z)
        r2 = Z @ Z.T  # becomes the scaled squared distances
        r2 *= -2.0
        r2 += sq[:, None]
        r2 += sq[None, :]
        np.maximum(r2, 0.0, out=r2)
        if self.matern:
            r2 += 1e-12
            s = np.sqrt(r2, out=r2)
            s *= _SQRT5
            e = exp_neg(s)
            # K = (1 + s + s^2 / 3) e and dK / dlog l_j = dK * (x_j - x_j')^2 / l_j^2 with
            # dK = (5 / 3) (1 + s) e
            dK = s + 1.0
            K = s * s
            K *= 1.0 / 3.0
            K += dK
            K *= e
            dK *= e
            dK *= 5.0 / 3.0
        else:
            r2 *= 0.5
            K = exp_neg(r2)
            dK = K.copy()
        K.flat[:: len(K) + 1] += noise + 1e-8
        L, info = lapack.dpotrf(K, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"the kernel matrix is not positive definite ({info})")
        r = self.Y - mean
        alpha, _ = lapack.dpotrs(L, r, lower=1)
        nll = 0.5 * float(r @ alpha) + float(np.log(np.diagonal(L)).sum())
        inv, info = lapack.dpotri(L, lower=1, overwrite_c=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dpotri failed with info={info}")
        W = np.tril(inv)  # K^-1 from its lower triangle
        W += W.T
        W.flat[:: len(W) + 1] *= 0.5
        trace_inv = float(np.trace(W))
        W -= np.outer(alpha, alpha)  # dnll/dK = W / 2
        # 0.5 * sum_ik M_ik (x_ij - x_kj)^2 / l_j^2 for the symmetric M = W * dK
        M = np.multiply(W, dK, out=W)
        g_ls = (self.X2.T @ M.sum(1) - np.einsum("ij,ij->j", self.X, M @ self.X)) * inv_ls2
        g_noise = 0.5 * (trace_inv - float(alpha @ alpha)) * noise
        g_mean = -float(alpha.sum())
        # priors
        u = (log_ls - self.ls_loc) / self.ls_scale
        nll += float((0.5 * u * u + log_ls).sum())
        g_ls = g_ls + u / self.ls_scale + 1.0
        nll += -(_NOISE_CONCENTRATION - 1.0) * float(z[d]) + _NOISE_RATE * noise
        g_noise += -(_NOISE_CONCENTRATION - 1.0) + _NOISE_RATE * noise
        return nll, np.concatenate([g_ls, [g_noise, g_mean]])


def warp_outcomes(y: np.ndarray) -> np.ndarray:
    """Standardize `y`, then Yeo-Johnson transform it with the power that makes it most Gaussian.

    Tuning objectives are rarely Gaussian: losses pile up near a floor with a long tail of poor
    configurations, and one far-off value sets the scale the GP sees everywhere. The
    transform (Yeo and Johnson, 2000; fitted to the outputs of the surrogate as HEBO does,
    Cowen-Rivers et al., 2022) is strictly increasing, so the order of the observations and
    the location of the best one are unchanged; it only reshapes the distances between values.
    Its power is the maximum-likelihood estimate under normality, found by Brent's method from
    the bracket (-2, 2) as `scipy.stats.yeojohnson` does (the same power to about 1e-7, in a
    tenth of the time).

    Args:
        y: `n` finite observations, either orientation.

    Returns:
        `n` transformed values (`y` standardized alone when it has fewer than three distinct
        values or the fit gives non-finite numbers).
    """
    from scipy.optimize import brent

    z = standardize(np.asarray(y, dtype=np.float64))
    if len(np.unique(z)) < 3:
        return z
    log_jacobian = float(np.sum(np.sign(z) * np.log1p(np.abs(z))))
    with np.errstate(all="ignore"):
        try:
            power = float(brent(_yj_neg_loglik, args=(z, log_jacobian), brack=(-2.0, 2.0)))
            warped = _yeo_johnson(z, power)
        except (ValueError, FloatingPointError, OverflowError, RuntimeError):
            return z
    if not (np.all(np.isfinite(warped)) and np.ptp(warped) > 0.0):
        return z
    return warped


def _yeo_johnson(z: np.ndarray, power: float) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0.0
    up = np.log1p(z[pos])
    out[pos] = up if abs(power) < 1e-12 else np.expm1(power * up) / power
    down = np.log1p(-z[~pos])
    mirror = 2.0 - power
    out[~pos] = -down if abs(mirror) < 1e-12 else -np.expm1(mirror * down) / mirror
    return out


def _yj_neg_loglik(power: float, z: np.ndarray, log_jacobian: float) -> float:
    """Negative profile log-likelihood of the power, up to a constant (Yeo and Johnson, 2000)."""
    var = float(np.var(_yeo_johnson(z, power)))
    if not (var > 0.0 and math.isfinite(var)):
        return math.inf
    return 0.5 * len(z) * math.log(var) - (power - 1.0) * log_jacobian


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

    Raises:
        RuntimeError: The data contain non-finite numbers (callers fall back).
    """
    from scipy.optimize import minimize

    if not (np.all(np.isfinite(np.asarray(X))) and np.all(np.isfinite(y))):
        raise RuntimeError("the training data contain non-finite numbers")
    d = X.shape[1]
    ls_loc, ls_scale = math.sqrt(2.0) + 0.5 * math.log(d), math.sqrt(3.0)
    objective = _MapObjective(X, standardize(y), matern, ls_loc, ls_scale)

    ls0 = max(math.exp(ls_loc - ls_scale**2), _MIN_LENGTHSCALE)
    noise0 = (_NOISE_CONCENTRATION - 1.0) / _NOISE_RATE
    z0 = np.array([math.log(ls0)] * d + [math.log(noise0), 0.0])
    bounds = [(math.log(_MIN_LENGTHSCALE), math.log(1e3))] * d
    bounds += [(math.log(MIN_NOISE), math.log(_MAX_NOISE)), (-10.0, 10.0)]
    try:
        result = minimize(
            objective,
            z0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": _FIT_FTOL},
        )
        z = result.x if np.all(np.isfinite(result.x)) else z0
    except (RuntimeError, ValueError, np.linalg.LinAlgError):  # not p.d.: keep the prior mode
        z = z0
    return GPHyper(
        lengthscales=tuple(float(v) for v in np.exp(z[:d])),
        noise=float(np.exp(z[d])),
        mean=float(z[d + 1]),
        matern=matern,
    )


def gp_model(X: torch.Tensor, y: torch.Tensor, hyper: GPHyper) -> SingleTaskGP:
    """The BoTorch `SingleTaskGP` on (X, y) holding `hyper` (see `fit_hyperparameters`).

    Args:
        X: `n x d` encoded points in [0, 1] (float64).
        y: `n x 1` observations, higher is better (float64); standardized by the model.
        hyper: Hyper-parameters fitted to the same data.
    """
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    covar = get_covar_module_with_dim_scaled_prior(X.shape[-1], use_rbf_kernel=not hyper.matern)
    likelihood = GaussianLikelihood(
        noise_prior=GammaPrior(_NOISE_CONCENTRATION, _NOISE_RATE),
        noise_constraint=GreaterThan(MIN_NOISE, transform=None),
    )
    model = SingleTaskGP(X, y, likelihood=likelihood, covar_module=covar)
    model.covar_module.lengthscale = torch.tensor([hyper.lengthscales], dtype=X.dtype)
    model.likelihood.noise = torch.tensor([hyper.noise], dtype=X.dtype)
    model.mean_module.constant = torch.tensor(hyper.mean, dtype=X.dtype)
    model.eval()
    return model
