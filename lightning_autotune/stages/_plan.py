"""Run a staged plan: each stage is its own study `NAME.stageN` in the same store.

A stage's study records its index, its fidelity, the ranges it changed and why, and whether
it finished. Running the same plan again after a crash skips the finished stages (their
trials are read back to derive the next space) and resumes the unfinished one.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import LightningObjective
from lightning_autotune.pruners import Pruner
from lightning_autotune.registry import make_sampler
from lightning_autotune.samplers import MultiFidelitySampler, Sampler, WarmStartMode
from lightning_autotune.samplers._multifidelity_stages import (
    FidelityObservation,
    StagedMultiFidelitySampler,
)
from lightning_autotune.space import SearchSpace
from lightning_autotune.stages._narrow import RangeChange, narrow_space, stage_space
from lightning_autotune.stages._screen import rank_parameters, ranking_line, screening_configs
from lightning_autotune.stages._stage import Stage
from lightning_autotune.storage import Storage, get_storage
from lightning_autotune.study import Study, create_study, load_study
from lightning_autotune.trial import Direction, Trial, TrialRecord, TrialState

__all__ = ["run_stages", "stage_study_name"]


def stage_study_name(parent: str, index: int) -> str:
    """The study name of stage `index` (from 1) of the staged search `parent`."""
    return f"{parent}.stage{index}"


def parent_name(store: Storage, name: str | None) -> str:
    """The plan's name: `name`, or the first 'study-N' no study of `store` uses."""
    if name is not None:
        return name
    taken = {s.name.split(".stage")[0] for s in store.list_studies()}
    return next(f"study-{i}" for i in range(len(taken) + 1) if f"study-{i}" not in taken)


def _score(t: TrialRecord, directions: tuple[Direction, ...]) -> float:
    scores = t.scores(directions)
    return math.nan if scores is None else scores[0]


def _best(study: Study, k_of: Callable[[int], int]) -> list[TrialRecord]:
    done = [
        t
        for t in study.get_trials([TrialState.COMPLETE])
        if math.isfinite(_score(t, study.directions))
    ]
    done.sort(key=lambda t: _score(t, study.directions))
    return done[: k_of(len(done))] if done else []


