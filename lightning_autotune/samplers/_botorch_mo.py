"""`MultiObjectiveBoTorchSampler`: log EHVI / qLogNEHVI / constrained qLogNEI over a space."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.exceptions import ConfigError, ConstraintError
from lightning_autotune.samplers._base import (
    Sampler,
    SamplerWarning,
    check_seed,
    renamed,
    seeded_copy,
    suggestion_seed,
)
from lightning_autotune.samplers._mo_search import (
    encode_valid,
    feasible_search,
    key,
    local_candidates,
    mixed_search,
)
from lightning_autotune.samplers._random import design_position
from lightning_autotune.samplers._threads import single_threaded
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["MultiObjectiveBoTorchSampler"]


class MultiObjectiveBoTorchSampler(Sampler):
    """Bayesian optimization of several objectives, with outcome and parameter constraints.

    With two or more objectives and no outcome constraint it maximizes the log expected
    hypervolume improvement over the front of the model's posterior means at the evaluated
    points: in closed form for one point with none pending (`_mo_ehvi.LogEHVI`), by BoTorch's
    qLogEHVI otherwise. With outcome constraints it maximizes qLogNEHVI (log noisy expected
    hypervolume improvement). With one objective, when one point is wanted and none is pending,
    it maximizes an analytic acquisition: log EI over the best posterior mean at the data (the
    closed form `BoTorchSampler` uses), or with outcome constraints the log constrained EI (log
    EI over the best feasible value plus the log probability that each constraint holds);
    otherwise constrained qLogNEI. The GP has the noise prior of `BoTorchSampler` and a noise
    floor of 1e-8, so deterministic objectives and constraint boundaries are fitted closely, and
    its Matern-5/2 kernel when a single objective is the only output (RBF otherwise). A single
    objective is standardized and Yeo-Johnson transformed before the fit, as in
    `BoTorchSampler`. Outcome constraints ('val_loss <= 0.5') are modelled by the same GP as the
    objectives (one output each, read from the last value of that metric the trial reported) and
    enter the acquisition as BoTorch constraints. Running trials are passed as `X_pending`.

    A space without parameter constraints is searched as `BoTorchSampler` searches it: integer,
    grid and categorical columns keep valid values, the polish moves the continuous ones with
    each start's discrete values fixed, then discrete neighbours are walked. In a space with
    constraints every proposal satisfies them and has its rules applied: candidates start from
    feasible random configurations, are polished by gradient steps on the encoded cube (with the
    linear constraints over continuous parameters as exact inequality constraints), then
    decoded and checked again. There, categorical and integer columns are relaxed to [0, 1]
    during the polish and rounded by decoding, so the decoded candidates and the raw ones they
    started from are ranked by the acquisition at their own encodings, and the best feasible
    one is proposed.

    Until `n_initial_points` trials are complete, proposals are the feasible points of a
    scrambled Sobol sequence. A model or acquisition failure falls back to them with a warning.

    Args:
        outcome_constraints: Strings such as 'latency_ms <= 20' or `OutcomeConstraint`s.
        reference_point: One value per objective, in the objectives' own units and directions,
            worse than anything of interest (default: inferred from the observed front).
        n_initial_points: Complete trials before the model is used (default: 2 * (dim + 1),
            at least 5 and at most 20).
        raw_samples: Feasible random candidates scored per proposal (BoTorch's name).
        num_restarts: Best raw candidates polished per proposal (BoTorch's name).
        seed: Seed of the whole sequence of proposals: the scramble of the start-up
            sequence, and the random draws of every model-based proposal (derived from it and
            the number of trials), so the sequence repeats exactly. None (the default): the
            seed of the study the sampler is given to (scramble 0 and fresh draws for a study
            without one, or when the sampler is used on its own).
        n_startup_trials: Deprecated name of `n_initial_points`.
        sobol_seed: Deprecated name of `seed`.

    Raises:
        ConfigError: An argument is out of range.
        ConstraintError: An outcome constraint is malformed.

    Example:
        >>> sampler = MultiObjectiveBoTorchSampler(outcome_constraints=["latency_ms <= 20"])
        >>> sampler.outcome_constraints[0].metric
        'latency_ms'
    """

    def __init__(
        self,
        *,
        outcome_constraints: Sequence[str | OutcomeConstraint] = (),
        reference_point: Sequence[float] | None = None,
        n_initial_points: int | None = None,
        raw_samples: int = 512,
        num_restarts: int = 8,
        seed: int | None = None,
        n_startup_trials: int | None = None,
        sobol_seed: int | None = None,
    ) -> None:
        name = "MultiObjectiveBoTorchSampler"
        n_initial_points = renamed(
            name, "n_startup_trials", n_startup_trials, "n_initial_points", n_initial_points, None
        )
        seed = renamed(name, "sobol_seed", sobol_seed, "seed", seed, None)
        if isinstance(outcome_constraints, str):
            raise ConstraintError(
                f"outcome_constraints must be a list, got the string {outcome_constraints!r}; "
                f"write outcome_constraints=[{outcome_constraints!r}]"
            )
        self.outcome_constraints = tuple(
            c if isinstance(c, OutcomeConstraint) else OutcomeConstraint(c)
            for c in outcome_constraints
        )
        self.reference_point = None if reference_point is None else tuple(reference_point)
        self.n_initial_points = (
            None
            if n_initial_points is None
            else check_int(n_initial_points, f"{name}: n_initial_points", hint="or None")
        )
        self.raw_samples = check_int(raw_samples, f"{name}: raw_samples")
        self.num_restarts = check_int(num_restarts, f"{name}: num_restarts")
        self.seed = check_seed(seed, name)

    @property
    def sobol_seed(self) -> int | None:
        """Deprecated name of `seed`."""
        warnings.warn(
            "MultiObjectiveBoTorchSampler.sobol_seed is deprecated; use .seed",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.seed

    @property
    def n_startup_trials(self) -> int | None:
        """Deprecated name of `n_initial_points`."""
        warnings.warn(
            "MultiObjectiveBoTorchSampler.n_startup_trials is deprecated; use .n_initial_points",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.n_initial_points

    def for_study(self, seed: int | None) -> MultiObjectiveBoTorchSampler:
        return seeded_copy(self, seed)

    def __repr__(self) -> str:
        texts = [c.text for c in self.outcome_constraints]
        return f"MultiObjectiveBoTorchSampler(outcome_constraints={texts})"

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
        dirs = tuple(Direction.parse(d, "directions") for d in directions)
        if self.reference_point is not None and len(self.reference_point) != len(dirs):
            raise ConfigError(
                f"reference_point has {len(self.reference_point)} values but the study has "
                f"{len(dirs)} objectives; give one per objective"
            )
        configs, Y = self._training_data(space, history, dirs)
        startup = self.n_initial_points or min(max(2 * (space.dim + 1), 5), 20)
        start = design_position(history, pending)
        seed = suggestion_seed(seed, self.seed, start)
        if len(configs) < startup:
            return space.sample_sobol(n, seed=self._scramble, start=start)
        try:
            import torch

            # BoTorch draws from torch's global generator (to prune the acquisition's baseline,
            # for one): a forked one, seeded, keeps the proposals a function of the seed and
            # leaves the user's generator as it was.
            with torch.random.fork_rng(), single_threaded():
                torch.manual_seed(seed % (2**63))
                return self._propose(space, configs, Y, dirs, pending, history, n, seed)
        except ConstraintError:
            raise
        except Exception as err:  # the loop must survive any numerical failure of the model
            warnings.warn(
                f"MultiObjectiveBoTorchSampler: the model or acquisition failed "
                f"({type(err).__name__}: {err}); proposing space-filling points instead",
                SamplerWarning,
                stacklevel=2,
            )
            return space.sample_sobol(n, seed=self._scramble, start=start)

    @property
    def _scramble(self) -> int:
        return 0 if self.seed is None else self.seed

    def _training_data(
        self, space: SearchSpace, history: Sequence[TrialRecord], dirs: tuple[Direction, ...]
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """COMPLETE trials with finite values and every constrained metric: `n x (m + c)`."""
        configs, rows = [], []
        for r in history:
            if r.state is not TrialState.COMPLETE or r.values is None:
                continue
            if len(r.values) != len(dirs):
                raise ConfigError(
                    f"trial {r.number} has {len(r.values)} values but the study has "
                    f"{len(dirs)} directions"
                )
            row = [-d.sign * v for d, v in zip(dirs, r.values, strict=True)]
            row += [_last_metric(r, c.metric) for c in self.outcome_constraints]
            if all(math.isfinite(v) for v in row):
                configs.append(dict(r.params))
                rows.append(row)
        width = len(dirs) + len(self.outcome_constraints)
        return configs, np.asarray(rows, dtype=np.float64).reshape(len(rows), width)

    def _propose(
        self,
        space: SearchSpace,
        configs: list[dict[str, Any]],
        Y: np.ndarray,
        dirs: tuple[Direction, ...],
        pending: Sequence[TrialRecord],
        history: Sequence[TrialRecord],
        n: int,
        seed: int | None,
    ) -> list[dict[str, Any]]:
        import torch
        from botorch.acquisition import AcquisitionFunction

        from lightning_autotune.samplers._gp import warp_outcomes
        from lightning_autotune.samplers._mo_acquisition import build_acquisition, fit_model

        X = torch.tensor(space.encode(configs), dtype=torch.float64)
        if len(dirs) == 1:
            # One objective: fit it warped, as BoTorchSampler does (strictly increasing, so the
            # best feasible value stays the best). Constraint outputs keep their units, where
            # the threshold is; several objectives keep theirs, where the hypervolume is.
            Y = Y.copy()
            Y[:, 0] = warp_outcomes(Y[:, 0])
        Yt = torch.tensor(Y, dtype=torch.float64)
        model = fit_model(X, Yt)
        ref = None
        if self.reference_point is not None:
            signs = torch.tensor([-d.sign for d in dirs], dtype=torch.float64)
            ref = torch.tensor(self.reference_point, dtype=torch.float64) * signs
        X_pending = (
            torch.tensor(space.encode([dict(p.params) for p in pending]), dtype=torch.float64)
            if pending
            else None
        )
        acq = build_acquisition(
            model,
            X,
            Yt[:, : len(dirs)],
            outcome_constraints=self.outcome_constraints,
            ref_point=ref,
            X_pending=X_pending,
            seed=seed,
            Y_constraints=Yt[:, len(dirs) :],
            single=n == 1,
        )
        seen = [dict(r.params) for r in (*history, *pending)]
        taken = {key(c) for c in seen}
        avoid = encode_valid(space, seen)
        rng = np.random.default_rng(seed)
        anchors = X.numpy()[self._anchor_rows(Y, len(dirs))]
        out: list[dict[str, Any]] = []
        for _ in range(n):
            if space.constraints:
                config = self._best_feasible(space, acq, rng, taken, anchors)
            else:
                config = self._mixed_search(space, acq, rng, avoid, anchors)
            taken.add(key(config))
            avoid = np.concatenate([avoid, space.encode([config])])
            out.append(config)
            if n > 1:  # an MC acquisition (analytic ones are built for one point only)
                assert isinstance(acq, AcquisitionFunction), type(acq)
                new = torch.tensor(space.encode([config]), dtype=torch.float64)
                old = acq.X_pending
                acq.set_X_pending(new if old is None else torch.cat([old, new]))
        return out

    def _anchor_rows(self, Y: np.ndarray, m: int, limit: int = 8) -> np.ndarray:
        """Rows of the best observed points whose neighbourhoods are searched too.

        One objective: the best three that met the outcome constraints. Several: up to `limit`
        non-dominated ones among those that met them (an even spread along the front).
        """
        met = np.ones(len(Y), dtype=bool)
        for j, c in enumerate(self.outcome_constraints):
            met &= np.array([c.is_satisfied(float(v)) for v in Y[:, m + j]], dtype=bool)
        rows = np.flatnonzero(met)
        if len(rows) == 0:
            return rows
        obj = Y[rows, :m]  # higher is better
        if m == 1:
            return rows[np.argsort(-obj[:, 0], kind="stable")[:3]]
        front = rows[[not np.any(np.all(obj >= y, axis=1) & np.any(obj > y, axis=1)) for y in obj]]
        if len(front) > limit:
            front = front[np.argsort(Y[front, 0], kind="stable")]
            front = front[np.linspace(0, len(front) - 1, limit).round().astype(int)]
        return front

    def _local_candidates(
        self, space: SearchSpace, anchors: np.ndarray, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        return local_candidates(space, anchors, self.raw_samples, rng)

    def _mixed_search(
        self,
        space: SearchSpace,
        acq: Any,
        rng: np.random.Generator,
        avoid: np.ndarray,
        anchors: np.ndarray,
    ) -> dict[str, Any]:
        sizes = {"raw_samples": self.raw_samples, "num_restarts": self.num_restarts}
        return mixed_search(space, acq, rng, avoid, anchors, **sizes)

    def _best_feasible(
        self,
        space: SearchSpace,
        acq: Any,
        rng: np.random.Generator,
        taken: set[str],
        anchors: np.ndarray,
    ) -> dict[str, Any]:
        sizes = {"raw_samples": self.raw_samples, "num_restarts": self.num_restarts}
        return feasible_search(space, acq, rng, taken, anchors, **sizes)


def _last_metric(record: TrialRecord, name: str) -> float:
    for step in sorted(record.metrics, reverse=True):
        value = record.metrics[step].get(name)
        if value is not None:
            return float(value)
    return math.nan
