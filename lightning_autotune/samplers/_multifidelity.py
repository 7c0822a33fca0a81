"""`MultiFidelitySampler`: one Gaussian process over every fidelity, and a cost-aware choice.

Each proposal takes two steps, both on one `SingleTaskMultiFidelityGP` (BoTorch; the fidelity
is an input column with a linear-truncated fidelity kernel):

1. the configuration: the point of highest log expected improvement *at the target fidelity*,
   so cheap evaluations steer where the full-fidelity optimum is believed to be;
2. its fidelity: among a few levels from the lowest to the target, the one whose evaluation
   removes the most posterior variance of the target-fidelity value at that point per unit of
   cost (an affine cost model, `fixed_cost + fidelity / target`). A cheap level wins while it
   is informative about the target; once the cheap evaluations near a point have told what
   they can, the target fidelity wins.

This is cost-weighted variance reduction, chosen over the multi-fidelity knowledge gradient
because each suggestion costs one EI optimization and a handful of 2 x 2 posterior covariances
instead of a nested fantasy optimization.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._base import (
    Sampler,
    SamplerWarning,
    check_seed,
    seeded_copy,
    suggestion_seed,
)
from lightning_autotune.samplers._botorch import _collect
from lightning_autotune.samplers._random import design_position, sobol_points
from lightning_autotune.samplers._threads import single_threaded
from lightning_autotune.space import Float, Int, SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["MultiFidelitySampler"]


class MultiFidelitySampler(Sampler):
    """Multi-fidelity Bayesian optimization: a fidelity parameter of the space is proposed too.

    The space holds the fidelity as a numeric parameter (`Float` or `Int`) whose upper bound is
    the target fidelity, e.g. `data_fraction: Float(0.1, 1.0)` or `max_epochs: Int(1, 9)`.
    The first `n_initial_points` proposals are Sobol points (fidelity included); then each
    proposal is the configuration of highest expected improvement at the target fidelity,
    with the fidelity that buys the most information about it per unit of cost (see the
    module docstring). Values measured at any fidelity train the one model; only the target
    fidelity's values are compared with the best.

    Args:
        fidelity: The name of the fidelity parameter.
        fixed_cost: The cost of a trial at the lowest conceivable fidelity, as a share of a
            target-fidelity trial's cost beyond it (start-up, validation): a trial at fidelity
            `s` costs `fixed_cost + s / target`.
        n_initial_points: Sobol points before the model is used (None: `clip(d + 1, 5, 10)`).
        levels: Fidelity levels considered for each proposal, evenly spaced from the lowest to
            the target (on an `Int` fidelity, distinct integers only).
        seed: Seed of the whole sequence of proposals.
        raw_samples: Space-filling points scored before local optimization.
        num_restarts: Starts of the local acquisition optimization.

    Raises:
        ConfigError: An argument out of range.

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> space = SearchSpace({"x": Float(0.0, 1.0), "data_fraction": Float(0.1, 1.0)})
        >>> sampler = MultiFidelitySampler("data_fraction", seed=0)
        >>> sorted(sampler.suggest(space, [], seed=0)[0])
        ['data_fraction', 'x']
    """

    def __init__(
        self,
        fidelity: str,
        *,
        fixed_cost: float = 0.05,
        n_initial_points: int | None = None,
        levels: int = 5,
        seed: int | None = None,
        raw_samples: int = 512,
        num_restarts: int = 3,
    ) -> None:
        if not isinstance(fidelity, str) or not fidelity:
            raise ConfigError(
                f"MultiFidelitySampler: fidelity must name a parameter of the space, got "
                f"{fidelity!r}; e.g. 'data_fraction'"
            )
        self.fidelity = fidelity
        self.fixed_cost = check_number(
            fixed_cost, "MultiFidelitySampler: fixed_cost", low=0.0, hint="e.g. 0.05"
        )
        if n_initial_points is not None:
            n_initial_points = check_int(n_initial_points, "MultiFidelitySampler: n_initial_points")
        self.n_initial_points = n_initial_points
        self.levels = check_int(levels, "MultiFidelitySampler: levels", low=2)
        self.seed = check_seed(seed, "MultiFidelitySampler")
        self.raw_samples = check_int(raw_samples, "MultiFidelitySampler: raw_samples")
        self.num_restarts = check_int(num_restarts, "MultiFidelitySampler: num_restarts")
        self._start: dict[str, Any] | None = None  # the last fit's hyperparameters

    def __repr__(self) -> str:
        return (
            f"MultiFidelitySampler(fidelity={self.fidelity!r}, fixed_cost={self.fixed_cost}, "
            f"seed={self.seed})"
        )

    def for_study(self, seed: int | None) -> MultiFidelitySampler:
        return seeded_copy(self, seed)

    def _param(self, space: SearchSpace) -> Float | Int:
        p = space.get(self.fidelity)
        if not isinstance(p, (Float, Int)) or p.when or p.log:
            raise ConfigError(
                f"MultiFidelitySampler: the fidelity {self.fidelity!r} must be an always-active "
                f"linear Float or Int parameter of the space (its high is the target fidelity), "
                f"got {p!r}; add e.g. '{self.fidelity}': Float(0.1, 1.0)"
            )
        return p

    def suggest(
        self,
        space: SearchSpace,
        history: Sequence[TrialRecord],
        *,
        directions: Sequence[Direction] = (Direction.MINIMIZE,),
        pending: Sequence[TrialRecord] = (),
        n: int = 1,
        seed: int | None = None,
    ) -> list[dict[str, Any]]:
        """Propose `n` configurations, each with its fidelity (see the class docstring).

        Raises:
            ConfigError: Several objectives, or no usable fidelity parameter in `space`.
        """
        if len(directions) != 1:
            raise ConfigError(
                f"MultiFidelitySampler optimizes one objective, got {len(directions)} directions"
            )
        p = self._param(space)
        data = _collect(space, history, pending, tuple(directions))
        position = design_position(history, pending)
        seed = suggestion_seed(seed, self.seed, position)
        n_init = self.n_initial_points or int(min(10, max(5, space.dim + 1)))
        col = space.column_span(self.fidelity)[0]
        if len(data.y) < n_init or len(np.unique(np.round(data.X[:, col], 9))) < 2:
            scramble = 0 if self.seed is None else self.seed
            return sobol_points(space, start=position, n=n, seed=scramble)
        try:
            with single_threaded(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not p.d.*")
                X = self._model_based(
                    space, p, col, data.X, data.y, data.avoid, data.pending, n, seed
                )
        except Exception as exc:  # the loop must survive any numerical failure
            warnings.warn(
                f"MultiFidelitySampler fell back to a Sobol point: the model step failed with "
                f"{type(exc).__name__}: {exc}",
                SamplerWarning,
                stacklevel=2,
            )
            scramble = 0 if self.seed is None else self.seed
            return sobol_points(space, start=position, n=n, seed=scramble)
        return space.decode(X)

    def _model_based(
        self,
        space: SearchSpace,
        p: Float | Int,
        col: int,
        X: np.ndarray,
        y: np.ndarray,
        avoid: np.ndarray,
        pend: np.ndarray,
        n: int,
        seed: int,
    ) -> np.ndarray:
        """`n x d` encoded proposals from the `k x d` observations `X`, scores `y` (`k`)."""
        import torch

        from lightning_autotune.samplers._multifidelity_model import (
            choose_fidelity,
            fit_model,
            hyperparameters,
            target_log_ei,
        )
        from lightning_autotune.samplers._optimize_acqf import as_tensor, optimize_acquisition

        values = self._levels(p)
        scale = [(v - p.low) / (p.high - p.low) for v in values]
        costs = [self.fixed_cost + v / p.high for v in values]

        def on_fidelity_scale(Z: np.ndarray) -> np.ndarray:
            # the fidelity kernel wants the target at 1 and the lowest level at 0
            Z = Z.copy()
            Z[:, col] = [(p.from_unit(u) - p.low) / (p.high - p.low) for u in Z[:, col]]
            return Z

        chosen: list[np.ndarray] = []
        rng = np.random.default_rng(seed)
        Xm = on_fidelity_scale(X)
        with torch.random.fork_rng():
            torch.manual_seed(seed % (2**63))
            model = fit_model(as_tensor(Xm), as_tensor(-y[:, None]), col, self._start)
            self._start = hyperparameters(model)
            top = X[np.argsort(y, kind="stable")[:3]]
            for _ in range(n):
                believed = np.concatenate([pend, *[c[None, :] for c in chosen]])
                fantasy = model
                if len(believed):
                    Xb = as_tensor(on_fidelity_scale(believed))
                    with torch.no_grad():
                        mean = model.posterior(Xb).mean  # type: ignore[attr-defined]
                    fantasy = model.condition_on_observations(Xb, mean)
                x = optimize_acquisition(
                    target_log_ei(fantasy, as_tensor(Xm), col),
                    space,
                    anchors=top,
                    avoid=avoid,
                    seed=int(rng.integers(2**31)),
                    raw_samples=self.raw_samples,
                    num_restarts=self.num_restarts,
                )
                if x is None:
                    raise RuntimeError("every candidate was already evaluated or pending")
                x = x.copy()
                k = choose_fidelity(fantasy, on_fidelity_scale(x[None, :])[0], col, scale, costs)
                x[col] = p.to_unit(values[k])
                chosen.append(x)
                avoid = np.concatenate([avoid, x[None, :]])
        return np.stack(chosen)

    def _levels(self, p: Float | Int) -> list[Any]:
        """The fidelity levels' values, lowest first, the target last."""
        values = np.linspace(p.low, p.high, self.levels)
        if isinstance(p, Int):
            return sorted({round(float(v)) for v in values})
        return sorted({p.clip(float(v)) for v in values})
