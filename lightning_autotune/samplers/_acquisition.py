"""Build the acquisition function of the BoTorch sampler (imports BoTorch lazily)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models import SingleTaskGP

__all__ = ["AcqKind", "build_acquisition"]


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
) -> AcquisitionFunction:
    """The acquisition function to maximize over `b x 1 x d` candidate batches.

    Args:
        kind: Which acquisition.
        model: Fitted GP on higher-is-better observations.
        X_train: `n x d` points the model was fitted on (baseline of noisy EI).
        X_pending: `m x d` points being evaluated (or already chosen in this batch), or None.
        kappa: Exploration weight of UCB (standard deviations).
        mc_samples: Quasi-MC samples of the MC acquisitions.

    Returns:
        A BoTorch acquisition function.
    """
    import torch
    from botorch.acquisition import (
        LogExpectedImprovement,
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
    with torch.no_grad():
        # Incumbent = best posterior mean at the data: robust to noise, equal to the best
        # observation for a noiseless objective.
        best_f = model.posterior(X_train).mean.max()
    if not has_pending:
        return LogExpectedImprovement(model, best_f=best_f)
    return qLogExpectedImprovement(model, best_f=best_f, sampler=sampler, X_pending=X_pending)
