"""Earlier studies' observations, read from their store and mapped onto this study's space.

Parameters are matched by name. A parameter this study has and an earlier one lacks takes the
value at the centre of this study's range (the same value for every mapped observation, so it
never separates two of them); one the earlier study has and this one lacks is dropped; numeric
values are clipped into this study's range; an observation whose categorical value is not one of
this study's choices is left out. A name that is numeric in one study and categorical in the
other cannot be mapped: that is a `ConfigError`, raised before any trial runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Categorical, Conditional, Float, Int, Param, SearchSpace
from lightning_autotune.storage import Storage
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = [
    "SourceData",
    "WarmSource",
    "check_mappable",
    "load_source",
    "map_configs",
]


@dataclass(frozen=True)
class WarmSource:
    """An earlier study a warm start learns from: its name in a store.

    Attributes:
        storage: The store holding it.
        study: Its name there.
    """

    storage: Storage
    study: str

    def __repr__(self) -> str:
        where = getattr(self.storage, "url", None) or "memory"
        return f"WarmSource({self.study!r} in {where})"


@dataclass(frozen=True)
class SourceData:
    """One earlier study's finished observations, encoded in this study's space.

    Attributes:
        name: The earlier study's name.
        X: `n x d` encoded configurations (this study's encoding).
        y: `n` lower-is-better scores (each study's values turned by its own direction).
        configs: The `n` mapped configurations, in this study's space.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    configs: tuple[dict[str, Any], ...]


def _kind(p: Param) -> str:
    if isinstance(p, (Float, Int)):
        return "numeric"
    return "categorical"


def check_mappable(source: SearchSpace, target: SearchSpace, source_name: str) -> None:
    """Raise a `ConfigError` if a parameter of both spaces changed between numeric and categorical.

    Raises:
        ConfigError: Names the parameter, both kinds and the fix.
    """
    for name in target.names:
        if name in source and _kind(source[name]) != _kind(target[name]):
            raise ConfigError(
                f"warm_start: parameter {name!r} is {_kind(source[name])} in the earlier study "
                f"{source_name!r} but {_kind(target[name])} in this one, so its observations "
                "cannot be mapped by name; rename the parameter in one study, or drop "
                f"{source_name!r} from warm_start"
            )


def _centre(space: SearchSpace) -> dict[str, Any]:
    return space.decode(np.full((1, space.dim), 0.5))[0]


def _map_value(p: Param, value: Any) -> tuple[bool, Any]:
    """(fits, value in `p`'s range) for one source value."""
    if isinstance(p, (Float, Int)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, None
        if not math.isfinite(float(value)):
            return False, None
        return True, p.clip(float(value))
    if isinstance(p, Categorical):
        return p.contains(value), value
    if isinstance(p, Conditional):
        return p.contains(value), value
    return False, None


def map_configs(
    source: SearchSpace, target: SearchSpace, configs: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Map source configurations onto `target` by parameter name.

    Args:
        source: The earlier study's space (for the type check).
        target: This study's space.
        configs: The earlier study's configurations.

    Returns:
        The mapped configurations that fit `target`, and the indices of `configs` they came from.
    """
    centre = _centre(target)
    out: list[dict[str, Any]] = []
    kept: list[int] = []
    for i, config in enumerate(configs):
        merged = dict(centre)
        fits = True
        for name in target.names:
            if name in config and name in source:
                ok, value = _map_value(target[name], config[name])
                if not ok:
                    fits = False
                    break
                merged[name] = value
        if not fits:
            continue
        try:
            active = {k: merged[k] for k in target.active_names(merged) if k in merged}
            target.encode([active])
        except Exception:  # an inconsistent combination of choices: leave it out
            continue
        out.append(active)
        kept.append(i)
    return out, np.asarray(kept, dtype=np.int64)


def load_source(
    source: WarmSource, target: SearchSpace, directions: Sequence[Direction]
) -> SourceData:
    """Read one earlier study's COMPLETE trials and map them onto `target`.

    Raises:
        ConfigError: The earlier study has several objectives while this one has a different
            number, or a parameter changed kind (see `check_mappable`).
        StudyNotFoundError: No study of that name in its store.
    """
    info = source.storage.get_study(source.study)
    if len(info.directions) != len(directions):
        raise ConfigError(
            f"warm_start: the earlier study {source.study!r} has {len(info.directions)} "
            f"objective(s) but this study has {len(directions)}; warm start needs the same "
            "number of objectives"
        )
    space = SearchSpace.from_dict(info.space)
    check_mappable(space, target, source.study)
    records = source.storage.get_trials(info.study_id, states=[TrialState.COMPLETE])
    params, scores = _finite(records, tuple(info.directions))
    configs, kept = map_configs(space, target, params)
    y = np.asarray(scores, dtype=np.float64)[kept] if len(kept) else np.zeros(0)
    X = target.encode(configs) if configs else np.zeros((0, target.dim))
    return SourceData(name=source.study, X=X, y=y, configs=tuple(configs))


def _finite(
    records: Sequence[TrialRecord], directions: tuple[Direction, ...]
) -> tuple[list[dict[str, Any]], list[float]]:
    params: list[dict[str, Any]] = []
    scores: list[float] = []
    for t in records:
        s = t.scores(directions) if t.values is not None else None
        if s is not None and math.isfinite(s[0]):
            params.append(dict(t.params))
            scores.append(float(s[0]))
    return params, scores
