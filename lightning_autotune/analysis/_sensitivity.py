"""Sensitivity of the objective to each parameter, read from a GP fitted to the study.

Two views, as the AutoML article recommends before fine tuning:

- **local**: move one parameter alone over its range (each choice, for a categorical) while the
  others stay at the best configuration, and read the GP's predicted change with its band;
- **global**: Sobol first-order and total indices of the GP's posterior mean, estimated with
  Saltelli sampling over the whole space (the one-hot columns of a categorical move together,
  as one parameter; a parameter made inactive by its parent contributes only where it is active).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.analysis._axes import is_numeric
from lightning_autotune.analysis._data import StudyData, as_data
from lightning_autotune.analysis._gp import Surrogate, fit_surrogate, training_set
from lightning_autotune.analysis._perturb import one_at_a_time
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

if TYPE_CHECKING:
    from lightning_autotune.study import Study

__all__ = [
    "LocalSensitivity",
    "ParamImportance",
    "SensitivityResult",
    "param_importances",
    "sensitivity_analysis",
]


@dataclass(frozen=True)
class ParamImportance:
    """How much of the objective's variation one parameter explains (on the GP's mean).

    Attributes:
        name: The parameter.
        importance: Its total index normalized so that all parameters sum to 1.
        first_order: Sobol first-order index (its effect alone).
        total_order: Sobol total index (alone and through interactions).
        total_std: Bootstrap standard deviation of `total_order` (Monte Carlo error only; the
            GP's own uncertainty is not included).
    """

    name: str
    importance: float
    first_order: float
    total_order: float
    total_std: float


@dataclass(frozen=True)
class LocalSensitivity:
    """The GP's prediction when one parameter moves alone away from the base configuration.

    Attributes:
        name: The parameter.
        base_value: Its value in the base configuration.
        values: The values tried (a grid over its range, or each allowed choice).
        mean: Predicted objective at each value (user's units and direction).
        change: `mean` minus the prediction at the base configuration.
        lower: Lower end of the band of `change` (two posterior standard deviations).
        upper: Upper end of that band.
        categorical: True when `values` are choices.
        log: True when the parameter is on a log scale.
    """

    name: str
    base_value: Any
    values: tuple[Any, ...]
    mean: tuple[float, ...]
    change: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    categorical: bool
    log: bool

    @property
    def spread(self) -> float:
        """Largest minus smallest predicted change: how much this parameter can move things."""
        return float(max(self.change) - min(self.change)) if self.change else 0.0


@dataclass(frozen=True)
class SensitivityResult:
    """Local and global sensitivity of one objective of a study.

    Attributes:
        base_params: The configuration the local analysis moves around.
        base_number: Number of the trial it came from (None when given by the caller).
        base_prediction: GP mean at the base configuration.
        local: One `LocalSensitivity` per parameter active in the base configuration.
        importances: Global ranking, most important first.
        objective: Index of the analysed objective.
        direction: Its direction.
        n_trials: Number of COMPLETE trials the GP was fitted on.
    """

    base_params: Mapping[str, Any]
    base_number: int | None
    base_prediction: float
    local: tuple[LocalSensitivity, ...]
    importances: tuple[ParamImportance, ...]
    objective: int
    direction: Direction
    n_trials: int

    @property
    def ranking(self) -> tuple[str, ...]:
        """Parameter names, most important first."""
        return tuple(p.name for p in self.importances)


def param_importances(
    study: Study | Sequence[TrialRecord],
    *,
    directions: Sequence[str | Direction] | None = None,
    space: SearchSpace | None = None,
    objective: int = 0,
    n_samples: int = 1024,
    seed: int = 0,
) -> tuple[ParamImportance, ...]:
    """Rank parameters by Sobol total index of a GP fitted to the COMPLETE trials.

    Args:
        study: A study, or its trial records.
        directions: The directions, when `study` is a list of records (default: minimize).
        space: The search space, when `study` is a list of records (default: inferred).
        objective: Which objective to analyse.
        n_samples: Saltelli base sample size (rounded up to a power of 2); the GP is evaluated
            at `n_samples * (n_params + 2)` points.
        seed: Seeds the GP fit and the sampling.

    Returns:
        One `ParamImportance` per parameter, most important first; importances sum to 1 (all 0
        when the GP's mean is flat).

    Raises:
        ConfigError: Fewer than 3 COMPLETE trials, or a bad `objective` / `n_samples`.

    Example:
        >>> for p in param_importances(study):  # doctest: +SKIP
        ...     print(p.name, round(p.importance, 2))
    """
    data = as_data(study, directions, space)
    data.check_objective(objective)
    _, X, y = training_set(data, objective)
    return sobol_indices(data.space, fit_surrogate(X, y, seed=seed), n_samples, seed)


def sensitivity_analysis(
    study: Study | Sequence[TrialRecord],
    *,
    around: Mapping[str, Any] | None = None,
    n_points: int = 21,
    directions: Sequence[str | Direction] | None = None,
    space: SearchSpace | None = None,
    objective: int = 0,
    n_samples: int = 1024,
    seed: int = 0,
) -> SensitivityResult:
    """Local sensitivity around the best (or a given) configuration plus the global ranking.

    Args:
        study: A study, or its trial records.
        around: The base configuration (default: the best COMPLETE trial's parameters).
        n_points: Grid size over each numeric parameter's range (on its own scale).
        directions: The directions, when `study` is a list of records (default: minimize).
        space: The search space, when `study` is a list of records (default: inferred).
        objective: Which objective to analyse.
        n_samples: Saltelli base sample size for the global ranking.
        seed: Seeds the GP fit and the sampling.

    Returns:
        A `SensitivityResult`.

    Raises:
        ConfigError: Fewer than 3 COMPLETE trials, `n_points` < 2, or a bad `objective`.
        SearchSpaceError: `around` is not a valid configuration of the space.

    Example:
        >>> result = sensitivity_analysis(study)  # doctest: +SKIP
        >>> result.ranking[0], result.local[0].spread  # doctest: +SKIP
    """
    check_int(n_points, "n_points", low=2, hint="give the number of values per parameter")
    data = as_data(study, directions, space)
    direction = data.check_objective(objective)
    trials, X, y = training_set(data, objective)
    surrogate = fit_surrogate(X, y, seed=seed)
    if around is None:
        best = min(range(len(y)), key=lambda i: (direction.sign * y[i], trials[i].number))
        base, number = data.space.validate(trials[best].params), trials[best].number
    else:
        base, number = data.space.validate(around), None
    local = tuple(
        _local_curve(data, surrogate, base, name, n_points)
        for name in data.space.active_names(base)
    )
    base_mean = float(surrogate.mean(data.space.encode([base]))[0])
    return SensitivityResult(
        base_params=MappingProxyType(dict(base)),
        base_number=number,
        base_prediction=base_mean,
        local=local,
        importances=sobol_indices(data.space, surrogate, n_samples, seed),
        objective=objective,
        direction=direction,
        n_trials=len(y),
    )


def _local_curve(
    data: StudyData, surrogate: Surrogate, base: dict[str, Any], name: str, n_points: int
) -> LocalSensitivity:
    space = data.space
    p = space[name]
    values, configs = one_at_a_time(space, base, name, n_points)
    X = space.encode([base, *configs])
    mean, cov = surrogate.joint(X)
    change = mean[1:] - mean[0]
    var = np.clip(np.diag(cov)[1:] + cov[0, 0] - 2.0 * cov[0, 1:], 0.0, None)
    band = 2.0 * np.sqrt(var)
    return LocalSensitivity(
        name=name,
        base_value=base[name],
        values=tuple(values),
        mean=tuple(float(m) for m in mean[1:]),
        change=tuple(float(c) for c in change),
        lower=tuple(float(c) for c in change - band),
        upper=tuple(float(c) for c in change + band),
        categorical=not is_numeric(p),
        log=bool(getattr(p, "log", False)),
    )


def sobol_indices(
    space: SearchSpace, surrogate: Surrogate, n_samples: int = 1024, seed: int = 0
) -> tuple[ParamImportance, ...]:
    """Sobol indices of the surrogate's mean per parameter (Saltelli sampling, Jansen totals).

    Args:
        space: The search space the surrogate was fitted on.
        surrogate: The fitted GP.
        n_samples: Base sample size N (rounded up to a power of 2).
        seed: Seeds the scrambled Sobol sequence and the bootstrap.

    Returns:
        One `ParamImportance` per parameter, most important first.

    Raises:
        ConfigError: `n_samples` is not an integer >= 8.
    """
    check_int(n_samples, "n_samples", low=8, hint="give a Saltelli sample size such as 512")
    from torch.quasirandom import SobolEngine

    d = space.dim
    n_base = 2 ** int(np.ceil(np.log2(n_samples)))
    AB = SobolEngine(2 * d, scramble=True, seed=seed).draw(n_base).double().numpy()
    A, B = AB[:, :d], AB[:, d:]
    names = list(space.names)
    blocks = [A, B]
    for name in names:
        start, stop = space.column_span(name)
        mixed = A.copy()
        mixed[:, start:stop] = B[:, start:stop]
        blocks.append(mixed)
    # Snap every raw point to a valid configuration: one-hot argmax, grids, inactive columns.
    X = space.encode(space.decode(np.vstack(blocks)))
    f = surrogate.mean(X).reshape(len(blocks), -1)
    fA, fB, fAB = f[0], f[1], f[2:]
    first, total = _indices(fA, fB, fAB)
    rng = np.random.default_rng(seed)
    n = len(fA)
    boot = np.array(
        [_indices(fA[i], fB[i], fAB[:, i])[1] for i in (rng.integers(0, n, n) for _ in range(100))]
    )
    total_std = boot.std(axis=0)
    clipped = np.clip(total, 0.0, None)
    norm = clipped / clipped.sum() if clipped.sum() > 1e-12 else np.zeros_like(clipped)
    out = [
        ParamImportance(name, float(norm[k]), float(first[k]), float(total[k]), float(total_std[k]))
        for k, name in enumerate(names)
    ]
    return tuple(sorted(out, key=lambda p: -p.importance))


def _indices(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order (Saltelli 2010) and total (Jansen) estimators; `fAB` is `k x N`."""
    var = np.var(np.concatenate([fA, fB]))
    if var <= 1e-18:
        zeros = np.zeros(len(fAB))
        return zeros, zeros
    first = np.mean(fB * (fAB - fA), axis=1) / var
    total = 0.5 * np.mean((fA - fAB) ** 2, axis=1) / var
    return first, total
