"""The CMA-ES search distribution of a study, rebuilt from its finished trials.

`CmaEsSampler` keeps nothing between calls: each suggestion replays the study's finished trials
through a fresh `cmaes` optimizer, a generation at a time, restarting where a run stops. Every
choice the replay makes (the order of the trials, the mean and population of a restart) is a
function of the history and the sampler's settings, so every worker that reads the same store
rebuilds the same distribution, and a resumed study continues where it stopped.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._cmaes_scores import ScoreMemo, finish_order, scored
from lightning_autotune.space import ColumnKind, Int, SearchSpace
from lightning_autotune.trial import TrialRecord

if TYPE_CHECKING:
    from cmaes import CMA, CMAwM

__all__ = [
    "Coordinates",
    "Replay",
    "ReplayCache",
    "RestartStrategy",
    "ScoreMemo",
    "finish_order",
    "replay",
    "scored",
]


class RestartStrategy(str, Enum):
    """What CMA-ES does when a run converges or stalls (`cmaes`'s `should_stop`)."""

    NONE = "none"
    """Keep the converged distribution."""
    IPOP = "ipop"
    """Restart from a random mean with the population multiplied by `inc_popsize`."""
    BIPOP = "bipop"
    """Alternate large-population restarts (as IPOP) with small-population, small-step ones,
    giving each regime about the same number of evaluations (Hansen 2009)."""

    @classmethod
    def parse(cls, value: str | RestartStrategy | None) -> RestartStrategy:
        """Accept an enum, its value (any case) or None (no restarts)."""
        if value is None:
            return cls.NONE
        if isinstance(value, RestartStrategy):
            return value
        key = str(value).strip().lower()
        for member in cls:
            if member.value == key:
                return member
        raise ConfigError(
            f"CmaEsSampler: restart_strategy must be one of {[m.value for m in cls]} or None, "
            f"got {value!r}"
        )


@dataclass(frozen=True)
class Coordinates:
    """Which columns of the encoded cube CMA-ES searches, and how.

    Attributes:
        columns: Indices of the numeric columns of `space.encode` (one per Float / Int).
        params: The parameter of each of those columns.
        bounds: `k x 2` bounds of each coordinate.
        steps: Lattice step of each coordinate (0: continuous). A linear Int or grid Float of
            `L` values sits on the centres of its `L` equal cells, so its step is `1 / L`.
    """

    columns: tuple[int, ...]
    params: tuple[str, ...]
    bounds: np.ndarray
    steps: np.ndarray

    @classmethod
    def of(cls, space: SearchSpace) -> Coordinates:
        """The coordinates of `space`'s numeric parameters."""
        columns, params, bounds, steps = [], [], [], []
        for i, col in enumerate(space.columns):
            if col.kind is ColumnKind.ONE_HOT:
                continue
            levels = col.n_levels
            p = space[col.param]
            lattice = (
                col.kind is ColumnKind.ORDINAL
                and levels is not None
                and levels >= 2
                and not (isinstance(p, Int) and p.log)
            )
            columns.append(i)
            params.append(col.param)
            if lattice:
                assert levels is not None
                bounds.append((0.5 / levels, 1.0 - 0.5 / levels))
                steps.append(1.0 / levels)
            else:
                bounds.append((0.0, 1.0))
                steps.append(0.0)
        return cls(
            tuple(columns),
            tuple(params),
            np.asarray(bounds, dtype=np.float64).reshape(len(columns), 2),
            np.asarray(steps, dtype=np.float64),
        )

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return len(self.columns)


@dataclass
class Replay:
    """Where the replay of a history stands: the live optimizer and the restarts so far.

    Attributes:
        optimizer: The `cmaes` optimizer of the current run (None: no numeric parameter).
        restart: Number of restarts so far (0: the first run).
        run_trials: Scores and configurations of the finished trials of the current run.
        large_evals, small_evals: Evaluations spent in BIPOP's two regimes (the first run
            counts as large).
        n_large: BIPOP's large-population restarts so far.
        small: Whether the current run is in BIPOP's small regime.
        lam0: Population of the first run.
    """

    optimizer: CMA | CMAwM | None
    restart: int = 0
    run_trials: list[tuple[float, TrialRecord]] = field(default_factory=list)
    large_evals: int = 0
    small_evals: int = 0
    n_large: int = 0
    small: bool = False
    lam0: int = 0


@dataclass(frozen=True)
class Settings:
    """What the replay needs from the sampler's arguments."""

    sigma0: float
    population_size: int | None
    restart_strategy: RestartStrategy
    inc_popsize: int
    with_margin: bool
    seed: int
    mean0: np.ndarray | None = None
    cov0: np.ndarray | None = None


def make_optimizer(
    coords: Coordinates,
    settings: Settings,
    *,
    mean: np.ndarray,
    sigma: float,
    popsize: int | None,
    cov: np.ndarray | None = None,
) -> CMA | CMAwM:
    """A `cmaes` optimizer over `coords`: CMA-ES with margin when a coordinate is a lattice."""
    from cmaes import CMA, CMAwM

    if settings.with_margin and np.any(coords.steps > 0):
        return CMAwM(
            mean=mean,
            sigma=sigma,
            bounds=coords.bounds,
            steps=coords.steps,
            population_size=popsize,
            cov=cov,
            seed=settings.seed % 2**32,
        )
    return CMA(
        mean=mean,
        sigma=sigma,
        bounds=coords.bounds,
        population_size=popsize,
        cov=cov,
        seed=settings.seed % 2**32,
    )


@dataclass
class ReplayCache:
    """The last replay a sampler made, at its last generation boundary, to continue from.

    Only saves time: the replay of a history that extends the cached one, continued from the
    cached state, is the replay from scratch, step for step. Keyed by the exact trials told and
    the settings; anything else replays from the start.
    """

    key: tuple[Any, ...] = ()
    told: tuple[tuple[int, float], ...] = ()
    state: Replay | None = None
    scores: ScoreMemo = field(default_factory=ScoreMemo)
    told_pairs: list[tuple[float, TrialRecord]] = field(default_factory=list)
    """The (score, record) objects behind `told`: a history that starts with these very
    objects (`scored` hands them back) is recognized without building its `told`."""
    coords: tuple[SearchSpace, Coordinates] | None = None
    """The last space's coordinates (`Coordinates.of` reads every column of the space)."""

    def coordinates(self, space: SearchSpace) -> Coordinates:
        """`Coordinates.of(space)`, computed once per space object."""
        last = self.coords
        if last is not None and last[0] is space:
            return last[1]
        coords = Coordinates.of(space)
        self.coords = (space, coords)
        return coords


def _settings_key(space: SearchSpace, settings: Settings) -> tuple[Any, ...]:
    arrays = tuple(None if a is None else a.tobytes() for a in (settings.mean0, settings.cov0))
    return (
        space,
        settings.sigma0,
        settings.population_size,
        settings.restart_strategy,
        settings.inc_popsize,
        settings.with_margin,
        settings.seed,
        arrays,
    )


def replay(
    space: SearchSpace,
    coords: Coordinates,
    trials: Sequence[tuple[float, TrialRecord]],
    settings: Settings,
    cache: ReplayCache | None = None,
) -> Replay:
    """Tell `trials` (score, record) to a fresh optimizer a generation at a time.

    A trial's coordinate of an inactive conditional parameter is set to the mean of the
    distribution it is told to, so it neither pulls the mean nor shrinks the step there.
    `cache` (optional) is read to skip the generations already replayed and updated.
    """
    if coords.dim == 0:
        return Replay(None, run_trials=list(trials))
    key = _settings_key(space, settings)
    start = 0
    if (
        cache is not None
        and cache.state is not None
        and cache.key == key
        and _starts_with(trials, cache)
    ):
        # shared with the cache until the first tell (asking only draws; it changes nothing)
        state = copy.copy(cache.state)
        state.run_trials = list(cache.state.run_trials)
        start, owned = len(cache.told), False
    else:
        owned = True
        center = np.clip(np.full(coords.dim, 0.5), coords.bounds[:, 0], coords.bounds[:, 1])
        state = Replay(
            make_optimizer(
                coords,
                settings,
                mean=center if settings.mean0 is None else settings.mean0,
                sigma=settings.sigma0,
                popsize=settings.population_size,
                cov=settings.cov0,
            )
        )
        state.lam0 = state.optimizer.population_size  # type: ignore[union-attr]
    batch: list[tuple[np.ndarray, float]] = []
    todo = trials[start:]
    rows = (
        space.encode([dict(r.params) for _, r in todo])[:, list(coords.columns)] if todo else None
    )
    low, high = coords.bounds[:, 0], coords.bounds[:, 1]
    for i, (score, record) in enumerate(todo):
        opt = state.optimizer
        assert opt is not None and rows is not None
        x = rows[i]
        if len(record.params) < len(space):
            inactive = [j for j, name in enumerate(coords.params) if name not in record.params]
            x[inactive] = opt.mean[inactive]
        batch.append((np.minimum(np.maximum(x, low), high), score))
        state.run_trials.append((score, record))
        if len(batch) < opt.population_size:
            continue
        if not owned:
            state.optimizer = opt = _clone(opt)
            owned = True
        opt.tell(batch)
        batch = []
        if state.small:
            state.small_evals += opt.population_size
        else:
            state.large_evals += opt.population_size
        if settings.restart_strategy is not RestartStrategy.NONE and _stopped(opt):
            _restart(state, coords, settings, state.lam0)
    if cache is not None:
        boundary = len(trials) - len(batch)
        if boundary > len(cache.told) or cache.key != key:
            snapshot = copy.copy(state)  # the optimizer is shared: see above
            snapshot.run_trials = state.run_trials[: len(state.run_trials) - len(batch)]
            pairs = list(trials[:boundary])
            told = tuple([(r.trial_id, s) for s, r in pairs])
            cache.key, cache.told, cache.told_pairs, cache.state = key, told, pairs, snapshot
    return state


def _starts_with(trials: Sequence[tuple[float, TrialRecord]], cache: ReplayCache) -> bool:
    """Whether `trials` begin with the (trial id, score) pairs the cache told."""
    n = len(cache.told)
    if len(trials) < n:
        return False
    pairs = cache.told_pairs
    if len(pairs) == n and all(map(operator.is_, pairs, trials)):
        return True
    return tuple([(r.trial_id, s) for s, r in trials[:n]]) == cache.told


def _clone(obj: Any) -> Any:
    """A copy of a `cmaes` optimizer, bit for bit.

    Not `copy.deepcopy`: `cmaes` pickles the covariance as its upper triangle, which makes a
    matrix that is symmetric only to rounding exactly symmetric, and the replay would then
    drift from the replay from scratch.
    """
    out = copy.copy(obj)
    for name, value in vars(obj).items():
        if isinstance(value, np.ndarray):
            setattr(out, name, value.copy())
        elif isinstance(value, np.random.RandomState):
            rng = np.random.RandomState()
            rng.set_state(value.get_state())
            setattr(out, name, rng)
        elif hasattr(value, "tell"):  # CMA-ES with margin keeps a CMA inside
            setattr(out, name, _clone(value))
    return out


def _stopped(opt: Any) -> bool:
    inner = getattr(opt, "_cma", opt)  # CMAwM keeps its CMA inside
    return bool(inner.should_stop())


def _restart(state: Replay, coords: Coordinates, settings: Settings, lam0: int) -> None:
    """Start the next run: a random mean, and the population and step of the strategy."""
    state.restart += 1
    rng = np.random.default_rng([settings.seed, state.restart])
    low, high = coords.bounds[:, 0], coords.bounds[:, 1]
    mean = low + (high - low) * rng.random(coords.dim)
    sigma = settings.sigma0
    if settings.restart_strategy is RestartStrategy.IPOP:
        popsize = lam0 * settings.inc_popsize**state.restart
    elif state.small_evals < state.large_evals:  # BIPOP: the small regime's turn
        state.small = True
        large = lam0 * settings.inc_popsize ** (state.n_large + 1)
        popsize = max(2, math.floor(lam0 * (0.5 * large / lam0) ** (rng.random() ** 2)))
        sigma = settings.sigma0 * 10 ** (-2 * rng.random())
    else:
        state.small = False
        state.n_large += 1
        popsize = lam0 * settings.inc_popsize**state.n_large
    state.optimizer = make_optimizer(coords, settings, mean=mean, sigma=sigma, popsize=popsize)
    state.run_trials = []
