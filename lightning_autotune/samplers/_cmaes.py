"""`CmaEsSampler`: CMA-ES (with restarts and the integer margin) on the `cmaes` package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._base import Sampler, check_seed, seeded_copy, suggestion_seed
from lightning_autotune.samplers._cmaes_state import (
    Coordinates,
    ReplayCache,
    RestartStrategy,
    Settings,
    replay,
    scored,
)
from lightning_autotune.samplers._evo_common import (
    choice_columns,
    choice_probabilities,
    feasible_or_fallback,
    require_cmaes,
)
from lightning_autotune.samplers._random import design_position, sobol_points
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["CmaEsSampler"]


class CmaEsSampler(Sampler):
    """CMA-ES on the numeric parameters, a learned categorical distribution on the others.

    **No memory between calls.** Each suggestion rebuilds the search distribution from the
    study's finished trials: they are told to a fresh `cmaes` optimizer in the order they
    finished, `population_size` at a time (one generation each), restarting where a run
    converges. Resumed studies, several workers sharing a store and a coordinator that was
    killed all see the same distribution. With several workers, each proposal is a fresh draw
    from the current distribution (seeded by the trial's number, so workers never repeat each
    other), and a generation is the next `population_size` trials to finish, whichever
    distribution proposed them: CMA-ES accepts such injected solutions.

    **Numeric parameters** (Float, Int, log or linear) are the coordinates of CMA-ES on the
    encoded unit cube, starting at its centre with step `sigma0`. A linear Int or a Float with a
    `step` has a lattice of values; with `with_margin` such coordinates use CMA-ES with margin
    (CMAwM, Hamano et al. 2022), which keeps a minimum probability of moving to a neighbouring
    value so the search does not freeze on one integer. A trial's integer is told as the
    lattice point it was evaluated at. A log-scaled Int is searched as continuous and rounded.

    **Categorical parameters** (and the choices of a `Conditional`) are not embedded in the
    Gaussian: one-hot coordinates would be rounded away and mislead the covariance. Each is
    drawn from its own distribution, estimated from the best half of the last two generations
    of the current run (choice frequencies plus one pseudo-vote spread over the choices, so no
    choice ever gets probability 0). This is a univariate estimation-of-distribution step
    beside CMA-ES: it learns which choice is good, which uniform resampling (Optuna's
    treatment) cannot.

    **Conditional parameters**: every numeric parameter keeps its coordinate. When a trial
    left one inactive, its coordinate is told at the distribution's mean, so that trial says
    nothing about it (no pull on the mean, no shrinking of the step). Choices of a
    `Conditional` are drawn among those its parents allow.

    **Warm start**: `warm_start_trials` (finished trials of an earlier, similar study, e.g.
    `load_study(...).trials`) set the initial mean, step and covariance by `cmaes`'s
    warm-starting rule (Nomura et al. 2021: a Gaussian fitted to the best `warm_start_gamma` of
    them). With `n_startup_trials`, the first trials of this study are a Sobol design, and CMA-ES
    is warm-started from them in the same way.

    The sampler remembers its last replay, keyed by the exact trials it told, and continues
    it when the history has grown; that only saves time (the replay from scratch is the same,
    step for step), so a fresh sampler in another process proposes the same points.

    Space constraints and rules: a draw that violates them is redrawn (up to 100 times), then
    replaced by a feasible uniform sample.

    Args:
        sigma0: Initial step on the unit cube (default 1/6: the cube spans three standard
            deviations either side of the centre).
        population_size: Trials per generation (default `cmaes`'s `4 + floor(3 ln d)`).
        restart_strategy: 'none', 'ipop' or 'bipop' (`RestartStrategy`).
        inc_popsize: Population growth factor of each large restart.
        with_margin: Use CMA-ES with margin for lattice coordinates (linear Int, stepped Float).
        n_startup_trials: Sobol trials before CMA-ES, which then starts from them.
        warm_start_trials: Finished trials of an earlier study to start from.
        warm_start_gamma: Share of the best warm-start trials the initial Gaussian is fitted to.
        seed: Seed of the whole sequence of proposals and of the restarts (None: the study's).

    Raises:
        ConfigError: An argument is out of range.

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> space = SearchSpace({"x": Float(-1.0, 1.0)})
        >>> -1.0 <= CmaEsSampler(seed=0).suggest(space, [])[0]["x"] <= 1.0
        True
    """

    def __init__(
        self,
        *,
        sigma0: float = 1 / 6,
        population_size: int | None = None,
        restart_strategy: str | RestartStrategy | None = None,
        inc_popsize: int = 2,
        with_margin: bool = True,
        n_startup_trials: int = 0,
        warm_start_trials: Sequence[TrialRecord] = (),
        warm_start_gamma: float = 0.1,
        seed: int | None = None,
    ) -> None:
        name = "CmaEsSampler"
        self.sigma0 = check_number(sigma0, f"{name}: sigma0", low=1e-12, hint="e.g. 1/6")
        if not self.sigma0 <= 1.0:
            raise ConfigError(
                f"{name}: sigma0 is a step on the unit cube and must be <= 1, got {sigma0!r}"
            )
        self.population_size = (
            None
            if population_size is None
            else check_int(population_size, f"{name}: population_size", low=2, hint="or None")
        )
        self.restart_strategy = RestartStrategy.parse(restart_strategy)
        self.inc_popsize = check_int(inc_popsize, f"{name}: inc_popsize", low=1, hint="e.g. 2")
        self.with_margin = bool(with_margin)
        self.n_startup_trials = check_int(n_startup_trials, f"{name}: n_startup_trials", low=0)
        self.warm_start_trials = tuple(warm_start_trials)
        self.warm_start_gamma = check_number(
            warm_start_gamma, f"{name}: warm_start_gamma", low=1e-9, hint="in (0, 1]"
        )
        if self.warm_start_gamma > 1:
            raise ConfigError(f"{name}: warm_start_gamma must be in (0, 1], got {warm_start_gamma}")
        self.seed = check_seed(seed, name)
        require_cmaes(name)
        self._cache = ReplayCache()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = ReplayCache()  # a time saver only: not worth sending to a worker
        return state

    def __repr__(self) -> str:
        return (
            f"CmaEsSampler(restart_strategy={self.restart_strategy.value!r}, "
            f"population_size={self.population_size}, seed={self.seed})"
        )

    def for_study(self, seed: int | None) -> CmaEsSampler:
        bound = seeded_copy(self, seed)
        if bound is not self:
            bound._cache = ReplayCache()  # the copy replays its own seed's generations
        return bound

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
        """Propose `n` configurations (see the class docstring for the method).

        Raises:
            ConfigError: Several objectives (CMA-ES is single-objective; use NSGA2Sampler).
        """
        if len(directions) != 1:
            raise ConfigError(
                f"CmaEsSampler optimizes one objective, but the study has {len(directions)} "
                f"directions {[Direction.parse(d).value for d in directions]}; use "
                "NSGA2Sampler (or sampler='evolutionary', which picks it) for several"
            )
        direction = Direction.parse(directions[0], "directions")
        position = design_position(history, pending)
        rng = np.random.default_rng(suggestion_seed(seed, self.seed, position))
        if position < self.n_startup_trials:
            return sobol_points(space, start=position, n=n, seed=self._base_seed)
        trials = scored(history, direction, self._cache.scores)
        startup, trials = trials[: self.n_startup_trials], trials[self.n_startup_trials :]
        coords = self._cache.coordinates(space)
        settings = self._settings(space, coords, startup, direction)
        state = replay(space, coords, trials, settings, self._cache)
        probs = choice_probabilities(space, state.run_trials, _elite_size(state))

        def draw() -> dict[str, Any]:
            return self._draw(space, coords, state, probs, rng)

        return [feasible_or_fallback(space, draw, rng) for _ in range(n)]

    @property
    def _base_seed(self) -> int:
        return 0 if self.seed is None else self.seed

    def _settings(
        self,
        space: SearchSpace,
        coords: Coordinates,
        startup: Sequence[tuple[float, TrialRecord]],
        direction: Direction,
    ) -> Settings:
        settings = Settings(
            sigma0=self.sigma0,
            population_size=self.population_size,
            restart_strategy=self.restart_strategy,
            inc_popsize=self.inc_popsize,
            with_margin=self.with_margin,
            seed=self._base_seed,
        )
        source = list(startup) + scored(self.warm_start_trials, direction)
        if not source or coords.dim == 0:
            return settings
        from cmaes import get_warm_start_mgd

        source = [(s, r) for s, r in source if _fits(space, r)]
        need = int(np.ceil(1 / self.warm_start_gamma))
        if len(source) < max(need, 2):
            return settings
        rows = space.encode([dict(r.params) for _, r in source])[:, list(coords.columns)]
        center = np.full(coords.dim, 0.5)
        for i, (_, r) in enumerate(source):
            inactive = [j for j, p in enumerate(coords.params) if p not in r.params]
            rows[i, inactive] = center[inactive]
        mean, sigma, cov = get_warm_start_mgd(
            [(rows[i], s) for i, (s, _) in enumerate(source)], gamma=self.warm_start_gamma
        )
        mean = np.clip(mean, coords.bounds[:, 0], coords.bounds[:, 1])
        return Settings(**{**settings.__dict__, "mean0": mean, "sigma0": sigma, "cov0": cov})

    def _draw(
        self,
        space: SearchSpace,
        coords: Coordinates,
        state: Any,
        probs: dict[str, np.ndarray],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        row = np.full(space.dim, 0.5)
        opt = state.optimizer
        if opt is not None:
            opt.reseed_rng(int(rng.integers(2**32)))
            x = opt.ask()
            row[list(coords.columns)] = x[0] if isinstance(x, tuple) else x
        for name, (start, stop) in choice_columns(space).items():
            # an exponential race: the largest exp(-E / p) is a draw from p, and stays one
            # when decoding keeps only the choices a Conditional allows
            row[start:stop] = np.exp(-rng.exponential(size=stop - start) / probs[name])
        return space.decode(row[None, :])[0]


def _elite_size(state: Any) -> int:
    opt = state.optimizer
    return max(1, (opt.population_size if opt is not None else 8) // 2)


def _fits(space: SearchSpace, record: TrialRecord) -> bool:
    try:
        space.validate(record.params, check_constraints=False)
    except Exception:  # a trial of another space: not a warm-start point here
        return False
    return True
