"""A small GP surrogate for the analyses: fit on the encoded cube, predict mean and covariance.

Deliberately independent of the BoTorch sampler's model code: the analyses only need a plain
`SingleTaskGP` with standardized outcomes, fitted once, and a numpy interface to its posterior.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_autotune.analysis._data import StudyData
from lightning_autotune.exceptions import ConfigError, SearchSpaceError
from lightning_autotune.trial import TrialRecord

__all__ = ["MIN_TRIALS", "Surrogate", "fit_surrogate", "training_set"]

MIN_TRIALS = 3
_CHUNK = 4096


@dataclass(frozen=True)
class Surrogate:
    """A fitted GP over the encoded unit cube of a search space.

    Attributes:
        model: The fitted `botorch.models.SingleTaskGP` (in eval mode).
        n_train: Number of training points.
    """

    model: Any
    n_train: int

    def mean(self, X: np.ndarray) -> np.ndarray:
        """Posterior mean of the objective (original units).

        Args:
            X: `n x d` encoded points.

        Returns:
            An array of shape `n`.
        """
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(X), _CHUNK):
                Xt = torch.as_tensor(X[start : start + _CHUNK], dtype=torch.float64)
                out.append(self.model.posterior(Xt).mean.squeeze(-1).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def joint(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint posterior of the objective at a few points.

        Args:
            X: `n x d` encoded points (n small: the covariance is `n x n`).

        Returns:
            The mean (shape `n`) and covariance (`n x n`), in original units.
        """
        import torch

        with torch.no_grad():
            post = self.model.posterior(torch.as_tensor(X, dtype=torch.float64))
            mean = post.mean.squeeze(-1).numpy()
            cov = post.mvn.covariance_matrix.numpy()
        return mean, cov


def training_set(
    data: StudyData, objective: int
) -> tuple[list[TrialRecord], np.ndarray, np.ndarray]:
    """The COMPLETE trials usable for fitting, their encoded params and objective values.

    Trials whose parameters do not fit the space (e.g. recorded under an older space) are
    skipped.

    Returns:
        The trials, an `n x d` array of encoded parameters and an `n` array of values.
    """
    kept, configs, ys = [], [], []
    for t in data.complete(objective):
        value = t.values[objective]  # type: ignore[index]
        if not np.isfinite(value):
            continue
        try:
            configs.append(data.space.validate(t.params))
        except SearchSpaceError:
            continue
        kept.append(t)
        ys.append(float(value))
    X = data.space.encode(configs) if configs else np.zeros((0, data.space.dim))
    return kept, X, np.asarray(ys, dtype=np.float64)


def fit_surrogate(X: np.ndarray, y: np.ndarray, *, seed: int = 0) -> Surrogate:
    """Fit a `SingleTaskGP` (outcome `Standardize`) by maximizing the marginal likelihood.

    Args:
        X: `n x d` encoded parameters in [0, 1].
        y: `n` objective values.
        seed: Seeds torch during the fit.

    Raises:
        ConfigError: Fewer than `MIN_TRIALS` points.
    """
    if len(y) < MIN_TRIALS:
        raise ConfigError(
            f"the GP needs at least {MIN_TRIALS} COMPLETE trials with finite values, the study "
            f"has {len(y)}; run more trials first"
        )
    import torch
    from botorch.exceptions.warnings import InputDataWarning, OptimizationWarning
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.utils.warnings import NumericalWarning

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        train_X = torch.as_tensor(X, dtype=torch.float64)
        train_Y = torch.as_tensor(y, dtype=torch.float64).unsqueeze(-1)
        with warnings.catch_warnings():
            # A flat or tiny data set can stop the optimizer early or look unscaled to BoTorch;
            # the fit is still usable (a flat objective gives a flat mean, zero importances).
            for category in (OptimizationWarning, NumericalWarning, InputDataWarning):
                warnings.simplefilter("ignore", category)
            model = SingleTaskGP(train_X, train_Y, outcome_transform=Standardize(m=1))
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            fit_gpytorch_mll(mll)
        model.eval()
    return Surrogate(model, len(y))
