"""The ranking-weighted GP ensemble of the transfer sampler (RGPE; Feurer et al., 2018).

One GP per earlier task and one on this task's own observations, each fitted as the BoTorch
sampler fits its model (`fit_hyperparameters` on warped, standardized outcomes). Each model is
weighted by how often, over bootstrap resamples of this task's observations, it ranks them best
(fewest misordered pairs; the model of this task is judged by its leave-one-out predictions, so
it cannot win by having memorized the points). An earlier task whose median ranking loss is
worse than the 95th percentile of this task's own model's is dropped altogether, so an unrelated
task fades out as this task's evidence grows.

The earlier tasks' weights set their share of the prior mean of this task's model
(`StackedModel`): their weighted sum of means, plus a GP of this task's residuals from it (the
share of this task's own model goes to the residual GP's constant mean). Where this task has
been observed its own values override the earlier tasks, and the uncertainty is the residual
GP's alone. The weighted sum of the models' variances, as RGPE has it, would stay small
wherever the earlier tasks sampled densely, whatever this task observed there, so expected
improvement kept refining the point they agreed on (on a table of configurations, the same row
again and again). The acquisition is log expected improvement over the stacked model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from lightning_autotune.samplers._acquisition import DirectLogEI

__all__ = [
    "EnsembleMean",
    "StackedLogEI",
    "StackedModel",
    "TaskGP",
    "fit_stacked",
    "fit_task_gp",
    "ranking_weights",
]

_BOOTSTRAP = 256
"""Bootstrap resamples of this task's observations behind the weights."""


@dataclass(frozen=True)
class TaskGP:
    """A GP fitted to one task, in that task's standardized, higher-is-better units.

    Attributes:
        posterior: The fitted model's closed-form posterior (data, Cholesky factor, weights).
        y: `n` standardized training targets (higher is better).
    """

    posterior: DirectLogEI
    y: np.ndarray

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`b x d` points -> posterior mean and variance of the latent function (`b` each)."""
        import torch

        from lightning_autotune.samplers._gp import cross_kernel

        p = self.posterior
        Ks = cross_kernel(X, p.X, p.ls, p.matern)
        mu = p.mean + (Ks @ p.alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(p.L, Ks.T, upper=False)
        return mu, (1.0 - (v * v).sum(0)).clamp_min(1e-12)

    def loo_mean(self) -> np.ndarray:
        """Leave-one-out posterior means at the `n` training points (closed form)."""
        import torch

        p = self.posterior
        inv = torch.cholesky_inverse(p.L)
        alpha = p.alpha.squeeze(-1)
        return (torch.from_numpy(self.y) - alpha / torch.diagonal(inv)).numpy()


def fit_task_gp(X: np.ndarray, scores: np.ndarray, seed: int) -> TaskGP:
    """Fit one task's GP.

    Args:
        X: `n x d` encoded points.
        scores: `n` lower-is-better scores.
        seed: Seed of the fit's random state.
    """
    from lightning_autotune.samplers._gp import select_history, standardize, warp_outcomes

    keep = select_history(scores)
    return _fit(X[keep], standardize(warp_outcomes(-scores[keep])), seed)


def _fit(X: np.ndarray, y: np.ndarray, seed: int) -> TaskGP:
    """The GP of standardized, higher-is-better `y` at the `n x d` points `X`."""
    import torch

    from lightning_autotune.samplers._acquisition import DirectLogEI
    from lightning_autotune.samplers._gp import fit_hyperparameters
    from lightning_autotune.samplers._optimize_acqf import as_tensor

    Xt = as_tensor(X)
    with torch.random.fork_rng():
        torch.manual_seed(seed % (2**63))
        hyper = fit_hyperparameters(Xt, y)
    return TaskGP(posterior=DirectLogEI.from_fit(Xt, y, hyper), y=y)


@dataclass(frozen=True)
class StackedModel:
    """This task's model: the earlier tasks' weighted mean as its prior mean, plus a GP of
    this task's residuals from that prior.

    The residual GP interpolates this task's observations, so where the task has been observed
    its own values override the earlier tasks, and the uncertainty is the residual GP's: small
    at and near the observed points, full away from them. (A weighted sum of the earlier
    tasks' variances would stay small wherever they were sampled densely, whatever this task
    has observed there, and expected improvement would keep refining the point they agree on.)

    Attributes:
        sources: The earlier tasks' GPs with a non-zero weight.
        weights: Their weights (their share of the prior mean; the rest is the residual GP's
            constant mean).
        residual: The GP of the standardized residuals.
        shift: Mean of the residuals.
        scale: Standard deviation of the residuals (the units of `residual`).
    """

    sources: tuple[TaskGP, ...]
    weights: tuple[float, ...]
    residual: TaskGP
    shift: float
    scale: float

    def prior(self, X: torch.Tensor) -> torch.Tensor:
        """`b x d` points -> the earlier tasks' weighted mean (`b`; zeros without sources)."""
        import torch

        out = torch.zeros(X.shape[0], dtype=X.dtype)
        for w, m in zip(self.weights, self.sources, strict=True):
            out = out + w * m.predict(X)[0]
        return out

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`b x d` points -> posterior mean and variance (`b` each), in this task's units."""
        mu, var = self.residual.predict(X)
        return self.prior(X) + self.shift + self.scale * mu, (self.scale**2) * var


