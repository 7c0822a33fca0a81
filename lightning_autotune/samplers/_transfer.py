"""`TransferSampler`: Bayesian optimization that learns from earlier, related studies."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int
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
from lightning_autotune.samplers._transfer_design import (
    RANKED_FROM,
    DesignStep,
    cold_design_size,
    next_step,
    source_share,
    unproposed,
)
from lightning_autotune.samplers._transfer_map import (
    SourceData,
    WarmSource,
    load_source,
)
from lightning_autotune.samplers._transfer_portfolio import greedy_portfolio, portfolio_size
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["TransferSampler", "WarmStartMode"]

_PORTFOLIO_MAX = 5
"""Largest zero-shot portfolio (earlier tasks that disagree get this many points)."""


class WarmStartMode(Enum):
    """How a warm-started study uses the earlier studies' observations."""

    SAME_TASK = "same_task"
    """One GP on the earlier and this study's observations together (each study's values
    standardized on their own), as if they came from this task."""
    TRANSFER = "transfer"
    """The ranking-weighted ensemble of one GP per study (RGPE): an earlier study counts as
    much as it ranks this study's own observations well."""
    ZERO_SHOT = "zero_shot"
    """`TRANSFER`, starting from a greedy portfolio of the earlier studies' best
    configurations while this study's observations do not contradict them (see
    `samplers._transfer_design`)."""

    @classmethod
    def parse(cls, value: str | WarmStartMode) -> WarmStartMode:
        """The mode named `value` (case-insensitive).

        Raises:
            ConfigError: Unknown name.
        """
        if isinstance(value, WarmStartMode):
            return value
        for mode in cls:
            if str(value).lower() in (mode.value, mode.name.lower()):
                return mode
        raise ConfigError(f"warm_start_mode must be one of {[m.value for m in cls]}, got {value!r}")


