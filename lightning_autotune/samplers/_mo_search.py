"""Acquisition search of `MultiObjectiveBoTorchSampler`: shared mixed search or feasible polish."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np

from lightning_autotune.samplers._base import SamplerWarning
from lightning_autotune.space import SearchSpace

__all__ = ["encode_valid", "feasible_search", "key", "local_candidates", "mixed_search"]

MAXITER = 75
"""Iteration cap of the L-BFGS-B polish."""


def local_candidates(
    space: SearchSpace, anchors: np.ndarray, raw_samples: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Feasible perturbations of the anchors, as `BoTorchSampler`'s search makes them."""
    from lightning_autotune.samplers._optimize_acqf import perturb_anchors

    local = perturb_anchors(space, anchors, raw_samples, rng)
    if len(local) == 0:
        return []
    configs = [space.apply_rules(c) for c in space.decode(np.clip(local, 0.0, 1.0))]
    return [c for c in configs if space.is_feasible(c)]


def mixed_search(
    space: SearchSpace,
    acq: Any,
    rng: np.random.Generator,
    avoid: np.ndarray,
    anchors: np.ndarray,
    *,
    raw_samples: int,
    num_restarts: int,
) -> dict[str, Any]:
    """`BoTorchSampler`'s search, for a space without parameter constraints.

    Integer, grid and categorical columns keep valid values throughout: the polish moves the
    continuous columns with each start's discrete ones fixed, then walks discrete neighbours
    (`_optimize_acqf.optimize_acquisition`).

    Raises:
        RuntimeError: Every candidate found is in `avoid` (the sampler falls back).
    """
    from lightning_autotune.samplers._optimize_acqf import optimize_acquisition

    x = optimize_acquisition(
        acq,
        space,
        anchors=anchors,
        avoid=avoid,
        seed=int(rng.integers(2**31)),
        raw_samples=raw_samples,
        num_restarts=num_restarts,
        maxiter=MAXITER,
    )
    if x is None:
        raise RuntimeError("every candidate was already evaluated or pending")
    return space.apply_rules(space.decode(x[None, :])[0])


def feasible_search(
    space: SearchSpace,
    acq: Any,
    rng: np.random.Generator,
    taken: set[str],
    anchors: np.ndarray,
    *,
    raw_samples: int,
    num_restarts: int,
) -> dict[str, Any]:
    """The best feasible configuration found in a space with parameter constraints."""
    import torch
    from botorch.exceptions.warnings import OptimizationWarning
    from botorch.generation.gen import gen_candidates_scipy

    from lightning_autotune.samplers._mo_acquisition import cube_inequalities

    # Random feasible points find new regions; perturbations of the best points refine
    # the ones already found (without them, the optimum is approached only by chance).
    raw = space.sample(raw_samples, seed=rng) + local_candidates(space, anchors, raw_samples, rng)
    Xr = torch.tensor(space.encode(raw), dtype=torch.float64)
    with torch.no_grad():
        values = torch.cat([acq(chunk.unsqueeze(1)) for chunk in Xr.split(256)])
    top = values.argsort(descending=True)[:num_restarts]
    polished: list[dict[str, Any]] = []
    try:
        # L-BFGS-B stopping on a line search it cannot continue is expected close to an
        # optimum; the polished points are still used and checked below. BoTorch raises
        # that warning under its own `simplefilter("always")`, so an "ignore" filter here
        # would not hold: the warnings are recorded instead, and the others passed on.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Xp, _ = gen_candidates_scipy(
                Xr[top].unsqueeze(1),
                acq,
                lower_bounds=0.0,
                upper_bounds=1.0,
                inequality_constraints=cube_inequalities(space) or None,
                options={"maxiter": MAXITER},
            )
        for w in caught:
            if not issubclass(w.category, OptimizationWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        polished = space.decode(Xp[:, 0].detach().numpy())
    except Exception as err:  # a failed polish leaves the raw candidates
        warnings.warn(
            f"acquisition polish failed ({type(err).__name__}: {err}); using raw candidates",
            SamplerWarning,
            stacklevel=3,
        )
    # The polish moves integer and one-hot columns through values no configuration has;
    # its score there says little about the configuration the point decodes to. So every
    # candidate is decoded (rules applied) first, and ranked by the acquisition at its
    # own encoding, with the raw candidates it started from.
    configs = [space.apply_rules(c) for c in polished] + [raw[int(i)] for i in top]
    configs = [c for c in configs if space.is_feasible(c) and key(c) not in taken]
    if configs:
        with torch.no_grad():
            X = torch.tensor(space.encode(configs), dtype=torch.float64)
            scores = acq(X.unsqueeze(1)).nan_to_num(nan=-math.inf)
        return configs[int(torch.argmax(scores))]
    for config in raw:
        if key(config) not in taken:
            return config
    return raw[0]


def encode_valid(space: SearchSpace, configs: list[dict[str, Any]]) -> np.ndarray:
    """`k x d` encodings of the configurations that still fit the space (others skipped)."""
    rows = []
    for config in configs:
        try:
            rows.append(space.encode([config])[0])
        except Exception:  # a trial from an older version of the space: nothing to avoid
            continue
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), space.dim)


def key(config: Any) -> str:
    """A hashable text of a configuration, to tell configurations already taken."""
    return json.dumps(dict(config), sort_keys=True, default=str)