def run_stages(
    stages: Sequence[Stage],
    objective: LightningObjective | Callable[[Stage], Callable[[Trial], float]],
    space: SearchSpace,
    *,
    storage: Storage | str | None,
    study_name: str | None,
    direction: Direction,
    sampler: Sampler | None,
    pruner: Pruner | None,
    seed: int | None,
    deadline: float | None = None,
    announce: Callable[[str], None] = print,
    objective_name: str | None = None,
    final_epochs: int | None = None,
    warm_start: Any = None,
    warm_start_mode: str | WarmStartMode | None = None,
    **optimize: Any,
) -> Study:
    """Run `stages` in order and return the final stage's study.

    Args:
        stages: The plan (checked by `check_stages`).
        objective: The full-fidelity `LightningObjective`, of which each stage runs a copy
            with its own data fraction and epochs; or `objective(stage)`, which returns the
            stage's objective (a function of the trial) for objectives of your own.
        space: The user's search space.
        storage: The store every stage's study lives in.
        study_name: The parent name (None: the next free 'study-N').
        direction: The study direction.
        sampler: Each stage's sampler (None: `create_study`'s default).
        pruner: Each stage's pruner; it compares a trial with its own stage's trials only.
        seed: The studies' seed.
        deadline: `time.time()` at which the whole plan must end (None: none).
        announce: Where the progress lines go.
        objective_name: What the objective measures, recorded with each stage's study; a
            stored stage that measured something else is refused.
        final_epochs: The epochs of a stage without `max_epochs` (None: the final stage's
            `max_epochs`, or the `LightningObjective`'s): the share of them a stage trains is
            one of the fidelity inputs of a 'multifidelity' stage's model.
        warm_start: Earlier studies that inform the first stage's sampler (see
            `create_study`); the later stages learn from the stages before them instead.
        warm_start_mode: 'transfer' (the default) or 'zero_shot'. Both weight an earlier
            study by how well it ranks the stage's own trials, which holds across a change
            of fidelity; 'same_task' (one GP over both, as if the values were comparable) is
            refused, since a cheap stage's values are not those of full-fidelity studies.
        **optimize: Passed to `Study.optimize` (n_workers, executor, progress, ...).

    Raises:
        ConfigError: A stage that completed no trial while the next one narrows from it, a
            stored stage that was run with another fidelity or objective, or a 'same_task'
            warm start.
    """
    mode = None if warm_start is None else WarmStartMode.parse(warm_start_mode or "transfer")
    if mode is WarmStartMode.SAME_TASK:
        raise ConfigError(
            "stages: warm_start_mode='same_task' would put the earlier studies' values in one "
            "model with the first stage's, which runs at another fidelity; use 'transfer' or "
            "'zero_shot' (they weight an earlier study by how well it ranks the stage's trials)"
        )
    elif warm_start is None and warm_start_mode is not None:
        raise ConfigError(f"warm_start_mode={warm_start_mode!r} needs warm_start")
    store = get_storage(storage)
    parent = parent_name(store, study_name)
    user_names = {n for s in stages for n in s.params}
    current = space
    previous: Study | None = None
    study: Study | None = None
    changes: list[RangeChange] = []
    fidelities = plan_fidelities(stages, _final_epochs(stages, objective, final_epochs))
    for index, stage in enumerate(stages, start=1):
        name = stage_study_name(parent, index)
        if previous is not None:
            current, changes = _next_space(stages[index - 2], previous, current, user_names)
        stage_sp, fixed_changes = stage_space(current, stage.params, "fidelity of this stage")
        warm = index == 1 and warm_start is not None
        study = create_study(
            name,
            stage_sp,
            store,
            direction,
            sampler=stage_sampler(stage, sampler, store, parent, index, fidelities, direction),
            pruner=pruner,
            seed=seed,
            warm_start=warm_start if warm else None,
            warm_start_mode=mode if warm else None,
        )
        _check_stored(study, stage, index, objective_name)
        run_objective = stage_objective(objective, stage)
        attrs = study.user_attrs
        if attrs.get("stage_done"):
            announce(f"lightning_autotune: stage {index}/{len(stages)} {name!r} already done")
            previous = study
            continue
        _record(study, parent, index, stage, [*changes, *fixed_changes])
        if objective_name is not None:
            study.storage.set_study_attr(study.study_id, "objective_names", [objective_name])
        announce(_stage_line(index, len(stages), name, stage, [*changes, *fixed_changes]))
        seconds = stage.seconds()
        if deadline is not None:
            left = max(0.0, deadline - time.time())
            seconds = left if seconds is None else min(seconds, left)
        if stage.screen:
            moves = screening_configs(stage_sp, stage.points)
            if not study.trials:
                for _, config in moves:
                    study.enqueue(config)
            study.optimize(run_objective, max_trials=len(moves), timeout=seconds, **optimize)
            effects = rank_parameters(stage_sp, moves, study.trials, direction, stage.threshold)
            study.storage.set_study_attr(
                study.study_id, "stage_screening", [e.to_json() for e in effects]
            )
            announce(ranking_line(effects, stage.threshold))
        else:
            if not study.trials and previous is not None and stage.promote:
                for t in _best(previous, functools.partial(min, stage.promote)):
                    config = {**t.params, **stage.params}
                    if _fits(stage_sp, config):
                        study.enqueue(config)
            study.optimize(run_objective, max_trials=stage.trials, timeout=seconds, **optimize)
        study.storage.set_study_attr(study.study_id, "stage_done", True)
        previous = study
    assert study is not None  # check_stages refuses an empty plan
    return study


def _final_epochs(stages: Sequence[Stage], objective: Any, given: int | None) -> int:
    if given is not None:
        return given
    if stages[-1].max_epochs is not None:
        return stages[-1].max_epochs
    if isinstance(objective, LightningObjective) and "max_epochs" in objective.trainer_kwargs:
        return int(objective.trainer_kwargs["max_epochs"])
    return max((s.max_epochs for s in stages if s.max_epochs is not None), default=1)


def plan_fidelities(stages: Sequence[Stage], final_epochs: int) -> list[tuple[float, ...]]:
    """Each stage's fidelity as a multi-fidelity model's inputs, 1 the target.

    The inputs are the share of the training data and the share of `final_epochs`; one that
    is 1 in every stage is left out (a plan at full fidelity throughout keeps the data share).
    """
    both = [
        (s.data_fraction, min(1.0, (s.max_epochs or final_epochs) / final_epochs)) for s in stages
    ]
    keep = [j for j in (0, 1) if any(f[j] < 1.0 for f in both)] or [0]
    return [tuple(f[j] for j in keep) for f in both]


