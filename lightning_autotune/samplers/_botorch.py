"""`BoTorchSampler`: Gaussian-process Bayesian optimization on the encoded search space."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._acquisition import AcqKind
from lightning_autotune.samplers._base import (
    Sampler,
    SamplerWarning,
    check_seed,
    renamed,
    seeded_copy,
    suggestion_seed,
)
from lightning_autotune.samplers._batch import BatchPolicy, refinement_box
from lightning_autotune.samplers._random import design_position, sobol_points
from lightning_autotune.samplers._threads import single_threaded
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP

    from lightning_autotune.samplers._gp import GPHyper

__all__ = ["BoTorchSampler"]

_LEARN_FROM = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class _Data:
    """What the history says, encoded: observations, and points not to propose again."""

    X: np.ndarray
    """`n x d` encoded configurations with a finite score."""
    y: np.ndarray
    """`n` lower-is-better scores."""
    avoid: np.ndarray
    """`m x d` encoded configurations already evaluated, pending or failed."""
    pending: np.ndarray
    """`p x d` encoded configurations of running or waiting trials."""
    first_unanswered: np.ndarray | None = None
    """The earliest point in flight that was proposed after the latest result arrived (so from
    the same data as a suggestion now), encoded; None if every one came before a result."""


class BoTorchSampler(Sampler):
    """Bayesian optimization with a BoTorch Gaussian process on the encoded unit cube.

    The first `n_initial_points` proposals come from a scrambled Sobol sequence. Afterwards a
    `SingleTaskGP` (ARD Matern-5/2 kernel with BoTorch's dimension-scaled length-scale prior,
    outcomes standardized and Yeo-Johnson transformed) is fitted to the history and the
    acquisition is maximized over valid configurations: integer, grid and categorical
    parameters are searched as such, and inactive conditional parameters sit at a fixed value
    so they never separate two configurations.

    What the model learns from: COMPLETE trials' values, and PRUNED trials' last reported value
    (a pessimistic estimate of where they were heading, which is why they were stopped). FAILED
    trials are not modelled, but their exact configurations are never proposed again (an
    out-of-memory configuration stays failed), nor are evaluated or pending ones. Non-finite
    values are ignored. Histories longer than 300 trials are thinned to the best 150 and the
    most recent others, which bounds the cost of a suggestion.

    Anything that goes wrong in the model or the acquisition (a singular fit, NaNs) falls back
    to the next Sobol point with a `SamplerWarning` naming the cause; the study never dies of it.

    Args:
        n_initial_points: Sobol points before the model is used; None picks
            `clip(d + 1, 5, 10)` for `d` encoded columns.
        acq_func: 'auto' (analytic LogEI; with points pending or earlier in the batch, the
            acquisition `batch_policy` names; the later points of a batch, chosen from the
            same data as a first point still running, are searched in a box around the best
            observed point half as wide as that first point is far from it, when they make
            the best point's categorical choices), 'EI', 'NEI' or 'UCB'.
        kappa: Exploration weight of UCB, in posterior standard deviations.
        seed: Seed of the whole sequence of proposals: the scramble of the Sobol initial
            design (one sequence for the whole study), and the random draws of every
            model-based proposal (derived from it and the number of trials), so the sequence
            repeats exactly. None (the default): the seed of the study the sampler is given to
            (scramble 0 and fresh draws for a study without one, or when the sampler is used
            on its own).
        raw_samples: Size of the space-filling design scored before local optimization
            (BoTorch's `optimize_acqf` name).
        num_restarts: Starts of the local acquisition optimization (BoTorch's name).
        batch_policy: How 'auto' chooses a point while others are in flight (`BatchPolicy`):
            'alternate' (the default), 'believer' or 'qlognei'.
        n_raw: Deprecated name of `raw_samples`.
        n_restarts: Deprecated name of `num_restarts`.

    Raises:
        ConfigError: An argument is out of range.

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> space = SearchSpace({"x": Float(-1.0, 1.0)})
        >>> sampler = BoTorchSampler(n_initial_points=3, seed=0)
        >>> config = sampler.suggest(space, [], seed=0)[0]
        >>> -1.0 <= config["x"] <= 1.0
        True
    """

    def __init__(
        self,
        n_initial_points: int | None = None,
        acq_func: str | AcqKind = "auto",
        kappa: float = 2.0,
        *,
        seed: int | None = None,
        raw_samples: int = 1024,
        num_restarts: int = 5,
        batch_policy: str | BatchPolicy = BatchPolicy.ALTERNATE,
        n_raw: int | None = None,
        n_restarts: int | None = None,
    ) -> None:
        raw_samples = renamed("BoTorchSampler", "n_raw", n_raw, "raw_samples", raw_samples, 1024)
        num_restarts = renamed(
            "BoTorchSampler", "n_restarts", n_restarts, "num_restarts", num_restarts, 5
        )
        if n_initial_points is not None:
            n_initial_points = check_int(
                n_initial_points,
                "BoTorchSampler: n_initial_points",
                hint="or None for the automatic size",
            )
        self.n_initial_points = n_initial_points
        self.acq_func = AcqKind.parse(acq_func)
        self.kappa = check_number(kappa, "BoTorchSampler: kappa", low=0.0, hint="e.g. 2.0")
        self.seed = check_seed(seed, "BoTorchSampler")
        self.batch_policy = BatchPolicy.parse(batch_policy)
        self.raw_samples = check_int(raw_samples, "BoTorchSampler: raw_samples")
        self.num_restarts = check_int(num_restarts, "BoTorchSampler: num_restarts")

    def __repr__(self) -> str:
        return (
            f"BoTorchSampler(n_initial_points={self.n_initial_points}, "
            f"acq_func={self.acq_func.value!r}, kappa={self.kappa}, seed={self.seed})"
        )

    def for_study(self, seed: int | None) -> BoTorchSampler:
        return seeded_copy(self, seed)

    def initial_points(self, space: SearchSpace) -> int:
        """Number of Sobol points before the model is used, for `space`."""
        if self.n_initial_points is not None:
            return self.n_initial_points
        return int(min(10, max(5, space.dim + 1)))

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
        """Propose `n` distinct configurations (see the class docstring for the method).

        Raises:
            ConfigError: Several objectives (this sampler is single-objective).
        """
        if len(directions) != 1:
            raise ConfigError(
                f"BoTorchSampler optimizes one objective, but the study has {len(directions)} "
                f"directions {[d.value for d in directions]}; multi-objective optimization is "
                "not supported by this sampler: use one direction or another sampler"
            )
        data = _collect(space, history, pending, tuple(directions))
        position = design_position(history, pending)
        seed = suggestion_seed(seed, self.seed, position)
        if len(data.y) < self.initial_points(space):
            return self._sobol(space, position, n, seed, data.avoid)
        try:
            with single_threaded(), warnings.catch_warnings():
                # jitter notices of the MC posterior over near-duplicate points are harmless
                warnings.filterwarnings("ignore", message=".*not p.d.*")
                X = self._model_based(space, data, n, seed)
        except Exception as exc:  # the loop must survive any numerical failure
            warnings.warn(
                f"BoTorchSampler fell back to a Sobol point: the Gaussian-process step failed "
                f"with {type(exc).__name__}: {exc}",
                SamplerWarning,
                stacklevel=2,
            )
            return self._sobol(space, position, n, seed, data.avoid)
        return space.decode(X)

    def _sobol(
        self, space: SearchSpace, position: int, n: int, seed: int, avoid: np.ndarray
    ) -> list[dict[str, Any]]:
        """The next `n` Sobol points, skipping configurations in `avoid` (`m x d`) if it can."""
        extra = min(len(avoid), 64)
        scramble = 0 if self.seed is None else self.seed
        configs = sobol_points(space, start=position, n=n + extra, seed=scramble)
        if not extra:
            return configs
        X = space.encode(configs)
        fresh = [
            c
            for c, x in zip(configs, X, strict=True)
            if np.min(np.max(np.abs(avoid - x), axis=1)) > 1e-9
        ]
        return (fresh + [c for c in configs if c not in fresh])[:n]

    def _model_based(self, space: SearchSpace, data: _Data, n: int, seed: int) -> np.ndarray:
        import torch

        from lightning_autotune.samplers._acquisition import DirectLogEI
        from lightning_autotune.samplers._gp import (
            fit_hyperparameters,
            gp_model,
            select_history,
            warp_outcomes,
        )
        from lightning_autotune.samplers._optimize_acqf import as_tensor, optimize_acquisition

        keep = select_history(data.y)
        X_train = as_tensor(data.X[keep])
        y_train = as_tensor(warp_outcomes(-data.y[keep])[:, None])
        with torch.random.fork_rng():
            torch.manual_seed(seed % (2**63))
            hyper = fit_hyperparameters(X_train, y_train[:, 0].numpy())
            model = None  # BoTorch's model, built only for the acquisitions that need it
            top = data.X[np.argsort(data.y, kind="stable")[:3]]
            chosen: list[np.ndarray] = []
            avoid = data.avoid
            rng = np.random.default_rng(seed)
            for _ in range(n):
                pend = np.concatenate([data.pending, *[c[None, :] for c in chosen]])
                acqf: Any
                box = None
                if not len(pend) and self.acq_func in (AcqKind.AUTO, AcqKind.EI):
                    acqf = DirectLogEI.from_fit(X_train, y_train[:, 0].numpy(), hyper)
                else:
                    if model is None:
                        model = gp_model(X_train, y_train, hyper)
                    acqf = self._acquisition_in_flight(model, X_train, y_train, hyper, pend)
                    # the batch's first point: proposed from the same data, not yet answered
                    first = data.first_unanswered
                    if first is None and chosen:
                        first = chosen[0]
                    if self.acq_func is AcqKind.AUTO and first is not None:
                        box = refinement_box(space, top[0], first)
                x = optimize_acquisition(
                    acqf,
                    space,
                    anchors=top,
                    avoid=avoid,
                    seed=int(rng.integers(2**31)),
                    raw_samples=self.raw_samples,
                    num_restarts=self.num_restarts,
                    box=box,
                )
                if x is None:
                    raise RuntimeError("every candidate was already evaluated or pending")
                chosen.append(x)
                avoid = np.concatenate([avoid, x[None, :]])
        return np.stack(chosen)

    def _acquisition_in_flight(
        self,
        model: SingleTaskGP,
        X_train: torch.Tensor,
        y_train: torch.Tensor,
        hyper: GPHyper,
        pend: np.ndarray,
    ) -> Any:
        """The acquisition of a point chosen while the `pend` points are in flight (or of
        any point, for the UCB and NEI acquisitions)."""
        import torch

        from lightning_autotune.samplers._acquisition import DirectLogEI, build_acquisition
        from lightning_autotune.samplers._optimize_acqf import as_tensor

        if self.acq_func is AcqKind.AUTO and self.batch_policy.uses_believer(len(pend)):
            # Kriging believer: the GP with the points in flight "observed" at their posterior
            # mean, and analytic LogEI on it, which places the next point close to them
            # (refining) but not on them.
            with torch.no_grad():
                believed = model.posterior(as_tensor(pend)).mean
            return DirectLogEI.from_fit(
                torch.cat([X_train, as_tensor(pend)]),
                torch.cat([y_train, believed])[:, 0].numpy(),
                hyper,
            )
        return build_acquisition(
            self.acq_func,
            model,
            X_train,
            as_tensor(pend) if len(pend) else None,
            kappa=self.kappa,
        )


def _collect(
    space: SearchSpace,
    history: Sequence[TrialRecord],
    pending: Sequence[TrialRecord],
    directions: tuple[Direction, ...],
) -> _Data:
    d = space.dim
    xs: list[dict[str, Any]] = []
    ys: list[float] = []
    others: list[dict[str, Any]] = []
    for t in history:
        scores = t.scores(directions) if t.values is not None else None
        if t.state in _LEARN_FROM and scores is not None and math.isfinite(scores[0]):
            xs.append(dict(t.params))
            ys.append(float(scores[0]))
        else:
            others.append(dict(t.params))
    X, keep = _encode_valid(space, xs, d)
    y = np.asarray(ys, dtype=np.float64)[keep]
    P, _ = _encode_valid(space, [dict(t.params) for t in pending], d)
    F, _ = _encode_valid(space, others, d)
    return _Data(
        X=X,
        y=y,
        avoid=np.concatenate([X, P, F]),
        pending=P,
        first_unanswered=_first_unanswered(space, history, pending),
    )


def _first_unanswered(
    space: SearchSpace, history: Sequence[TrialRecord], pending: Sequence[TrialRecord]
) -> np.ndarray | None:
    """The earliest running trial started at or after the latest result (by timestamps).

    In a synchronous batch (several workers asked at once) it is the batch's first point; when
    workers are refilled one at a time as results arrive, no running trial is that recent, so
    each refill is chosen as freely as a sequential step. Unknown timestamps count as older.
    """
    finished = [t.finished_at for t in history if t.state in _LEARN_FROM and t.finished_at]
    if not finished:
        return None
    latest = max(finished)
    for t in sorted(pending, key=lambda t: t.number):
        if t.state is TrialState.RUNNING and t.started_at is not None and t.started_at >= latest:
            P, _ = _encode_valid(space, [dict(t.params)], space.dim)
            if len(P):
                return P[0]
    return None


def _valid(space: SearchSpace, config: dict[str, Any]) -> bool:
    try:
        space.encode([config])
    except Exception:
        return False
    return True


def _encode_valid(
    space: SearchSpace, configs: list[dict[str, Any]], d: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode the configurations that fit `space` (others, e.g. from an older space, dropped).

    Returns:
        The `k x d` encoded rows and the indices of the `k` configurations kept.
    """
    if not configs:
        return np.zeros((0, d)), np.zeros(0, dtype=np.int64)
    try:  # the common case: every configuration fits, and one call encodes them all
        return space.encode(configs), np.arange(len(configs))
    except Exception:
        keep = np.array([i for i, c in enumerate(configs) if _valid(space, c)], dtype=np.int64)
        rows = [configs[i] for i in keep]
        return (space.encode(rows) if rows else np.zeros((0, d))), keep
