"""Build the acquisition function of the BoTorch sampler (imports BoTorch lazily).

The common case, one point with no trial pending, is analytic LogEI. BoTorch's
`LogExpectedImprovement` computes it through GPyTorch's posterior machinery, a few milliseconds
of overhead per call, and the acquisition search makes hundreds of calls per suggestion.
`DirectLogEI` computes the same quantity from the fitted `SingleTaskGP`'s own data and
hyper-parameters with a handful of tensor operations, and BoTorch's numerically careful
`log(h(z))`. The other acquisitions are BoTorch's.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models import SingleTaskGP

__all__ = ["AcqKind", "DirectLogEI", "build_acquisition"]


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
            output scale) and standardized outcomes, as `fit_gp` builds it.
    """

    def __init__(self, model: SingleTaskGP) -> None:
        import torch
        from gpytorch.kernels import MaternKernel, RBFKernel

        kernel = model.covar_module
        if isinstance(kernel, MaternKernel) and kernel.nu == 2.5:
            self.matern = True
        elif isinstance(kernel, RBFKernel):
            self.matern = False
        else:
            raise TypeError(f"DirectLogEI needs a Matern-5/2 or RBF kernel, got {kernel}")
        with torch.no_grad():
            self.X = model.train_inputs[0].detach()
            y = model.train_targets.detach()  # standardized when the model has a transform
            self.ls = kernel.lengthscale.detach().reshape(-1)
            self.mean = float(model.mean_module.constant.detach())
            noise = float(model.likelihood.noise.detach().reshape(-1)[0])
            K = self._k(self.X, self.X)
            eye = torch.eye(len(self.X), dtype=self.X.dtype)
            self.L = _cholesky(K + noise * eye)
            self.alpha = torch.cholesky_solve((y - self.mean).unsqueeze(-1), self.L)
            self.best_f = float((self.mean + K @ self.alpha).max())

    def _k(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        from lightning_autotune.samplers._gp import cross_kernel

        return cross_kernel(A, B, self.ls, self.matern)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """`b x 1 x d` candidates -> `b` log expected improvements (differentiable)."""
        import torch
        from botorch.acquisition.analytic import _log_ei_helper

        x = X.reshape(-1, X.shape[-1])
        Ks = self._k(x, self.X)  # b x n
        mu = self.mean + (Ks @ self.alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(self.L, Ks.T, upper=False)  # n x b
        sigma = (1.0 - (v * v).sum(0)).clamp_min(1e-12).sqrt()
        return _log_ei_helper((mu - self.best_f) / sigma) + sigma.log()


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