class TransferSampler(Sampler):
    """Bayesian optimization warm-started from earlier studies (see `WarmStartMode`).

    The earlier studies are read from their stores at each suggestion (their COMPLETE trials,
    mapped onto this study's space by parameter name; see `samplers._transfer_map`), so they
    inform the model but are never this study's trials: they are not in its history, its count
    or its best. Each study's values are turned lower-is-better by its own direction, so an
    earlier study that maximized accuracy informs one that minimizes error. The GPs of the
    earlier studies are cached per study and number of observations.

    `TRANSFER` needs no initial design: with none of this study's observations it proposes the
    point where the earlier tasks' models, equally weighted, agree the objective is best, and
    with fewer than three (too few to rank) it maximizes expected improvement on a GP of this
    study's residuals from that equally weighted mean. From three on, the earlier tasks and this
    task's own model are weighted by how they rank this study's observations, the earlier tasks'
    weights setting their share of the mean the residuals are taken from (see
    `samplers._transfer_model`). `ZERO_SHOT`
    starts instead from the greedy portfolio of the earlier studies' best configurations, as
    many as it takes to cover the earlier tasks (one or two when they agree, up to five when
    they do not; see `portfolio_size`), but only while the earlier tasks rank this study's
    observations at least as well as its own model does: once they do not, the rest of the
    portfolio is dropped and the cold sampler's Sobol points complete the design to the cold
    sampler's size (see `samplers._transfer_design`). In-flight trials are excluded from the
    proposals, not modelled.

    Args:
        sources: The earlier studies.
        mode: `WarmStartMode` or its name.
        n_initial_points: Size of the initial design (None: for 'zero_shot' the covering
            portfolio while the earlier tasks hold, else the cold sampler's size; 0 otherwise);
            given, Sobol points follow a portfolio that is used up.
        seed: Seed of the whole sequence of proposals (None: the study's).
        raw_samples: Size of the space-filling design scored before local optimization.
        num_restarts: Starts of the local acquisition optimization.

    Raises:
        ConfigError: No sources, or an argument out of range.
    """

    def __init__(
        self,
        sources: Sequence[WarmSource] = (),
        mode: str | WarmStartMode = WarmStartMode.TRANSFER,
        n_initial_points: int | None = None,
        *,
        seed: int | None = None,
        raw_samples: int = 512,
        num_restarts: int = 5,
    ) -> None:
        self.sources = tuple(sources)
        if not self.sources:
            raise ConfigError(
                "TransferSampler needs at least one earlier study in sources (or give the "
                "study warm_start=...); for a cold start use BoTorchSampler"
            )
        self.mode = WarmStartMode.parse(mode)
        if n_initial_points is not None:
            n_initial_points = check_int(
                n_initial_points, "TransferSampler: n_initial_points", low=0
            )
        self.n_initial_points = n_initial_points
        self.seed = check_seed(seed, "TransferSampler")
        self.raw_samples = check_int(raw_samples, "TransferSampler: raw_samples")
        self.num_restarts = check_int(num_restarts, "TransferSampler: num_restarts")
        self._fits: dict[tuple[int, str, int, str], Any] = {}

    def __repr__(self) -> str:
        names = [s.study for s in self.sources]
        return f"TransferSampler(sources={names}, mode={self.mode.value!r}, seed={self.seed})"

    def for_study(self, seed: int | None) -> TransferSampler:
        return seeded_copy(self, seed)

    def initial_points(self, sources: Sequence[SourceData] = ()) -> int:
        """Number of initial-design points before the model is used: `n_initial_points` when
        given, else the covering portfolio's size in `ZERO_SHOT` mode (its design then also
        depends on the space and on the study's observations; see `samplers._transfer_design`)
        and 0 otherwise.

        Args:
            sources: The earlier studies' observations; in `ZERO_SHOT` mode they set the size
                of the portfolio (see `portfolio_size`).
        """
        if self.n_initial_points is not None:
            return self.n_initial_points
        if self.mode is WarmStartMode.ZERO_SHOT:
            return portfolio_size(sources, _PORTFOLIO_MAX)
        return 0

    def load(self, space: SearchSpace, directions: Sequence[Direction]) -> list[SourceData]:
        """The earlier studies' observations mapped onto `space`."""
        return [load_source(s, space, directions) for s in self.sources]

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
        """Propose `n` configurations (see the class docstring).

        Raises:
            ConfigError: Several objectives, or earlier studies that cannot be mapped.
        """
        if len(directions) != 1:
            raise ConfigError(
                f"TransferSampler optimizes one objective, but the study has {len(directions)} "
                "directions; use one direction"
            )
        position = design_position(history, pending)
        seed = suggestion_seed(seed, self.seed, position)
        sources = self.load(space, directions)
        data = _collect(space, history, pending, tuple(directions))
        X, y, avoid = data.X, data.y, data.avoid
        usable = sum(len(d.y) >= 2 for d in sources)
        if self.mode is WarmStartMode.ZERO_SHOT and self.n_initial_points is None:
            return self._zero_shot(space, sources, X, y, avoid, position, n, seed)
        n_init = self.initial_points(sources)
        if len(y) < n_init or (not usable and len(y) < RANKED_FROM):
            return self._initial(space, sources, position, n, avoid, n_init)
        return self._propose(space, sources, X, y, avoid, position, n, seed)

    def _propose(
        self,
        space: SearchSpace,
        sources: list[SourceData],
        X: np.ndarray,
        y: np.ndarray,
        avoid: np.ndarray,
        position: int,
        n: int,
        seed: int,
    ) -> list[dict[str, Any]]:
        """The model's `n` proposals, or Sobol points where the model step fails."""
        try:
            with single_threaded(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not p.d.*")
                chosen = self._model_based(space, sources, X, y, avoid, n, seed)
        except Exception as exc:  # the loop must survive any numerical failure
            warnings.warn(
                f"TransferSampler fell back to a Sobol point: the model step failed with "
                f"{type(exc).__name__}: {exc}",
                SamplerWarning,
                stacklevel=2,
            )
            return self._sobol(space, position, n, avoid)
        return space.decode(chosen)

    def _zero_shot(
        self,
        space: SearchSpace,
        sources: list[SourceData],
        X: np.ndarray,
        y: np.ndarray,
        avoid: np.ndarray,
        position: int,
        n: int,
        seed: int,
    ) -> list[dict[str, Any]]:
        """The next `n` proposals of `ZERO_SHOT` (see `samplers._transfer_design`)."""
        size = portfolio_size(sources, _PORTFOLIO_MAX)
        left = unproposed(space, greedy_portfolio(sources, size), avoid)
        design = cold_design_size(space)
        usable = [(s, d) for s, d in zip(self.sources, sources, strict=True) if len(d.y) >= 2]
        share = None
        if left and usable and len(y) >= RANKED_FROM and position < design:
            share = self._source_share(space, usable, X, y, seed)
        step = next_step(
            share=share, portfolio_left=len(left), position=position, design_size=design
        )
        if step is DesignStep.MODEL and (usable or len(y) >= RANKED_FROM):
            return self._propose(space, sources, X, y, avoid, position, n, seed)
        if step is DesignStep.MODEL:  # nothing to model yet: the cold sampler's next point
            return self._sobol(space, position, n, avoid)
        out = left[:n] if step is DesignStep.PORTFOLIO else []
        if out:
            avoid = np.concatenate([avoid, space.encode(out)])
        return out + self._sobol(space, 0, n - len(out), avoid)

    def _source_share(
        self,
        space: SearchSpace,
        usable: list[tuple[WarmSource, SourceData]],
        X: np.ndarray,
        y: np.ndarray,
        seed: int,
    ) -> float | None:
        """The earlier tasks' share of the ranking weights on this study's observations (None
        where the models cannot be fitted: nothing to judge by)."""
        try:
            with single_threaded(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not p.d.*")
                src = [self._fit(s, d, space, seed) for s, d in usable]
                weights, _ = self._rank(src, X, y, seed, np.random.default_rng(seed))
        except Exception:  # the loop must survive any numerical failure
            return None
        return source_share(weights)

    def _rank(
        self, src: list[Any], X: np.ndarray, y: np.ndarray, seed: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, Any]:
        """RGPE weights of the earlier tasks' models and, last, this study's own model; and
        this study's own GP."""
        import torch

        from lightning_autotune.samplers._optimize_acqf import as_tensor
        from lightning_autotune.samplers._transfer_model import fit_task_gp, ranking_weights

        target = fit_task_gp(X, y, seed)
        with torch.no_grad():
            preds = [-m.predict(as_tensor(X))[0].numpy() for m in src]  # lower is better
        return ranking_weights(preds, -target.loo_mean(), y, rng), target

    def _initial(
        self,
        space: SearchSpace,
        sources: list[SourceData],
        position: int,
        n: int,
        avoid: np.ndarray,
        n_init: int,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.mode is WarmStartMode.ZERO_SHOT:
            for config in greedy_portfolio(sources, n_init):
                x = space.encode([config])[0]
                if len(avoid) and np.min(np.max(np.abs(avoid - x), axis=1)) <= 1e-9:
                    continue
                out.append(config)
                avoid = np.concatenate([avoid, x[None, :]])
                if len(out) == n:
                    return out
        return out + self._sobol(space, position, n - len(out), avoid)

    def _sobol(
        self, space: SearchSpace, position: int, n: int, avoid: np.ndarray
    ) -> list[dict[str, Any]]:
        if n <= 0:
            return []
        scramble = 0 if self.seed is None else self.seed
        configs = sobol_points(space, start=position, n=n + min(len(avoid), 16), seed=scramble)
        X = space.encode(configs)
        fresh = [
            c
            for c, x in zip(configs, X, strict=True)
            if not len(avoid) or np.min(np.max(np.abs(avoid - x), axis=1)) > 1e-9
        ]
        return (fresh + [c for c in configs if c not in fresh])[:n]

    def _fit(self, source: WarmSource, data: SourceData, space: SearchSpace, seed: int) -> Any:
        from lightning_autotune.samplers._transfer_model import fit_task_gp

        key = (id(source.storage), source.study, len(data.y), repr(space.to_dict()))
        if key not in self._fits:
            self._fits[key] = fit_task_gp(data.X, data.y, seed)
        return self._fits[key]

    def _model_based(
        self,
        space: SearchSpace,
        sources: list[SourceData],
        X: np.ndarray,
        y: np.ndarray,
        avoid: np.ndarray,
        n: int,
        seed: int,
    ) -> np.ndarray:
        from lightning_autotune.samplers._gp import standardize
        from lightning_autotune.samplers._optimize_acqf import as_tensor, optimize_acquisition
        from lightning_autotune.samplers._transfer_model import (
            EnsembleMean,
            StackedLogEI,
            StackedModel,
            fit_stacked,
            fit_task_gp,
        )

        rng = np.random.default_rng(seed)
        usable = [(s, d) for s, d in zip(self.sources, sources, strict=True) if len(d.y) >= 2]
        acqf: Any
        if self.mode is WarmStartMode.SAME_TASK:
            parts = [(d.X, standardize(d.y)) for _, d in usable]
            if len(y):
                parts.append((X, standardize(y)))
            if not parts:
                raise RuntimeError("no observations to model yet")
            pooled_X = np.concatenate([p[0] for p in parts])
            pooled = fit_task_gp(pooled_X, np.concatenate([p[1] for p in parts]), seed)
            model = StackedModel((), (), pooled, 0.0, 1.0)  # no prior: the pooled GP alone
            acqf = StackedLogEI(model, as_tensor(X if len(y) else pooled_X))
        else:
            src = [self._fit(s, d, space, seed) for s, d in usable]
            if not len(y):  # nothing of this task yet: the point the earlier tasks agree is best
                acqf = EnsembleMean(src, np.full(len(src), 1.0 / max(len(src), 1)))
            else:
                if len(y) < RANKED_FROM:
                    target = fit_task_gp(X, y, seed)
                    weights = np.full(len(src), 1.0 / max(len(src), 1))
                else:
                    ranked, target = self._rank(src, X, y, seed, rng)
                    weights = ranked[: len(src)]
                acqf = StackedLogEI(fit_stacked(src, weights, target, seed), as_tensor(X))
        top = X[np.argsort(y, kind="stable")[:3]] if len(y) else np.zeros((0, space.dim))
        chosen: list[np.ndarray] = []
        for _ in range(n):
            x = optimize_acquisition(
                acqf,
                space,
                anchors=top,
                avoid=avoid,
                seed=int(rng.integers(2**31)),
                raw_samples=self.raw_samples,
                num_restarts=self.num_restarts,
            )
            if x is None:
                raise RuntimeError("every candidate was already evaluated or pending")
            chosen.append(x)
            avoid = np.concatenate([avoid, x[None, :]])
        return np.stack(chosen)
