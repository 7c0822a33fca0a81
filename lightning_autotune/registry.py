"""Names of samplers and pruners, one table for every door that takes a name.

`HyperTuner.set_search_strategy(method=...)`, `fit(sampler='random', pruner='median')` and the
`sampler:` / `pruner:` keys of a sweep's YAML all read these tables, so a sampler or pruner added
here is reachable from each of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners import (
    AdaptiveThresholdPruner,
    AnyPruner,
    DivergencePruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
)
from lightning_autotune.samplers import (
    BoTorchSampler,
    CmaEsSampler,
    EvolutionarySampler,
    MultiFidelitySampler,
    MultiObjectiveBoTorchSampler,
    NSGA2Sampler,
    RandomSampler,
    Sampler,
    SobolSampler,
    TransferSampler,
)

__all__ = ["PRUNERS", "SAMPLERS", "make_pruner", "make_sampler"]

SAMPLERS: Mapping[str, type[Sampler]] = MappingProxyType(
    {
        "bayesian": BoTorchSampler,
        "cmaes": CmaEsSampler,
        "evolutionary": EvolutionarySampler,
        "multifidelity": MultiFidelitySampler,
        "multiobjective": MultiObjectiveBoTorchSampler,
        "nsga2": NSGA2Sampler,
        "random": RandomSampler,
        "sobol": SobolSampler,
        "transfer": TransferSampler,
    }
)
"""Sampler name -> class (read-only)."""

PRUNERS: Mapping[str, type[Pruner]] = MappingProxyType(
    {
        "none": NopPruner,
        "median": MedianPruner,
        "percentile": PercentilePruner,
        "successive_halving": SuccessiveHalvingPruner,
        "hyperband": HyperbandPruner,
        "divergence": DivergencePruner,
        "adaptive_threshold": AdaptiveThresholdPruner,
        "any": AnyPruner,
    }
)
"""Pruner name -> class (read-only). 'any' takes `pruners=[name or {'type': name, ...}, ...]`."""


def make_sampler(name: str, **options: Any) -> Sampler:
    """The sampler called `name` (a key of `SAMPLERS`), built with `options`.

    Raises:
        ConfigError: An unknown name (the message lists the known ones) or an option the
            sampler does not take.

    Example:
        >>> make_sampler("sobol", seed=3).seed
        3
    """
    return _build(SAMPLERS, "sampler", name, options)


def make_pruner(spec: str | Mapping[str, Any], **options: Any) -> Pruner:
    """The pruner named by `spec`: a key of `PRUNERS`, or a mapping `{'type': name, **options}`.

    Raises:
        ConfigError: An unknown name, a mapping without 'type', or an option the pruner does
            not take.

    Example:
        >>> make_pruner({"type": "median", "n_startup_trials": 2}).n_startup_trials
        2
    """
    if isinstance(spec, Mapping):
        rest = dict(spec)
        if "type" not in rest:
            raise ConfigError(
                f"pruner: a mapping needs a 'type' key naming one of {sorted(PRUNERS)}, got "
                f"{dict(spec)!r}"
            )
        name = rest.pop("type")
        options = {**rest, **options}
    else:
        name = spec
    if _key(name) == "any" and "pruners" in options:
        options["pruners"] = [
            p if isinstance(p, Pruner) else make_pruner(p) for p in options["pruners"]
        ]
    return _build(PRUNERS, "pruner", name, options)


def _key(name: Any) -> str:
    return name.strip().lower().replace("-", "_") if isinstance(name, str) else repr(name)


def _build(table: Mapping[str, type[Any]], what: str, name: Any, options: dict[str, Any]) -> Any:
    cls = table.get(_key(name))
    if cls is None:
        raise ConfigError(f"{what} must be one of {sorted(table)}, got {name!r}")
    params = inspect.signature(cls).parameters
    try:
        inspect.signature(cls).bind(**options)
    except TypeError:
        accepted = [p for p in params if p not in ("self", "kwargs")]
        unknown = sorted(k for k in options if k not in params)
        missing = [
            p.name
            for p in params.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name not in options
        ]
        if missing and not unknown:
            raise ConfigError(
                f"{what} {_key(name)!r} ({cls.__name__}) needs the option(s) {missing}; "
                f"give them with the name, e.g. {missing[0]}=..."
            ) from None
        raise ConfigError(
            f"{what} {_key(name)!r} ({cls.__name__}) does not take the option(s) "
            f"{unknown or sorted(options)}; it takes {accepted}"
        ) from None
    return cls(**options)
