"""NSGA-II's pieces: constrained non-dominated sorting, crowding, and mixed-space variation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lightning_autotune.space import Categorical, Float, Int, SearchSpace

__all__ = [
    "crossover",
    "dominance",
    "dominance_between",
    "mutate",
    "rank_and_crowding",
    "survivors",
    "tournament",
]


def dominance(F: np.ndarray) -> np.ndarray:
    """`n x n` booleans: entry (i, j) is True when point i dominates point j (`F` is `n x m`)."""
    return dominance_between(F, F)


def dominance_between(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """`a x b` booleans: entry (i, j) is True when `A[i]` dominates `B[j]` (lower is better)."""
    a, m = A.shape
    b = len(B)
    le = np.ones((a, b), dtype=bool)
    lt = np.zeros((a, b), dtype=bool)
    for j in range(m):  # one objective at a time: no a x b x m intermediate
        le &= A[:, j, None] <= B[None, :, j]
        lt |= A[:, j, None] < B[None, :, j]
    return le & lt


def rank_and_crowding(
    F: np.ndarray,
    violation: np.ndarray,
    enough: int | None = None,
    dom: np.ndarray | None = None,
    beaten: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Deb's constrained non-dominated rank and the crowding distance of each point.

    Args:
        F: `n x m` lower-is-better objective scores.
        violation: `n` total constraint violations (0: feasible).
        enough: Stop ranking once the fronts found hold this many points (the rest get the
            rank after the last front found and no crowding); None ranks everything.
        dom: `dominance` of the feasible points (in order), when already known.
        beaten: `dom.sum(axis=0)`, when already known (with `dom`).

    Returns:
        `n` ranks (0 is the first front) and `n` crowding distances (larger is lonelier).
        Every feasible point ranks before every infeasible one; infeasible points are ranked by
        their violation alone.
    """
    n = len(F)
    limit = n if enough is None else enough
    feasible = np.flatnonzero(violation <= 0)
    rank = np.full(n, -1, dtype=np.int64)  # -1: not ranked yet
    crowd = np.zeros(n)
    if F.shape[1] == 1:  # a front is the points of one value: `fronts_of_values`, at once
        last, ranked = _rank_groups(F, F[feasible, 0], feasible, 0, limit, rank, crowd, 0)
    else:
        if dom is None:
            dom, beaten = dominance(F[feasible]), None
        fronts = [feasible[f] for f in fronts_by_peeling(dom, limit, beaten)]
        ranked = 0
        for r, front in enumerate(fronts):
            rank[front] = r
            crowd[front] = np.inf if len(front) <= 2 else _crowding(F[front])
            ranked += len(front)
        last = len(fronts)
    # Infeasible points: one front per violation value, in order, while room is left. Most
    # values are unique (a front of one, crowding infinity), so they are ranked at once.
    infeasible = np.flatnonzero(violation > 0)
    if len(infeasible):
        last, _ = _rank_groups(
            F, violation[infeasible], infeasible, ranked, limit, rank, crowd, last
        )
    # Feasible points behind the fronts found, and infeasible ones left out of the ranking.
    rank[rank < 0] = last
    return rank, crowd


def _rank_groups(
    F: np.ndarray,
    values: np.ndarray,
    members: np.ndarray,
    ranked: int,
    limit: int,
    rank: np.ndarray,
    crowd: np.ndarray,
    base: int,
) -> tuple[int, int]:
    """Rank `members` in place, one front per distinct value of `values` in ascending order.

    Fronts are taken while fewer than `limit` points are ranked (`ranked` already are); the
    first gets rank `base`. A front of more than two points is crowded on `F`, the others get
    infinity; members of fronts not taken are left unranked.

    Returns:
        The rank after the last front taken, and the number of points ranked then.
    """
    need = limit - ranked
    if need <= 0:  # no room left: no front is taken
        return base, ranked
    if need < len(values):
        # Only the fronts up to the need-th smallest value are taken (a front that starts
        # before the limit is taken whole), so only those values are grouped.
        kth = np.partition(values, need - 1)[need - 1]
        if not np.isnan(kth):
            keep = values <= kth
            values, members = values[keep], members[keep]
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    before = ranked + np.cumsum(counts) - counts
    taken = before < limit
    for g in np.flatnonzero(taken & (counts > 2)):
        front = members[group == g]
        crowd[front] = _crowding(F[front])
    chosen = taken[group]
    rank[members[chosen]] = base + group[chosen]
    crowd[members[chosen & (counts[group] <= 2)]] = np.inf
    return base + int(taken.sum()), ranked + int(counts[taken].sum())


def fronts_by_peeling(
    dom: np.ndarray, limit: int, beaten: np.ndarray | None = None
) -> list[np.ndarray]:
    """Non-dominated fronts (indices, ascending) from the dominance matrix, until `limit` points.

    `beaten`, `dom.sum(axis=0)` when the caller keeps it, spares the pass over the whole
    matrix; the peeling then reads only the rows of the fronts it finds.
    """
    fronts = []
    beaten_by = dom.sum(axis=0) if beaten is None else beaten.copy()
    left = np.ones(len(dom), dtype=bool)
    ranked = 0
    while left.any() and ranked < limit:
        front = np.flatnonzero(left & (beaten_by == 0))
        fronts.append(front)
        ranked += len(front)
        if ranked >= limit:  # the last front needed: what it beats is not read
            break
        left[front] = False
        beaten_by -= dom[front].sum(axis=0)
    return fronts


def fronts_of_values(values: np.ndarray, limit: int) -> list[np.ndarray]:
    """`fronts_by_peeling` for one objective: a front is the points of one value, in order."""
    if len(values) == 0 or limit <= 0:
        return []
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    n_fronts = min(len(counts), int(np.searchsorted(np.cumsum(counts), limit)) + 1)
    order = np.argsort(group, kind="stable")  # by front, then by index within one
    bounds = np.cumsum(counts[:n_fronts])
    return np.split(order[: bounds[-1]], bounds[:-1])


