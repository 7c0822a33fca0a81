"""`StagedMultiFidelitySampler`: a later stage of a staged plan models every earlier stage too.

The earlier stages' finished trials enter one `SingleTaskMultiFidelityGP` beside this stage's
own trials, each at its fidelity (the stage's share of the training data and of the final
epochs, one fidelity input each, 1 the target). The next configuration is the point of highest
log expected improvement at the target fidelity inside this stage's (narrowed) space; the
stage's fidelity itself is fixed by the plan, so no fidelity is chosen.

Earlier trials outside the narrowed box still inform the model: a numeric value is encoded on
the narrowed parameter's scale without clipping (so below 0 or above 1), and a categorical
value the narrowed space no longer offers gets no one-hot column set. A parameter the stage
fixed (a one-choice categorical) encodes the same way, so the model reads an earlier trial at
another value of it as at no listed value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

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
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["FidelityObservation", "StagedMultiFidelitySampler", "encode_outside"]


@dataclass(frozen=True)
class FidelityObservation:
    """A finished trial of an earlier stage as a later stage's model sees it.

    Attributes:
        params: The trial's parameters.
        score: Its value, lower is better (the study direction applied).
        fidelity: One value per fidelity input, in (0, 1]; 1 is the target.
    """

    params: Mapping[str, Any]
    score: float
    fidelity: tuple[float, ...]


def encode_outside(
    space: SearchSpace, configs: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, list[int]]:
    """Encodings of `configs` in `space`, values outside its ranges left unclipped.

    A numeric value maps through the parameter's own scale (outside [0, 1] when outside its
    range); a categorical value the space does not offer sets none of its columns.

    Returns:
        The `k x d` rows and the indices of `configs` they encode (a config that cannot be
        placed, e.g. one violating a constraint of `space` once clipped, is left out).
    """
    rows, kept = [], []
    for i, config in enumerate(configs):
        inside: dict[str, Any] = {}
        for name, p in space.items():
            value = config.get(name)
            if isinstance(p, (Float, Int)) and _number(value):
                inside[name] = p.clip(value)
            elif isinstance(p, Categorical) and value in p.choices:
                inside[name] = value
            elif isinstance(p, Categorical):
                inside[name] = p.choices[0]
            elif isinstance(p, (Float, Int)):
                inside[name] = p.low
        try:
            row = space.encode([space.apply_rules(inside) if space.rules else inside])[0]
        except Exception:  # an earlier point this stage's space cannot hold at all
            continue
        for name, p in space.items():
            value, (start, stop) = config.get(name), space.column_span(name)
            if isinstance(p, (Float, Int)) and _number(value) and (not p.log or value > 0):
                row[start] = p.to_unit(value)
            elif isinstance(p, Categorical) and value not in p.choices:
                row[start:stop] = 0.0
        rows.append(row)
        kept.append(i)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), space.dim), kept


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class StagedMultiFidelitySampler(Sampler):
    """The sampler of a later stage: one multi-fidelity GP over this and the earlier stages.

    `run_stages` builds it for a stage whose sampler is 'multifidelity' (or a
    `MultiFidelitySampler`), from the finished trials of the stages before it.

    Args:
        earlier: The earlier stages' finished trials, at their fidelity.
        fidelity: This stage's fidelity, one value per input (as in `earlier`).
        n_initial_points: Sobol points before the model is used, counting the earlier
            trials (None: `clip(d + 1, 5, 10)`).
        seed: Seed of the whole sequence of proposals.
        raw_samples: Space-filling points scored before local optimization.
        num_restarts: Starts of the local acquisition optimization.

    Raises:
        ConfigError: Fidelities of unequal length, or outside (0, 1].

    Example:
        >>> from lightning_autotune.space import SearchSpace, Float
        >>> space = SearchSpace({"x": Float(0.0, 1.0)})
        >>> earlier = [FidelityObservation({"x": 0.1 * i}, (0.1 * i - 0.3) ** 2, (0.25,))
        ...            for i in range(8)]
        >>> sampler = StagedMultiFidelitySampler(earlier, (1.0,), seed=0)
        >>> 0.0 <= sampler.suggest(space, [], seed=0)[0]["x"] <= 1.0
        True
    """

    def __init__(
        self,
        earlier: Sequence[FidelityObservation],
        fidelity: tuple[float, ...],
        *,
        n_initial_points: int | None = None,
        seed: int | None = None,
        raw_samples: int = 512,
        num_restarts: int = 3,
    ) -> None:
        self.earlier = tuple(earlier)
        self.fidelity = tuple(float(f) for f in fidelity)
        for o in (*self.earlier, FidelityObservation({}, 0.0, self.fidelity)):
            if len(o.fidelity) != len(self.fidelity) or not all(0.0 < f <= 1.0 for f in o.fidelity):
                raise ConfigError(
                    f"StagedMultiFidelitySampler: every fidelity must have "
                    f"{len(self.fidelity)} values in (0, 1], got {o.fidelity!r}"
                )
        if n_initial_points is not None:
            n_initial_points = check_int(
                n_initial_points, "StagedMultiFidelitySampler: n_initial_points"
            )
        self.n_initial_points = n_initial_points
        self.seed = check_seed(seed, "StagedMultiFidelitySampler")
        self.raw_samples = check_int(raw_samples, "StagedMultiFidelitySampler: raw_samples")
        self.num_restarts = check_int(num_restarts, "StagedMultiFidelitySampler: num_restarts")
        self._start: dict[str, Any] | None = None  # the last fit's hyperparameters

    def __repr__(self) -> str:
        return (
            f"StagedMultiFidelitySampler({len(self.earlier)} earlier trials, "
            f"fidelity={self.fidelity}, seed={self.seed})"
        )

    def for_study(self, seed: int | None) -> StagedMultiFidelitySampler:
        return seeded_copy(self, seed)

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
        """Propose `n` configurations of this stage (see the class docstring).

        Raises:
            ConfigError: Several objectives.
        """
        if len(directions) != 1:
            raise ConfigError(
                f"StagedMultiFidelitySampler optimizes one objective, got {len(directions)} "
                "directions"
            )
        data = _collect(space, history, pending, tuple(directions))
        position = design_position(history, pending)
        seed = suggestion_seed(seed, self.seed, position)
        usable = [o for o in self.earlier if math.isfinite(o.score)]
        n_init = self.n_initial_points or int(min(10, max(5, space.dim + 1)))
        if len(usable) + len(data.y) < n_init:
            return sobol_points(space, start=position, n=n, seed=self.seed or 0)
        f = len(self.fidelity)
        X0, kept = encode_outside(space, [o.params for o in usable])
        usable = [usable[i] for i in kept]
        X = np.concatenate([X0, data.X])
        F = np.array([o.fidelity for o in usable] + [self.fidelity] * len(data.y)).reshape(-1, f)
        y = np.concatenate([[o.score for o in usable], data.y])
        try:
            with single_threaded(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not p.d.*")
                chosen = self._model_based(space, np.hstack([X, F]), y, data, n, seed)
        except Exception as exc:  # the loop must survive any numerical failure
            warnings.warn(
                f"StagedMultiFidelitySampler fell back to a Sobol point: the model step failed "
                f"with {type(exc).__name__}: {exc}",
                SamplerWarning,
                stacklevel=2,
            )
            return sobol_points(space, start=position, n=n, seed=self.seed or 0)
        return space.decode(chosen)

    def _model_based(
        self, space: SearchSpace, XF: np.ndarray, y: np.ndarray, data: Any, n: int, seed: int
    ) -> np.ndarray:
        """`n x d` encoded proposals from `k x (d + f)` observations `XF` and scores `y`."""
        import torch

        from lightning_autotune.samplers._multifidelity_model import (
            AppendTarget,
            fit_model,
            hyperparameters,
            target_log_ei,
        )
        from lightning_autotune.samplers._optimize_acqf import as_tensor, optimize_acquisition

        d, f = space.dim, len(self.fidelity)
        cols = list(range(d, d + f))
        stage = np.array(self.fidelity)
        rng = np.random.default_rng(seed)
        chosen: list[np.ndarray] = []
        avoid = data.avoid
        top = np.clip(XF[np.argsort(y, kind="stable")[:3], :d], 0.0, 1.0)
        with torch.random.fork_rng():
            torch.manual_seed(seed % (2**63))
            model = fit_model(as_tensor(XF), as_tensor(-y[:, None]), cols, self._start)
            self._start = hyperparameters(model)
            for _ in range(n):
                believed = np.concatenate([data.pending, *[c[None, :] for c in chosen]])
                fantasy = model
                if len(believed):
                    Xb = as_tensor(np.hstack([believed, np.tile(stage, (len(believed), 1))]))
                    with torch.no_grad():
                        mean = model.posterior(Xb).mean  # type: ignore[attr-defined]
                    fantasy = model.condition_on_observations(Xb, mean)
                x = optimize_acquisition(
                    AppendTarget(target_log_ei(fantasy, as_tensor(XF), cols), f),
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
