"""Maximize an acquisition function over the encoded cube of a (mixed, conditional) space.

Only valid encoded points are ever scored as final candidates: a point of the cube is projected
onto the space by decoding and re-encoding it (integer and grid columns snap to their cells, a
categorical takes its arg-max choice, inactive parameters take their fixed value). The search:

1. score a scrambled Sobol design plus perturbations of the best observed points;
2. from the best few, run one batched L-BFGS-B over the continuous (and finely gridded) columns,
   with the discrete columns of each start held fixed;
3. walk discrete neighbours (one grid step, another category) while that improves, then polish
   the continuous columns again;
4. return the best candidate that is not already evaluated, pending or failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lightning_autotune.samplers._box import Box, box_columns
from lightning_autotune.space import Categorical, ColumnKind, Conditional, Int, SearchSpace

if TYPE_CHECKING:
    import torch

Acquisition = Callable[["torch.Tensor"], "torch.Tensor"]
"""Maps `b x 1 x d` candidates to `b` values: a BoTorch acquisition, or `DirectLogEI`."""

__all__ = [
    "Acquisition",
    "Box",
    "box_columns",
    "optimize_acquisition",
    "perturb_anchors",
    "project",
]

_RELAX_LEVELS = 16
"""Grid columns with more levels than this are optimized as continuous, then snapped."""


def project(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    """Snap `n x d` points of the cube to valid encoded configurations of `space`."""
    X = np.clip(X, 0.0, 1.0)
    if _is_plain(space):
        return X
    return space.encode(space.decode(X))


def _is_plain(space: SearchSpace) -> bool:
    return all(c.kind is ColumnKind.CONTINUOUS for c in space.columns) and not any(
        space[name].parents for name in space.names
    )


def _evaluate(acqf: Acquisition, X: np.ndarray, chunk: int = 1024) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            Xt = torch.from_numpy(X[i : i + chunk]).unsqueeze(-2)
            out.append(acqf(Xt).double().numpy())
    values = np.concatenate(out) if out else np.zeros(0)
    return np.where(np.isfinite(values), values, -np.inf)


def _relaxed_columns(space: SearchSpace) -> np.ndarray:
    return np.array(
        [
            i
            for i, c in enumerate(space.columns)
            if c.kind is ColumnKind.CONTINUOUS
            or (c.kind is ColumnKind.ORDINAL and (c.n_levels or 0) > _RELAX_LEVELS)
        ],
        dtype=np.int64,
    )


def _lbfgs(
    acqf: Acquisition, starts: np.ndarray, cols: np.ndarray, maxiter: int, box: Box
) -> np.ndarray:
    """Jointly maximize the acquisition of each `k x d` start over columns `cols`, in `box`."""
    from scipy.optimize import minimize

    if len(cols) == 0 or len(starts) == 0:
        return starts
    shape = (len(starts), len(cols))
    closed_form = getattr(acqf, "value_and_grad", None)
    # DirectLogEI gives its gradient in NumPy; other acquisitions go through autograd
    loss_and_grad = (
        _numpy_loss(closed_form, starts, cols, shape)
        if closed_form is not None
        else _autograd_loss(acqf, starts, cols, shape)
    )
    lower, upper = box.bounds(starts, cols)
    lo, hi = lower.ravel(), upper.ravel()
    z0 = np.clip(starts[:, cols].ravel(), lo, hi)
    result = minimize(
        loss_and_grad,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi, strict=True)),
        options={"maxiter": maxiter},
    )
    out = starts.copy()
    out[:, cols] = np.clip(result.x, lo, hi).reshape(shape)
    return out


_Loss = Callable[[np.ndarray], tuple[float, np.ndarray]]


def _numpy_loss(
    value_and_grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    starts: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
) -> _Loss:
    def loss_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        X = starts.copy()
        X[:, cols] = z.reshape(shape)
        values, grads = value_and_grad(X)
        loss = -float(values.sum())
        if not (np.isfinite(loss) and np.all(np.isfinite(grads))):
            return 1e10, np.zeros_like(z)
        return loss, -grads[:, cols].ravel()

    return loss_and_grad


def _autograd_loss(
    acqf: Acquisition, starts: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
) -> _Loss:
    import torch

    base = torch.from_numpy(starts.copy())
    col_idx = torch.from_numpy(cols)

    def loss_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.from_numpy(z.reshape(shape)).requires_grad_(True)
        X = base.clone()
        X[:, col_idx] = zt
        loss = -acqf(X.unsqueeze(-2)).sum()
        if not torch.isfinite(loss):
            return 1e10, np.zeros_like(z)
        (grad,) = torch.autograd.grad(loss, zt)
        return float(loss.item()), grad.double().numpy().ravel()

    return loss_and_grad


def perturb_anchors(
    space: SearchSpace, anchors: np.ndarray, raw_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian perturbations of the anchors' continuous columns (`k x d` -> `m x d`, unprojected).

    About `raw_samples / 4` points in all, each anchor repeated alike, each point at one of three
    scales (0.01, 0.05, 0.2 of the cube), so the neighbourhoods of the best points are searched
    both closely and more widely. Empty when there are no anchors or no continuous columns.
    """
    cols = _relaxed_columns(space)
    if len(anchors) == 0 or len(cols) == 0:
        return np.zeros((0, space.dim))
    per = max(1, raw_samples // (4 * len(anchors)))
    local = np.repeat(anchors, per, axis=0)
    scale = rng.choice([0.01, 0.05, 0.2], size=(len(local), 1))
    local[:, cols] += scale * rng.standard_normal((len(local), len(cols)))
    return local


def _neighbours(space: SearchSpace, x: np.ndarray) -> np.ndarray:
    """Valid points one discrete move away from the valid point `x` (`d`): `m x d`."""
    config = space.decode(x[None, :])[0]
    spans = {name: space.column_span(name) for name in space.names}
    rows: list[np.ndarray] = []
    for name, value in config.items():
        p = space[name]
        start, stop = spans[name]
        if isinstance(p, (Categorical, Conditional)):
            choices = p.choices if isinstance(p, Categorical) else p.all_choices
            allowed = p.choices if isinstance(p, Categorical) else p.choices_for(config)
            for c in allowed:
                if c == value and type(c) is type(value):
                    continue
                row = x.copy()
                row[start:stop] = 0.0
                row[start + next(i for i, a in enumerate(choices) if a == c)] = 1.0
                rows.append(row)
        elif isinstance(p, Int) or p.step is not None:
            step = p.step or 1
            for v in (value - step, value + step):
                if p.low <= v <= p.high:
                    row = x.copy()
                    row[start] = p.to_unit(v)
                    rows.append(row)
    if not rows:
        return np.zeros((0, len(x)))
    return project(space, np.stack(rows))


def _local_search(
    acqf: Acquisition, space: SearchSpace, x: np.ndarray, value: float, rounds: int, box: Box
) -> tuple[np.ndarray, float, list[tuple[np.ndarray, float]]]:
    seen: list[tuple[np.ndarray, float]] = []
    for _ in range(rounds):
        # a move onto the box's choices brings the continuous values into the box
        nb = box.clip(_neighbours(space, x))
        if len(nb) == 0:
            break
        vals = _evaluate(acqf, nb)
        seen.extend(zip(nb, vals, strict=True))
        best = int(np.argmax(vals))
        if vals[best] <= value:
            break
        x, value = nb[best], float(vals[best])
    return x, value, seen


def optimize_acquisition(
    acqf: Acquisition,
    space: SearchSpace,
    *,
    anchors: np.ndarray,
    avoid: np.ndarray,
    seed: int,
    raw_samples: int = 1024,
    num_restarts: int = 5,
    maxiter: int = 100,
    box: Box | None = None,
) -> np.ndarray | None:
    """The valid encoded point of highest acquisition that is not in `avoid`.

    Args:
        acqf: Acquisition to maximize (takes `b x 1 x d` tensors).
        space: The search space.
        anchors: `k x d` best observed points; their neighbourhoods are searched too.
        avoid: `m x d` points that must not be returned (evaluated, pending, failed).
        seed: Seed of the Sobol design and the perturbations.
        raw_samples: Size of the space-filling design scored before local optimization.
        num_restarts: Number of starts of the local optimization.
        maxiter: Iteration cap of L-BFGS-B.
        box: Bounds the candidate must stay within if it makes the box's choices (None:
            the whole cube). Only the continuous columns of `Box.around` may be bounded:
            snapping a discrete column could leave the box.

    Returns:
        A `d` vector, or None when every candidate found was in `avoid`.
    """
    import gpytorch

    # For BoTorch's acquisitions (pending points, batches, UCB), LOVE caches the predictive
    # variance once, which makes each later call several times cheaper; for the few hundred
    # points we fit, its variances are as good as exact. DirectLogEI does not use GPyTorch.
    with gpytorch.settings.fast_pred_var():
        box = box or Box.cube(space.dim)
        return _optimize(acqf, space, anchors, avoid, seed, raw_samples, num_restarts, maxiter, box)


def _optimize(
    acqf: Acquisition,
    space: SearchSpace,
    anchors: np.ndarray,
    avoid: np.ndarray,
    seed: int,
    raw_samples: int,
    num_restarts: int,
    maxiter: int,
    box: Box,
) -> np.ndarray | None:
    from scipy.stats import qmc

    d = space.dim
    rng = np.random.default_rng(seed)
    raw = box.scale(qmc.Sobol(d=d, scramble=True, seed=rng).random(raw_samples))
    cols = _relaxed_columns(space)
    near = box.clip(perturb_anchors(space, anchors, raw_samples, rng))
    raw = project(space, np.concatenate([raw, near]))
    if len(anchors):
        # clipping the free continuous columns of a valid point keeps it valid
        raw = np.concatenate([raw, box.clip(anchors)])
    values = _evaluate(acqf, raw)
    pool: list[tuple[np.ndarray, float]] = list(zip(raw, values, strict=True))

    order = np.argsort(-values, kind="stable")
    starts = _distinct(raw[order], num_restarts)
    polished = project(space, _lbfgs(acqf, starts, cols, maxiter, box))
    pol_values = _evaluate(acqf, polished)
    pool.extend(zip(polished, pol_values, strict=True))
    if not _is_plain(space):
        moved = []
        for x, v in zip(polished, pol_values, strict=True):
            x2, v2, seen = _local_search(acqf, space, x, float(v), 4, box)
            pool.extend(seen)
            if v2 > v:
                moved.append(x2)
        if moved:
            again = project(space, _lbfgs(acqf, np.stack(moved), cols, maxiter, box))
            pool.extend(zip(again, _evaluate(acqf, again), strict=True))

    pool.sort(key=lambda item: -item[1])
    for x, _ in pool:
        if len(avoid) == 0 or np.min(np.max(np.abs(avoid - x), axis=1)) > 1e-9:
            return x
    return None


def _distinct(X: np.ndarray, k: int) -> np.ndarray:
    chosen: list[np.ndarray] = []
    for x in X:
        if all(np.max(np.abs(x - c)) > 1e-9 for c in chosen):
            chosen.append(x)
        if len(chosen) == k:
            break
    return np.stack(chosen) if chosen else X[:0]


def as_tensor(X: np.ndarray) -> torch.Tensor:
    """A float64 tensor view of an `n x d` array."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