def fit_stacked(
    sources: list[TaskGP], weights: np.ndarray, target: TaskGP, seed: int
) -> StackedModel:
    """Fit the residual GP of `target`'s data from the sources' weighted mean.

    Args:
        sources: The earlier tasks' GPs.
        weights: Their weights (zero-weight sources are left out).
        target: This task's GP (its points and standardized values are reused).
        seed: Seed of the fit's random state.
    """
    import torch

    from lightning_autotune.samplers._gp import standardize

    keep = [i for i, w in enumerate(weights) if w > 0]
    partial = StackedModel(
        tuple(sources[i] for i in keep),
        tuple(float(weights[i]) for i in keep),
        target,
        0.0,
        1.0,
    )
    X = target.posterior.X
    with torch.no_grad():
        r = target.y - partial.prior(X).numpy()
    scale = float(np.std(r, ddof=1)) if len(r) > 1 else 1.0
    if not scale > 1e-8:  # a constant residual: unit scale, as `standardize` falls back to
        scale = 1.0
    residual = _fit(X.numpy(), standardize(r), seed)
    return StackedModel(partial.sources, partial.weights, residual, float(r.mean()), scale)


def _misranked(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`n x n` indicator of the pairs that `pred` orders differently from `y`."""
    return ((pred[:, None] < pred[None, :]) != (y[:, None] < y[None, :])).astype(np.float64)


def ranking_weights(
    source_preds: list[np.ndarray],
    target_loo: np.ndarray | None,
    y: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """RGPE weights of the models from bootstrap ranking losses on this task's observations.

    Args:
        source_preds: One `n` vector per earlier task: its model's means at this task's points.
        target_loo: `n` leave-one-out means of this task's model, or None when it is not used.
        y: `n` observations of this task (any orientation, as long as the predictions share it).
        rng: Random state of the resamples and of tie-breaking.

    Returns:
        One weight per model (sources first, then the target when given), summing to 1.
    """
    preds = list(source_preds) + ([target_loo] if target_loo is not None else [])
    n = len(y)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=_BOOTSTRAP).astype(np.float64)
    losses = np.stack(
        [np.einsum("sj,jk,sk->s", counts, _misranked(p, y), counts) for p in preds], axis=1
    )  # samples x models
    if target_loo is not None:
        cutoff = np.percentile(losses[:, -1], 95)
        for m in range(len(source_preds)):
            if np.median(losses[:, m]) > cutoff:
                losses[:, m] = np.inf  # weight dilution prevention: never the best
    noisy = losses + rng.uniform(0.0, 1e-6, size=losses.shape)  # ties broken at random
    best = np.argmin(noisy, axis=1)
    return np.bincount(best, minlength=len(preds)) / float(_BOOTSTRAP)


class StackedLogEI:
    """Log expected improvement over a `StackedModel`.

    Args:
        model: This task's stacked model.
        incumbent: `k x d` points whose best posterior mean is the improvement threshold (this
            task's observations).
    """

    def __init__(self, model: StackedModel, incumbent: torch.Tensor) -> None:
        import torch

        self.model = model
        with torch.no_grad():
            mu, _ = model.predict(incumbent)
        self.best_f = float(mu.max())

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """`b x 1 x d` candidates -> `b` log expected improvements (differentiable)."""
        from lightning_autotune.samplers._acquisition import log_h_ei_torch

        mu, var = self.model.predict(X.reshape(-1, X.shape[-1]))
        sigma = var.clamp_min(1e-12).sqrt()
        return log_h_ei_torch((mu - self.best_f) / sigma) + sigma.log()


class EnsembleMean:
    """The weighted sum of the task GPs' means, as an acquisition (no observation to improve on).

    Args:
        models: The task GPs with a non-zero weight.
        weights: Their weights.
    """

    def __init__(self, models: list[TaskGP], weights: np.ndarray) -> None:
        self.models = models
        self.weights = [float(w) for w in weights]

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """`b x 1 x d` candidates -> `b` ensemble means (differentiable)."""
        flat = X.reshape(-1, X.shape[-1])
        return sum(  # type: ignore[return-value]
            w * m.predict(flat)[0] for w, m in zip(self.weights, self.models, strict=True)
        )
