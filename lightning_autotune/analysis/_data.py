"""What the plots and the sensitivity analysis read from a study: trials, directions, space.

Every public function of this package accepts either a `Study` or a plain sequence of
`TrialRecord` (with the directions, and optionally the space, given separately), so a study read
back from an exported file or another store can be analysed the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from lightning_autotune.analysis._names import objective_names
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.study import Study

__all__ = ["StudyData", "as_data", "require"]

_EXTRAS = {"matplotlib": "plot", "rich": "cli"}


def require(module: str) -> ModuleType:
    """Import an optional dependency, or raise an ImportError that names the extra to install.

    Args:
        module: Dotted module name, e.g. 'matplotlib.figure'.

    Raises:
        ImportError: The module is not installed.
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = _EXTRAS.get(top, "plot")
        raise ImportError(
            f"this feature needs the optional dependency {top!r}, which is not installed; "
            f"run `pip install lightning-autotune[{extra}]` (or `pip install {top}`)"
        ) from err


@dataclass(frozen=True)
class StudyData:
    """A study's trials with what is needed to read them.

    Attributes:
        name: The study's name ('' when built from bare records).
        trials: Every trial, by number.
        directions: One direction per objective.
        space: The search space (inferred from the trials' values when not given).
        objective_names: What to call each objective on an axis (see `objective_names`).
    """

    name: str
    trials: tuple[TrialRecord, ...]
    directions: tuple[Direction, ...]
    space: SearchSpace
    objective_names: tuple[str, ...]

    def objective_label(self, objective: int) -> str:
        """'val_loss (minimize)': the objective's name and direction, for an axis."""
        return f"{self.objective_names[objective]} ({self.directions[objective].value})"

    def complete(self, objective: int = 0) -> list[TrialRecord]:
        """COMPLETE trials that have a value for `objective`, by number."""
        return [
            t
            for t in self.trials
            if t.state is TrialState.COMPLETE and t.values is not None and len(t.values) > objective
        ]

    def param_names(self, params: Sequence[str] | None = None) -> list[str]:
        """The names to analyse: `params` (checked) or every parameter of the space."""
        if params is None:
            return list(self.space.names)
        unknown = [p for p in params if p not in self.space]
        if unknown:
            raise ConfigError(
                f"params: {unknown} are not in the search space; choose from "
                f"{list(self.space.names)}"
            )
        return list(params)

    def check_objective(self, objective: int) -> Direction:
        """The direction of objective number `objective` (error if there is no such objective)."""
        if not 0 <= objective < len(self.directions):
            raise ConfigError(
                f"objective must be an index in [0, {len(self.directions) - 1}] for a study with "
                f"{len(self.directions)} objective(s), got {objective!r}"
            )
        return self.directions[objective]


def as_data(
    study: Study | StudyData | Sequence[TrialRecord],
    directions: Sequence[str | Direction] | None = None,
    space: SearchSpace | None = None,
) -> StudyData:
    """Normalize a `Study`, or trial records plus directions, into a `StudyData`.

    Args:
        study: A study, or its trial records.
        directions: Needed with records (default: one 'minimize' objective); ignored for a study.
        space: The search space for records (default: inferred from the parameter values).

    Raises:
        ConfigError: `study` is neither a study nor a sequence of trial records.
    """
    if isinstance(study, StudyData):
        return study
    # `Study.trials` reads the whole study from the store: read it once, not once to see
    # whether it exists and again to use it.
    study_like = hasattr(study, "directions") and hasattr(study, "space")
    loaded = getattr(study, "trials", None) if study_like else None
    if loaded is not None:
        s: Any = study
        trials, dirs = tuple(loaded), tuple(s.directions)
        attrs = getattr(s, "user_attrs", None)
        names = objective_names(len(dirs), trials, attrs if isinstance(attrs, Mapping) else None)
        return StudyData(str(s.name), trials, dirs, s.space, names)
    records = list(cast("Sequence[TrialRecord]", study))
    bad = [r for r in records if not isinstance(r, TrialRecord)]
    if bad:
        raise ConfigError(
            f"expected a Study or a sequence of TrialRecord, got an item of type "
            f"{type(bad[0]).__name__}; pass study.trials or the study itself"
        )
    dirs = tuple(Direction.parse(d, "directions") for d in (directions or ["minimize"]))
    records.sort(key=lambda r: r.number)
    names = objective_names(len(dirs), records)
    return StudyData("", tuple(records), dirs, space or infer_space(records), names)


def infer_space(records: Sequence[TrialRecord]) -> SearchSpace:
    """A search space covering the values seen in `records` (numbers: a range, else choices).

    Raises:
        ConfigError: No trial has parameters to infer a space from.
    """
    seen: dict[str, list[Any]] = {}
    for r in records:
        for k, v in r.params.items():
            seen.setdefault(k, []).append(v)
    if not seen:
        raise ConfigError(
            "cannot infer a search space: no trial has parameters; pass space=study.space"
        )
    params: dict[str, Float | Int | Categorical | Conditional] = {}
    for name, values in seen.items():
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            lo, hi = float(min(values)), float(max(values))
            if lo == hi:
                hi = lo + 1.0
            if all(isinstance(v, int) for v in values):
                params[name] = Int(int(lo), int(hi))
            else:
                params[name] = Float(lo, hi)
        else:
            unique: list[Any] = []
            for v in values:
                if v not in unique:
                    unique.append(v)
            params[name] = Categorical(tuple(unique) if len(unique) > 1 else (*unique, "<other>"))
    return SearchSpace(params)
