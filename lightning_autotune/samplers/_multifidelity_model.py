"""The BoTorch pieces of `MultiFidelitySampler`: the model, the target-fidelity acquisition and
the cost-aware choice of a fidelity."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from botorch.models.model import Model

__all__ = [
    "AppendTarget",
    "choose_fidelity",
    "fit_model",
    "hyperparameters",
    "target_log_ei",
]


def fit_model(
    X: torch.Tensor,
    y: torch.Tensor,
    col: int | Sequence[int],
    start: Mapping[str, torch.Tensor] | None = None,
) -> Model:
    """A `SingleTaskMultiFidelityGP` fitted by marginal likelihood.

    Args:
        X: `n x d` points; column `col` is the fidelity (or the columns, each a fidelity),
            1 the target.
        y: `n x 1` observations, higher is better (standardized by the model).
        col: The fidelity column, or columns.
        start: Hyperparameters the fit starts from (`hyperparameters` of an earlier fit of a
            model of the same inputs); the optimum is the same, reached in fewer steps.
    """
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskMultiFidelityGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = SingleTaskMultiFidelityGP(
        X, y, data_fidelities=_cols(col), outcome_transform=Standardize(m=1)
    )
    if start is not None:
        # a start of another shape (another space) leaves the defaults
        with contextlib.suppress(RuntimeError, KeyError):
            model.load_state_dict(dict(start), strict=False)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    return model


def hyperparameters(model: Model) -> dict[str, torch.Tensor]:
    """The fitted hyperparameters of `model` (not its data's standardization), for `start`."""
    return {
        k: v.detach().clone()
        for k, v in model.state_dict().items()
        if not k.startswith("outcome_transform")
    }


def _cols(col: int | Sequence[int]) -> list[int]:
    return [col] if isinstance(col, int) else list(col)


class _AtTarget:
    """An acquisition of `b x 1 x d` points evaluated with their fidelity columns at 1."""

    def __init__(self, acqf: object, col: int | Sequence[int]) -> None:
        self.acqf, self.col = acqf, _cols(col)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        X = X.clone()
        X[..., self.col] = 1.0
        return self.acqf(X)  # type: ignore[operator]


class AppendTarget:
    """An acquisition over `b x 1 x d` points that a model of `d + f` inputs scores, the `f`
    fidelity inputs appended at the target (1)."""

    def __init__(self, acqf: object, f: int) -> None:
        self.acqf, self.f = acqf, f

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        import torch

        ones = torch.ones(*X.shape[:-1], self.f, dtype=X.dtype, device=X.device)
        return self.acqf(torch.cat([X, ones], dim=-1))  # type: ignore[operator]


def target_log_ei(model: Model, X: torch.Tensor, col: int | Sequence[int]) -> _AtTarget:
    """LogEI at the target fidelity, against the best posterior mean there over `X` (`n x d`)."""
    import torch
    from botorch.acquisition import LogExpectedImprovement

    Xt = X.clone()
    Xt[:, _cols(col)] = 1.0
    with torch.no_grad():
        best = model.posterior(Xt).mean.max()  # type: ignore[attr-defined]
    return _AtTarget(LogExpectedImprovement(model, best_f=best), col)


def choose_fidelity(
    model: Model, x: np.ndarray, col: int, levels: Sequence[float], costs: Sequence[float]
) -> int:
    """The index of the level that removes the most target variance at `x` per unit of cost.

    Observing `y(x, s)` removes `cov(f(x, 1), y(x, s))^2 / var(y(x, s))` of the posterior
    variance of the target value `f(x, 1)`.

    Args:
        model: The fitted model.
        x: `d` point (its fidelity column is ignored).
        col: The fidelity column.
        levels: Fidelity levels on the model's scale (1: the target), lowest first.
        costs: The cost of a trial at each level.
    """
    import torch

    from lightning_autotune.samplers._optimize_acqf import as_tensor

    rates = []
    for level, cost in zip(levels, costs, strict=True):
        pair = np.stack([x, x])
        pair[0, col], pair[1, col] = 1.0, level
        with torch.no_grad():
            post = model.posterior(as_tensor(pair), observation_noise=True)
            cov = post.mvn.covariance_matrix.detach()  # type: ignore[attr-defined]
        gain = float(cov[0, 1] ** 2 / cov[1, 1].clamp_min(1e-12))
        rates.append(gain / cost)
    return int(np.argmax(rates))
