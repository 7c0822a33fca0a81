"""Interop with Optuna: import an Optuna study's COMPLETE trials, export a study to Optuna.

An imported Optuna study becomes a study of its own in our store (its trials COMPLETE, the study
attribute `IMPORTED_ATTR` saying where they came from), which a warm start then reads like any
earlier study: the imported trials are never the warm-started study's trials. Every trial is
checked before anything is written, and a failure while writing removes the partial copy, so an
import is all or nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError, StudyNotFoundError
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage
from lightning_autotune.storage._schema import mask_url
from lightning_autotune.trial import Direction, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study import Study

__all__ = ["IMPORTED_ATTR", "OptunaSource", "export_to_optuna", "import_optuna"]

IMPORTED_ATTR = "imported_from"
"""Study attribute of an imported study: `{'kind': 'optuna', 'url': ..., 'study': ...}`."""


@dataclass(frozen=True)
class OptunaSource:
    """An Optuna study to warm-start from: its storage URL and its name.

    Attributes:
        url: Optuna's storage URL, e.g. 'sqlite:///optuna.db'.
        study: The Optuna study's name.
    """

    url: str
    study: str


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "warm-starting from (or exporting to) Optuna needs the optuna package: "
            "pip install optuna"
        ) from None
    return optuna


def _param_spec(name: str, dist: Any, number: int) -> dict[str, Any]:
    optuna = _optuna()
    d = optuna.distributions
    if isinstance(dist, d.FloatDistribution):
        spec: dict[str, Any] = {"type": "continuous", "min": dist.low, "max": dist.high}
    elif isinstance(dist, d.IntDistribution):
        spec = {"type": "integer", "min": dist.low, "max": dist.high}
    elif isinstance(dist, d.CategoricalDistribution):
        return {"type": "categorical", "values": list(dist.choices)}
    else:
        raise ConfigError(
            f"Optuna trial {number}: parameter {name!r} has distribution "
            f"{type(dist).__name__}, which cannot be imported; only Float, Int and Categorical "
            "distributions can"
        )
    if dist.log:
        spec["scale"] = "log"
    if dist.step is not None and not (isinstance(dist, d.IntDistribution) and dist.step == 1):
        spec["step"] = dist.step
    if dist.low == dist.high:
        return {"type": "categorical", "values": [dist.low]}
    return spec


def _check_trial(trial: Any, n_objectives: int) -> tuple[float, ...]:
    values = trial.values
    if values is None or len(values) != n_objectives:
        raise ConfigError(
            f"Optuna trial {trial.number} is COMPLETE but has values {values!r}, not "
            f"{n_objectives} number(s); repair or delete it in the Optuna study, then import "
            "again (nothing was imported)"
        )
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(
                f"Optuna trial {trial.number} has the value {v!r}, not a finite number; repair "
                "or delete it in the Optuna study, then import again (nothing was imported)"
            )
        out.append(float(v))
    return tuple(out)


def import_optuna(source: OptunaSource | Any, storage: Storage, name: str | None = None) -> str:
    """Copy an Optuna study's COMPLETE trials into a new study of `storage` (once).

    Args:
        source: An `OptunaSource` or an `optuna.Study`.
        storage: Our store.
        name: The new study's name (default 'optuna:<study name>'). If a study of that name
            was already imported from the same Optuna study, it is reused as it is.

    Returns:
        The name of the study holding the imported trials.

    Raises:
        ConfigError: Optuna is not installed, or a trial cannot be imported (named; nothing is
            written).
    """
    optuna = _optuna()
    if isinstance(source, OptunaSource):
        ostudy = optuna.load_study(study_name=source.study, storage=source.url)
        where = mask_url(source.url)
    else:
        ostudy = source
        where = "memory"
    name = name or f"optuna:{ostudy.study_name}"
    origin = {"kind": "optuna", "url": where, "study": ostudy.study_name}
    try:
        info = storage.get_study(name)
    except StudyNotFoundError:
        info = None
    if info is not None:
        if info.user_attrs.get(IMPORTED_ATTR) != origin:
            raise ConfigError(
                f"a study named {name!r} already exists in the store and was not imported "
                f"from {origin}; pass another name"
            )
        return name
    directions = [
        Direction.MAXIMIZE if d == optuna.study.StudyDirection.MAXIMIZE else Direction.MINIMIZE
        for d in ostudy.directions
    ]
    complete = ostudy.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    space: dict[str, Any] = {}
    rows: list[tuple[Mapping[str, Any], tuple[float, ...]]] = []
    for t in complete:
        values = _check_trial(t, len(directions))
        for pname, dist in t.distributions.items():
            spec = _param_spec(pname, dist, t.number)
            if pname in space and space[pname] != spec:
                raise ConfigError(
                    f"Optuna trial {t.number}: parameter {pname!r} has the distribution "
                    f"{spec}, but earlier trials have {space[pname]}; import studies whose "
                    "trials share one distribution per parameter (nothing was imported)"
                )
            space[pname] = spec
        rows.append((dict(t.params), values))
    if not space:
        raise ConfigError(
            f"the Optuna study {ostudy.study_name!r} has no COMPLETE trial with parameters; "
            "there is nothing to import"
        )
    SearchSpace.from_dict(space)  # malformed bounds fail here, before anything is written
    info = storage.create_study(name, space, directions, {IMPORTED_ATTR: origin})
    try:
        for params, values in rows:
            trial = storage.create_trial(info.study_id, params)
            storage.finish_trial(trial.trial_id, TrialState.COMPLETE, values)
    except BaseException:
        storage.delete_study(name)
        raise
    return name


def export_to_optuna(study: Study, url: str, study_name: str | None = None) -> Any:
    """Write a study's finished trials into an Optuna storage, for optuna-dashboard and Optuna.

    COMPLETE trials keep their values; PRUNED and FAILED trials keep their state. Parameters
    become Optuna distributions of the same range, scale and step.

    Args:
        study: Our study.
        url: Optuna's storage URL (e.g. 'sqlite:///optuna.db').
        study_name: The Optuna study's name (default: ours). It must not exist there yet.

    Returns:
        The `optuna.Study`.

    Raises:
        ConfigError: Optuna is not installed, or the space has conditional parameters.
    """
    optuna = _optuna()
    space = study.space
    dists = {n: _distribution(optuna, n, space[n]) for n in space.names}
    ostudy = optuna.create_study(
        storage=url,
        study_name=study_name or study.name,
        directions=[d.value for d in study.directions],
    )
    states = {
        TrialState.COMPLETE: optuna.trial.TrialState.COMPLETE,
        TrialState.PRUNED: optuna.trial.TrialState.PRUNED,
        TrialState.FAILED: optuna.trial.TrialState.FAIL,
    }
    frozen = []
    for t in study.trials:
        if t.state not in states:
            continue
        complete = t.state is TrialState.COMPLETE
        frozen.append(
            optuna.trial.create_trial(
                params=dict(t.params),
                distributions={k: dists[k] for k in t.params},
                values=list(t.values) if complete and t.values else None,
                state=states[t.state],
                intermediate_values=dict(t.intermediate),
                user_attrs={"lightning_autotune_number": t.number},
            )
        )
    ostudy.add_trials(frozen)
    return ostudy


def _distribution(optuna: Any, name: str, p: Any) -> Any:
    from lightning_autotune.space import Categorical, Float, Int

    d = optuna.distributions
    if isinstance(p, Float):
        return d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    if isinstance(p, Int):
        return d.IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    if isinstance(p, Categorical):
        return d.CategoricalDistribution(list(p.choices))
    raise ConfigError(
        f"export_to_optuna: parameter {name!r} is {type(p).__name__}, which Optuna cannot "
        "represent; export a study without conditional parameters"
    )