def _crowding(F: np.ndarray) -> np.ndarray:
    """Crowding distance within one front (`k x m`): boundary points get infinity."""
    k, m = F.shape
    dist = np.zeros(k)
    if k <= 2:
        return np.full(k, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        span = F[order[-1], j] - F[order[0], j]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (F[order[2:], j] - F[order[:-2], j]) / span
    return dist


def survivors(rank: np.ndarray, crowd: np.ndarray, size: int) -> np.ndarray:
    """Indices of the best `size` points by (rank, then larger crowding), NSGA-II's truncation."""
    order = np.lexsort((-crowd, rank))
    return order[:size]


def tournament(
    pool: np.ndarray, rank: np.ndarray, crowd: np.ndarray, rng: np.random.Generator
) -> int:
    """Binary tournament: the better of two random members of `pool` by (rank, crowding)."""
    a, b = rng.choice(pool, size=2, replace=len(pool) < 2)
    if rank[a] != rank[b]:
        return int(a if rank[a] < rank[b] else b)
    return int(a if crowd[a] >= crowd[b] else b)


def _unit(space: SearchSpace, name: str, value: Any) -> float:
    return float(space[name].to_unit(value))  # type: ignore[union-attr]


def _sbx(u1: float, u2: float, eta: float, rng: np.random.Generator) -> tuple[float, float]:
    """Simulated binary crossover of two values in [0, 1] (bounded form, Deb and Agrawal)."""
    if abs(u1 - u2) < 1e-14:
        return u1, u2
    lo, hi = min(u1, u2), max(u1, u2)
    out = []
    for bound_gap in (lo, 1.0 - hi):
        beta = 1.0 + 2.0 * bound_gap / (hi - lo)
        alpha = 2.0 - beta ** -(eta + 1.0)
        r = rng.random()
        if r <= 1.0 / alpha:
            bq = (r * alpha) ** (1.0 / (eta + 1.0))
        else:
            bq = (1.0 / (2.0 - r * alpha)) ** (1.0 / (eta + 1.0))
        out.append(bq)
    c1 = 0.5 * ((lo + hi) - out[0] * (hi - lo))
    c2 = 0.5 * ((lo + hi) + out[1] * (hi - lo))
    c1, c2 = _clip01(c1), _clip01(c2)
    return (c1, c2) if rng.random() < 0.5 else (c2, c1)


def crossover(
    space: SearchSpace,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    eta: float,
    swap_prob: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """One child of parents `a` and `b`, parameter by parameter in dependency order.

    Numeric parameters (on their encoded scale, so log parameters cross in log) by simulated
    binary crossover; choices taken from either parent with probability `swap_prob`. A parameter
    active in the child but in one parent only is inherited from it; in neither, drawn uniformly.
    """
    child: dict[str, Any] = {}
    for name in space.order:
        p = space[name]
        if not p.is_active(child):
            continue
        va, vb = a.get(name), b.get(name)
        if va is None or vb is None:
            present = va if va is not None else vb
            child[name] = present if _allowed(p, present, child) else _uniform(p, child, rng)
        elif isinstance(p, (Float, Int)):
            u = _sbx(_unit(space, name, va), _unit(space, name, vb), eta, rng)[0]
            child[name] = p.from_unit(u)
        else:
            pick = vb if rng.random() < swap_prob else va
            child[name] = pick if _allowed(p, pick, child) else _uniform(p, child, rng)
    return child


def mutate(
    space: SearchSpace,
    config: Mapping[str, Any],
    *,
    prob: float,
    eta: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Polynomial mutation of numeric parameters, uniform redraw of choices, each with `prob`.

    Parameters that become active through a mutated parent are drawn uniformly.
    """
    out: dict[str, Any] = {}
    for name in space.order:
        p = space[name]
        if not p.is_active(out):
            continue
        value = config.get(name)
        if value is None or not _allowed(p, value, out):
            out[name] = _uniform(p, out, rng)
        elif rng.random() >= prob:
            out[name] = value
        elif isinstance(p, (Float, Int)):
            out[name] = p.from_unit(_polynomial(_unit(space, name, value), eta, rng))
        else:
            out[name] = _uniform(p, out, rng)
    return out


def _polynomial(u: float, eta: float, rng: np.random.Generator) -> float:
    """Deb's bounded polynomial mutation of a value in [0, 1]."""
    r = rng.random()
    power = 1.0 / (eta + 1.0)
    if r < 0.5:
        xy = 1.0 - u
        delta = (2.0 * r + (1.0 - 2.0 * r) * xy ** (eta + 1.0)) ** power - 1.0
    else:
        xy = u
        delta = 1.0 - (2.0 * (1.0 - r) + 2.0 * (r - 0.5) * xy ** (eta + 1.0)) ** power
    return _clip01(u + delta)


def _clip01(x: float) -> float:
    """`x` clipped to [0, 1] (NaN stays NaN, as with `np.clip`), without numpy's scalar overhead."""
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


def _allowed(p: Any, value: Any, partial: Mapping[str, Any]) -> bool:
    if value is None:
        return False
    if isinstance(p, (Float, Int, Categorical)):
        return bool(p.contains(value))
    return any(type(c) is type(value) and c == value for c in p.choices_for(partial))


def _uniform(p: Any, partial: Mapping[str, Any], rng: np.random.Generator) -> Any:
    if isinstance(p, (Float, Int)):
        return p.from_unit(rng.random())
    choices = p.choices if isinstance(p, Categorical) else p.choices_for(partial)
    return choices[int(rng.integers(len(choices)))]
