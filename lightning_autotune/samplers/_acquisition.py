"""Build the acquisition function of the BoTorch sampler (imports BoTorch lazily).

The common case, one point with no trial pending, is analytic LogEI. BoTorch's
`LogExpectedImprovement` computes it through GPyTorch's posterior machinery, a few milliseconds
of overhead per call, and the acquisition search makes hundreds of calls per suggestion.
`DirectLogEI` computes the same quantity from the data and the GP's hyper-parameters (read from
a fitted `SingleTaskGP`, or, as the sampler does, taken straight from the fit with `from_fit`)
with a handful of tensor operations, and BoTorch's numerically careful `log(h(z))`. The other
acquisitions are BoTorch's.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models import SingleTaskGP

    from lightning_autotune.samplers._gp import GPHyper

__all__ = ["AcqKind", "DirectLogEI", "build_acquisition", "log_h_ei"]


class AcqKind(Enum):
    """Which acquisition function the sampler maximizes."""

    AUTO = "auto"
    """Analytic LogEI for one point without pending trials, qLogNEI otherwise."""
    EI = "EI"
    """Expected improvement (analytic LogEI, or MC qLogEI with pending points)."""
    NEI = "NEI"
    """Noisy expected improvement (MC qLogNEI), robust to noisy objectives."""
    UCB = "UCB"
    """Upper confidence bound `mean + kappa * std` (MC qUCB with pending points)."""

    @classmethod
    def parse(cls, value: str | AcqKind) -> AcqKind:
        """Turn a name (case-insensitive) into an `AcqKind`.

        Raises:
            ConfigError: Unknown name.
        """
        if isinstance(value, AcqKind):
            return value
        for kind in cls:
            if str(value).lower() in (kind.value.lower(), kind.name.lower()):
                return kind
        if str(value).lower() in ("logei", "qlogei"):
            return cls.EI
        if str(value).lower() in ("lognei", "qlognei"):
            return cls.NEI
        names = [k.value for k in cls]
        raise ConfigError(
            f"acq_func must be one of {names} (got {value!r}); pass e.g. acq_func='auto'"
        )


def build_acquisition(
    kind: AcqKind,
    model: SingleTaskGP,
    X_train: torch.Tensor,
    X_pending: torch.Tensor | None,
    *,
    kappa: float = 2.0,
    mc_samples: int = 128,
) -> AcquisitionFunction | DirectLogEI:
    """The acquisition function to maximize over `b x 1 x d` candidate batches.

    Args:
        kind: Which acquisition.
        model: Fitted GP on higher-is-better observations.
        X_train: `n x d` points the model was fitted on (baseline of noisy EI).
        X_pending: `m x d` points being evaluated (or already chosen in this batch), or None.
        kappa: Exploration weight of UCB (standard deviations).
        mc_samples: Quasi-MC samples of the MC acquisitions.

    Returns:
        A callable on `b x 1 x d` tensors: `DirectLogEI`, or a BoTorch acquisition function.
    """
    import torch
    from botorch.acquisition import (
        UpperConfidenceBound,
        qLogExpectedImprovement,
        qLogNoisyExpectedImprovement,
        qUpperConfidenceBound,
    )
    from botorch.sampling import SobolQMCNormalSampler

    has_pending = X_pending is not None and len(X_pending) > 0
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]))
    if kind is AcqKind.UCB:
        if not has_pending:
            return UpperConfidenceBound(model, beta=kappa**2)
        return qUpperConfidenceBound(model, beta=kappa**2, sampler=sampler, X_pending=X_pending)
    if kind is AcqKind.NEI or (kind is AcqKind.AUTO and has_pending):
        return qLogNoisyExpectedImprovement(
            model,
            X_baseline=X_train,
            sampler=sampler,
            X_pending=X_pending if has_pending else None,
            prune_baseline=True,
            cache_root=False,
        )
    if not has_pending:
        return DirectLogEI(model)
    with torch.no_grad():
        # Incumbent = best posterior mean at the data: robust to noise, equal to the best
        # observation for a noiseless objective.
        best_f = model.posterior(X_train).mean.max()
    return qLogExpectedImprovement(model, best_f=best_f, sampler=sampler, X_pending=X_pending)


class DirectLogEI:
    """Analytic log expected improvement of a fitted `SingleTaskGP`, computed directly.

    Works in the model's standardized outcome units, where the kernel has unit output scale:
    with `K = k(X, X) + noise * I = L L^T` and `alpha = K^{-1} (y - m)`, a point `x` has
    posterior mean `m + k(x, X) alpha` and variance `1 - |L^{-1} k(X, x)|^2` (the latent
    function, without observation noise). The incumbent is the best posterior mean at the data,
    as for the BoTorch path. The result differs from BoTorch's `LogExpectedImprovement` in
    original units only by the constant `log(std(y))`, so both have the same maximizer.

    Args:
        model: A fitted single-output `SingleTaskGP` with a Matern-5/2 or RBF kernel (no
            output scale) and standardized outcomes, as `gp_model` builds it.
    """

    def __init__(self, model: SingleTaskGP) -> None:
        import torch
        from gpytorch.kernels import MaternKernel, RBFKernel

        kernel = model.covar_module
        if isinstance(kernel, MaternKernel) and kernel.nu == 2.5:
            matern = True
        elif isinstance(kernel, RBFKernel):
            matern = False
        else:
            raise TypeError(f"DirectLogEI needs a Matern-5/2 or RBF kernel, got {kernel}")
        with torch.no_grad():
            self._setup(
                model.train_inputs[0].detach(),
                model.train_targets.detach(),  # standardized when the model has a transform
                kernel.lengthscale.detach().reshape(-1),
                float(model.mean_module.constant.detach()),
                float(model.likelihood.noise.detach().reshape(-1)[0]),
                matern,
            )

    @classmethod
    def from_fit(cls, X: torch.Tensor, y: np.ndarray, hyper: GPHyper) -> DirectLogEI:
        """The same acquisition as `DirectLogEI(gp_model(X, y, hyper))`, without the model.

        Building the BoTorch model only to read back its data and hyper-parameters costs
        several milliseconds per suggestion; here `y` is standardized as the model's outcome
        transform would do it.

        Args:
            X: `n x d` encoded points (float64).
            y: `n` observations, higher is better, in the units `hyper` was fitted on.
            hyper: Hyper-parameters from `fit_hyperparameters` on the same data.
        """
        import torch

        from lightning_autotune.samplers._gp import standardize

        acqf = cls.__new__(cls)
        acqf._setup(
            X.detach(),
            torch.from_numpy(standardize(np.asarray(y, dtype=np.float64))),
            torch.tensor(hyper.lengthscales, dtype=torch.float64),
            hyper.mean,
            hyper.noise,
            hyper.matern,
        )
        return acqf

    def _setup(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        ls: torch.Tensor,
        mean: float,
        noise: float,
        matern: bool,
    ) -> None:
        import torch

        self.matern = matern
        with torch.no_grad():
            self.X, self.ls, self.mean = X, ls, mean
            K = self._k(self.X, self.X)
            eye = torch.eye(len(self.X), dtype=self.X.dtype)
            self.L = _cholesky(K + noise * eye)
            self.alpha = torch.cholesky_solve((y - self.mean).unsqueeze(-1), self.L)
            self.best_f = float((self.mean + K @ self.alpha).max())
        # NumPy copies for `value_and_grad`
        self._X, self._L = self.X.numpy(), self.L.numpy()
        self._alpha = self.alpha.squeeze(-1).numpy()
        self._inv_ls2 = 1.0 / self.ls.numpy() ** 2
        self._sq_train = (self._X * self._X * self._inv_ls2).sum(-1)

    def _k(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        from lightning_autotune.samplers._gp import cross_kernel

        return cross_kernel(A, B, self.ls, self.matern)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """`b x 1 x d` candidates -> `b` log expected improvements (differentiable)."""
        import torch

        x = X.reshape(-1, X.shape[-1])
        Ks = self._k(x, self.X)  # b x n
        mu = self.mean + (Ks @ self.alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(self.L, Ks.T, upper=False)  # n x b
        sigma = (1.0 - (v * v).sum(0)).clamp_min(1e-12).sqrt()
        return log_h_ei_torch((mu - self.best_f) / sigma) + sigma.log()

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`b x d` points -> their `b` log EI values and `b x d` gradients, in closed form.

        The same values as calling the object, computed in NumPy with the gradient written out
        (`d log h(z) / dz = Phi(z) / h(z)`), for the many small calls of L-BFGS-B where
        autograd's per-call overhead would dominate.
        """
        from scipy.linalg import lapack
        from scipy.special import log_ndtr

        from lightning_autotune.samplers._gp import exp_neg

        X, s_ls = self._X, self._inv_ls2
        sq = (x * x * s_ls).sum(-1)
        r2 = np.maximum(sq[:, None] + self._sq_train[None, :] - 2.0 * (x * s_ls) @ X.T, 0.0)
        if self.matern:
            s = np.sqrt(r2 + 1e-12) * math.sqrt(5.0)
            e = exp_neg(s)
            k = (1.0 + s + s * s / 3.0) * e
            dk_dr2 = -(5.0 / 6.0) * (1.0 + s) * e
        else:
            k = exp_neg(0.5 * r2)
            dk_dr2 = -0.5 * k
        mu = self.mean + k @ self._alpha
        v = lapack.dtrtrs(self._L, k.T, lower=1)[0]  # L^-1 k', n x b
        w = lapack.dtrtrs(self._L, v, lower=1, trans=1)[0]  # K^-1 k', n x b
        var = 1.0 - (v * v).sum(0)
        # d r2 / d x_j = 2 (x_j - X_nj) / l_j^2, so for a `b x n` weight A:
        # sum_n A_bn dk_bn / dx_bj = 2 / l_j^2 * (x_bj * sum_n A_bn dk_dr2_bn - (A dk_dr2) X)
        a = dk_dr2 * self._alpha[None, :]
        d_mu = 2.0 * s_ls * (x * a.sum(1, keepdims=True) - a @ X)
        c = dk_dr2 * w.T
        d_var = -4.0 * s_ls * (x * c.sum(1, keepdims=True) - c @ X)
        clamped = var <= 1e-12
        sigma = np.sqrt(np.maximum(var, 1e-12))
        d_sigma = np.where(clamped[:, None], 0.0, d_var / (2.0 * sigma[:, None]))
        z = (mu - self.best_f) / sigma
        log_h = log_h_ei(z)
        d_log_h = np.exp(log_ndtr(z) - log_h)
        d_z = (d_mu - z[:, None] * d_sigma) / sigma[:, None]
        value = log_h + np.log(sigma)
        grad = d_log_h[:, None] * d_z + d_sigma / sigma[:, None]
        return value, grad