def stage_sampler(
    stage: Stage,
    sampler: Sampler | None,
    store: Storage,
    parent: str,
    index: int,
    fidelities: Sequence[tuple[float, ...]],
    direction: Direction,
) -> Sampler | None:
    """The sampler of stage `index`: the stage's own, else the plan's; a multi-fidelity one
    models the finished trials of the stages before it (read from their studies)."""
    chosen = stage.sampler if stage.sampler is not None else sampler
    mf = isinstance(chosen, MultiFidelitySampler) or (
        isinstance(chosen, str) and chosen.lower().replace("-", "_") == "multifidelity"
    )
    if not mf:
        return make_sampler(chosen) if isinstance(chosen, str) else chosen
    earlier = []
    names = {s.name for s in store.list_studies()}
    for i in range(1, index):
        name = stage_study_name(parent, i)
        if name not in names:
            continue
        for t in load_study(name, store).get_trials([TrialState.COMPLETE]):
            score = _score(t, (direction,))
            if math.isfinite(score):
                earlier.append(FidelityObservation(dict(t.params), score, fidelities[i - 1]))
    if isinstance(chosen, MultiFidelitySampler):
        return StagedMultiFidelitySampler(
            earlier,
            fidelities[index - 1],
            seed=chosen.seed,
            raw_samples=chosen.raw_samples,
            num_restarts=chosen.num_restarts,
        )
    return StagedMultiFidelitySampler(earlier, fidelities[index - 1])


def stage_objective(
    objective: LightningObjective | Callable[[Stage], Callable[[Trial], float]], stage: Stage
) -> Callable[[Trial], float]:
    """The objective a stage runs: `objective` at the stage's data fraction and epochs."""
    if not isinstance(objective, LightningObjective):
        return objective(stage)
    if stage.max_epochs is None:
        return replace(objective, data_fraction=stage.data_fraction)
    return replace(
        objective,
        data_fraction=stage.data_fraction,
        trainer_kwargs={**objective.trainer_kwargs, "max_epochs": stage.max_epochs},
    )


def _next_space(
    stage: Stage, done: Study, current: SearchSpace, keep: set[str]
) -> tuple[SearchSpace, list[RangeChange]]:
    """The space after the finished `stage` (whose study is `done`)."""
    if stage.screen:
        ranking = done.user_attrs.get("stage_screening", [])
        fixed = {
            e["name"]: e["best_value"] for e in ranking if e["fixed"] and e["name"] not in keep
        }
        return stage_space(current, fixed, "screening: a small share of the total effect")
    if stage.narrow is None:
        return current, []
    rule = stage.narrow
    best = _best(done, rule.how_many)
    if not best:
        raise ConfigError(
            f"stage {done.name!r} completed no trial, so the next stage's narrowed space would "
            "be empty; give the stage more trials or time_budget, or set narrow=None"
        )
    return narrow_space(current, [t.params for t in best], rule, keep=sorted(keep))


def _fits(space: SearchSpace, config: dict[str, Any]) -> bool:
    try:
        space.validate({k: v for k, v in config.items() if k in space})
    except Exception:
        return False
    return True


def _check_stored(study: Study, stage: Stage, index: int, objective_name: str | None) -> None:
    measured = study.user_attrs.get("objective_names")
    if objective_name is not None and measured not in (None, [objective_name]):
        raise ConfigError(
            f"stage {index}: study {study.name!r} measured {measured}, but this call measures "
            f"[{objective_name!r}]; stages of one plan share one objective: give the same "
            "monitor/score, or a new study_name"
        )
    stored = study.user_attrs.get("stage_fidelity")
    if stored is not None and stored != stage.fidelity():
        raise ConfigError(
            f"stage {index}: study {study.name!r} was run with fidelity {stored}, but this plan "
            f"gives {stage.fidelity()}; give the plan that study was run with, or a new "
            "study_name"
        )


def _record(
    study: Study, parent: str, index: int, stage: Stage, changes: list[RangeChange]
) -> None:
    put = study.storage.set_study_attr
    put(study.study_id, "stage_of", parent)
    put(study.study_id, "stage_index", index)
    put(study.study_id, "stage_fidelity", stage.fidelity())
    put(study.study_id, "stage_changes", [c.to_json() for c in changes])


def _stage_line(index: int, total: int, name: str, stage: Stage, changes: list[RangeChange]) -> str:
    what = "screening" if stage.screen else f"{stage.trials or 'timed'} trials"
    line = f"lightning_autotune: stage {index}/{total} {name!r}: {what}"
    if stage.data_fraction < 1.0:
        line += f" on {100 * stage.data_fraction:g}% of the training data"
    if stage.max_epochs is not None:
        line += f", {stage.max_epochs} epochs"
    if changes:
        line += "; " + ", ".join(f"{c.name} -> {_short(c.after)}" for c in changes)
    return line


def _short(p: dict[str, Any]) -> str:
    if "values" in p:
        return str(p["values"])
    return f"[{p.get('min'):.4g}, {p.get('max'):.4g}]"