def log_h_ei(z: np.ndarray) -> np.ndarray:
    """`log(phi(z) + z * Phi(z))`, the log expected improvement of a unit Gaussian, stably.

    For `z > -1` directly. Below, with `Phi(z) = erfcx(-z / sqrt 2) * exp(-z^2 / 2) / 2`:
    `log h(z) = -z^2 / 2 - log sqrt(2 pi) + log1p(-|z| sqrt(pi / 2) erfcx(|z| / sqrt 2))`, and
    for `|z| > 1e4`, where that difference loses its digits, its expansion `1/z^2 - 3/z^4`.
    """
    from scipy.special import erfcx, ndtr

    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    mid = z > -1.0
    zm = z[mid]
    out[mid] = np.log(np.exp(-0.5 * zm * zm) / _SQRT_2PI + zm * ndtr(zm))
    a = -z[~mid]  # >= 1
    tail = np.empty_like(a)
    far = a > 1e4
    tail[far] = -2.0 * np.log(a[far]) + np.log1p(-3.0 / (a[far] * a[far]))
    near = a[~far]
    tail[~far] = np.log1p(-near * _SQRT_HALF_PI * erfcx(near / math.sqrt(2.0)))
    out[~mid] = -0.5 * a * a - math.log(_SQRT_2PI) + tail
    return out


def log_h_ei_torch(z: torch.Tensor) -> torch.Tensor:
    """`log_h_ei` in torch, differentiable: `log(phi(z) + z * Phi(z))` for a tensor `z`.

    The same three branches as `log_h_ei`. Each branch is evaluated on inputs clamped into
    its own range, so the branches `torch.where` discards have finite values and gradients,
    and no NaN leaks into the gradient of the branch it keeps.
    """
    import torch

    mid = z.clamp_min(-1.0)
    direct = torch.log(torch.exp(-0.5 * mid * mid) / _SQRT_2PI + mid * torch.special.ndtr(mid))
    a = (-z).clamp_min(1.0)
    near = a.clamp_max(1e4)
    far = a.clamp_min(1e4)
    tail = torch.where(
        a > 1e4,
        -2.0 * far.log() + torch.log1p(-3.0 / (far * far)),
        torch.log1p(-near * _SQRT_HALF_PI * torch.special.erfcx(near / math.sqrt(2.0))),
    )
    return torch.where(z > -1.0, direct, -0.5 * a * a - math.log(_SQRT_2PI) + tail)


_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def _cholesky(K: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of `K`, adding jitter (as GPyTorch does) when it is not quite p.d."""
    import torch

    L, info = torch.linalg.cholesky_ex(K)
    jitter = 1e-8
    while int(info) != 0 and jitter <= 1e-3:
        eye = torch.eye(len(K), dtype=K.dtype)
        L, info = torch.linalg.cholesky_ex(K + jitter * eye)
        jitter *= 10.0
    if int(info) != 0:
        raise RuntimeError("the kernel matrix is not positive definite, even with jitter")
    return L
