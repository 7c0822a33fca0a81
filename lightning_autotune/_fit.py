"""`fit`: tune a Lightning model end to end in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune._time import parse_duration
from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.knowledge import (
    DescribingBuild,
    KnowledgeBase,
    WarmStartMode,
    describe_build,
)
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.objective import DEFAULT_TRAINER_KWARGS, Build, LightningObjective
from lightning_autotune.pruners import Pruner
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage
from lightning_autotune.study import Study, create_study

if TYPE_CHECKING:
    from lightning_autotune.population import PopulationBasedTraining
    from lightning_autotune.stages import Fidelity, Stage
    from lightning_autotune.study import Executor
    from lightning_autotune.transfer import Pretrained

__all__ = ["DEFAULT_STORAGE", "DEFAULT_TRAINER_KWARGS", "announce", "fit", "record_objective_name"]

DEFAULT_STORAGE = "sqlite:///autotune.db"


def fit(
    build: Build,
    space: SearchSpace | Mapping[str, Any],
    *,
    monitor: str | CompositeMetric = "val_loss",
    mode: str = "min",
    max_trials: int | None = 20,
    time_budget: float | str | None = None,
    trainer_kwargs: Mapping[str, Any] | None = None,
    storage: Storage | str | None = DEFAULT_STORAGE,
    study_name: str | None = None,
    sampler: Sampler | str | None = None,
    pruner: Pruner | str | Mapping[str, Any] | None = None,
    seed: int | None = None,
    callbacks: Callable[[dict[str, Any]], Sequence[Any]] | None = None,
    log_dir: str | None = None,
    score: Callable[[Any, dict[str, float]], float] | None = None,
    n_workers: int = 1,
    executor: Executor | None = None,
    trial_timeout: float | str | None = None,
    max_retries: int = 1,
    failure_threshold: float | tuple[float, int] | None = None,
    checkpoint_dir: str | Path | None = None,
    schedule_params: bool = True,
    quiet: bool = True,
    progress: bool | Any = True,
    transfer: Pretrained | None = None,
    stages: Sequence[Stage] | None = None,
    fidelity: Fidelity | None = None,
    population: PopulationBasedTraining | None = None,
    warm_start: Any = None,
    warm_start_mode: str | WarmStartMode | None = None,
    task_tags: Mapping[str, Any] | None = None,
) -> Study:
    """Tune a Lightning model: each trial builds a model from its params and trains it.

    Every trial runs through one `LightningObjective` (see it for the details of a trial).

    Args:
        build: `build(params)` returns the model and its data: a `LightningModule` that defines
            its own dataloaders, `(module, datamodule)`, or `(module, train_loader, val_loader)`.
        space: The search space (`SearchSpace` or the article's dict format).
        monitor: Logged validation metric to optimize (the value at the last validation counts),
            or a `CompositeMetric` (lower is better: use mode='min').
        mode: 'min' or 'max'.
        max_trials: Total trials the study may hold, retries not counted (None: until
            `time_budget`). Running the same call again after a crash only runs what is missing.
        time_budget: Seconds or 'HH:MM:SS' for the whole call. A trial still training at the
            deadline is stopped and recorded PRUNED with reason 'time budget' (its intermediate
            values kept); its half-trained value never becomes a result.
        trainer_kwargs: Overrides of `DEFAULT_TRAINER_KWARGS` for every trial's `Trainer`.
        storage: Store URL or object; the default is a SQLite file `autotune.db` here.
        study_name: Study to create or continue (default: a new 'study-N').
        sampler: A sampler, or a name of `registry.SAMPLERS` ('bayesian', 'random', ...).
            Default: the one `create_study` picks, `BoTorchSampler(seed=seed)`
            (`MultiObjectiveBoTorchSampler` for a space with constraints or rules).
        pruner: A pruner, a name of `registry.PRUNERS` or `{'type': name, **options}`.
            Default None (no pruning).
        seed: Seeds the sampler and each trial's `seed_everything`.
        callbacks: `callbacks(params)` returns extra Lightning callbacks for a trial.
        log_dir: If set, each trial logs to `log_dir/lightning_logs/<study>_trial_<NNNN>`
            (TensorBoard when installed, else CSV) with its hyperparameters and its final value
            as `hp_metric`. A logger given in `trainer_kwargs` is cloned the same way.
        score: Composite objective: `score(module, metrics)` gives a trial's final value from
            the trained module and its last logged metrics (plus `training_time_s`); `monitor`
            is then only what is reported during the run.
        n_workers: Trials at once; more than 1 runs each trial in its own process, which needs
            a URL store (the default SQLite file is one). `build` may be defined in `__main__`.
        executor: Where trials run (overrides `n_workers`), e.g. `ProcessExecutor(4, 'GPU')`.
        trial_timeout: Seconds or 'HH:MM:SS' per trial, applied as Lightning's `max_time`.
        max_retries: Retries of a trial whose process died or lost its heartbeat (interrupted
            trials rerun on resume without spending one).
        failure_threshold: Stop with `StudyFailedError` once more than this share of finished
            trials failed, e.g. (0.5, 5): half, after five.
        checkpoint_dir: If set, each trial saves `checkpoint_dir/<study>/trial_<n>/last.ckpt`
            every epoch, and a retried trial resumes from its predecessor's checkpoint.
        schedule_params: Whether reserved names in the space (`switch_at`, `dropout_start`,
            ...; `callbacks.SCHEDULE_PARAMS`) add their schedule callbacks to every trial. The
            names in use are printed in the first progress line.
        quiet: Silence Lightning's per-trial banners; False shows them.
        progress: Show progress (default True: a live panel on a terminal, one line per trial
            otherwise); False for none, or an `progress.ProgressReporter`.
        transfer: Pretrained weights and per-layer rules every trial starts from,
            `transfer.Pretrained.of(weights, rules)`; the space may tune the rules through
            `transfer_lr_multiplier_<i>` / `transfer_unfreeze_at_<i>` (docs/transfer.md).
        stages: A staged plan (`stages.Stage`s, docs/stages.md): each stage runs as its own
            study `<study_name>.stageN` with its budget and fidelity, and narrows the space
            of the next; `max_trials` and `time_budget` then bound the whole plan
            (`max_trials` is ignored: each stage names its own trials).
        fidelity: Automatic multi-fidelity BO (`stages.Fidelity`): the fidelity becomes a
            searched parameter that a `MultiFidelitySampler` proposes with each
            configuration, cheap where cheap trials are informative.
        population: Run Population Based Training instead of a search: a
            `population.PopulationBasedTraining` or `population.PB2`. Its `population_size`
            members (first params drawn at random unless `sampler` is given) train at once and
            copy and perturb each other every `interval` epochs; `max_trials` is not used, and
            `checkpoint_dir` (default `autotune_checkpoints`) holds their checkpoints
            (docs/population.md).
        warm_start: Earlier studies that inform the sampler without becoming this study's
            trials (as `create_study`'s; a `KnowledgeBase` picks the tasks most like this
            one, data and model included). Re-tuning after the data changed is this call
            with the new data, a new `study_name` and `warm_start=<the old study's name>`.
        warm_start_mode: 'transfer', 'zero_shot' or 'same_task' (see `create_study`).
        task_tags: Tags recorded in the study's task descriptor (docs/knowledge.md), which
            also holds the data's and the model's meta-features, read from the first trial's
            build (with a `KnowledgeBase` warm start: from one extra build of the centre of
            the space, before the similar tasks are chosen).

    Returns:
        The study; `study.best_params` holds the best configuration.

    Raises:
        ConfigError: A bad argument, before the study is created.

    Example:
        >>> # study = fit(build, {"lr": {...}}, monitor="val_loss", max_trials=20)
    """
    if max_trials is None and time_budget is None:
        raise ConfigError("fit needs max_trials or time_budget (or both) so that it can end")
    if max_trials is not None:
        check_int(max_trials, "max_trials", hint="or None to run until time_budget")
    _check_modes(stages, fidelity, population, warm_start, warm_start_mode)
    check_int(n_workers, "n_workers")
    check_int(max_retries, "max_retries", low=0)
    budget = parse_duration(time_budget)
    timeout = parse_duration(trial_timeout, "trial_timeout")
    from lightning_autotune.registry import make_pruner, make_sampler

    if population is not None:
        from lightning_autotune.population import check_population

        check_population(population)
        sampler = "random" if sampler is None else sampler
    if isinstance(sampler, str):
        sampler = make_sampler(sampler)  # the study's seed reaches it through create_study
    if isinstance(pruner, (str, Mapping)):
        pruner = make_pruner(pruner)
    fid_name = None
    if fidelity is not None:
        final = int(
            dict(trainer_kwargs or {}).get("max_epochs", DEFAULT_TRAINER_KWARGS["max_epochs"])
        )
        space, sampler = fidelity.apply(space, sampler, final, seed)
        fid_name = fidelity.objective_param()
    space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
    direction = "maximize" if mode in ("max", "maximize") else mode
    data = model = None
    if isinstance(warm_start, KnowledgeBase):
        # the similar tasks are chosen now, so this task is described now (one extra build)
        data, model = describe_build(build, space)
        warm_start = warm_start.sources(
            replace(
                KnowledgeBase.describe(study_name or "", space, direction, tags=task_tags),
                data=data,
                model=model,
            )
        )
        warm_start_mode = warm_start_mode or WarmStartMode.ZERO_SHOT
    objective = LightningObjective(
        # a fidelity param is taken out of the params before build sees them, which a
        # TrialBuilder (the describing wrapper) would bypass: no features then
        build=build
        if model is not None or fid_name is not None
        else DescribingBuild(build, None, task_tags),
        monitor=monitor,
        trainer_kwargs=dict(trainer_kwargs or {}),
        callbacks=callbacks,
        seed=seed,
        log_dir=log_dir,
        score=score,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
        deadline=None if budget is None else time.time() + budget,
        trial_timeout=timeout,
        schedule_params=schedule_params,
        quiet=quiet,
        transfer=transfer,
        fidelity=fid_name,
    )
    if stages is not None:
        return _fit_stages(
            stages,
            objective,
            space,
            storage,
            study_name,
            mode,
            sampler,
            pruner,
            seed,
            progress,
            n_workers=n_workers,
            executor=executor,
            max_retries=max_retries,
            failure_threshold=failure_threshold,
            progress=progress,
            warm_start=warm_start,
            warm_start_mode=warm_start_mode,
        )
    study = create_study(
        study_name,
        space,
        storage,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        warm_start=warm_start,
        warm_start_mode=warm_start_mode,
    )
    record_objective_name(study, objective)
    objective_name = study.user_attrs["objective_names"][0]
    KnowledgeBase(study.storage).record(
        study.name, objective=objective_name, data=data, model=model, tags=task_tags
    )
    if isinstance(objective.build, DescribingBuild):
        objective.build.objective = objective_name
    if progress is not False:
        announce(study, objective)
    if population is not None:
        from lightning_autotune.population import run_population

        return run_population(
            study,
            objective,
            population,
            checkpoint_dir=checkpoint_dir or "autotune_checkpoints",
            n_workers=n_workers,
            executor=executor,
            max_retries=max_retries,
            failure_threshold=failure_threshold,
            timeout=budget,
            progress=progress,
        )
    study.optimize(
        objective,
        max_trials=max_trials,
        timeout=budget,
        n_workers=n_workers,
        executor=executor,
        max_retries=max_retries,
        failure_threshold=failure_threshold,
        progress=progress,
    )
    return study


def _fit_stages(
    stages: Sequence[Stage],
    objective: LightningObjective,
    space: SearchSpace | Mapping[str, Any],
    storage: Storage | str | None,
    study_name: str | None,
    mode: str,
    sampler: Sampler | None,
    pruner: Pruner | None,
    seed: int | None,
    show: bool | Any,
    **optimize: Any,
) -> Study:
    """`fit` with a staged plan: check it, then run it (see `stages.run_stages`)."""
    from lightning_autotune.stages import check_stages, run_stages
    from lightning_autotune.trial import Direction

    space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
    final = int(objective.trainer_kwargs.get("max_epochs", DEFAULT_TRAINER_KWARGS["max_epochs"]))
    check_stages(stages, space.names, final)
    direction = Direction.parse("maximize" if mode in ("max", "maximize") else mode, "mode")
    if objective.score is not None:
        name = "score"
    elif isinstance(objective.monitor, str):
        name = objective.monitor
    else:
        name = objective.monitor.name
    return run_stages(
        stages,
        objective,
        space,
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        deadline=objective.deadline,
        announce=(lambda line: print(line, flush=True)) if show is not False else (lambda _: None),
        objective_name=name,
        final_epochs=final,
        **optimize,
    )


def record_objective_name(study: Study, objective: LightningObjective) -> None:
    """Store what the objective measures, so that plots and reports name their axis after it.

    The study user attribute `objective_names` is what `analysis` reads for axis labels.
    """
    if objective.score is not None:
        name = "score"
    elif isinstance(objective.monitor, str):
        name = objective.monitor
    else:
        name = objective.monitor.name
    study.storage.set_study_attr(study.study_id, "objective_names", [name])


def announce(study: Study, objective: LightningObjective) -> None:
    """Print the first progress line: the study, its store and the schedule names in use."""
    store = getattr(study.storage, "url", None) or "memory (not saved)"
    line = f"lightning_autotune: study {study.name!r} in {store}"
    names = LightningObjective.schedule_names(study.space) if study.space is not None else ()
    if names and objective.schedule_params:
        line += (
            f"; schedule parameters {list(names)} add their callbacks to every trial "
            "(schedule_params=False turns this off)"
        )
    if objective.transfer is not None:
        line += f"; every trial starts from pretrained weights ({objective.transfer.describe()})"
    print(line, flush=True)


def _check_modes(
    stages: Any, fidelity: Any, population: Any, warm_start: Any, warm_start_mode: Any = None
) -> None:
    """Refuse the ways of running a study that cannot be combined, before anything runs."""
    if stages is not None and fidelity is not None:
        raise ConfigError(
            "give stages or fidelity, not both: a staged plan sets each stage's fidelity itself"
        )
    if population is not None and (stages is not None or fidelity is not None):
        raise ConfigError(
            "population cannot be combined with stages or fidelity: a population trains every "
            "member at full fidelity for the whole run; drop one of them"
        )
    if stages is not None and warm_start is not None and warm_start_mode is not None:
        from lightning_autotune.samplers import WarmStartMode

        if WarmStartMode.parse(warm_start_mode) is WarmStartMode.SAME_TASK:
            raise ConfigError(
                "stages with warm_start_mode='same_task' would model the earlier studies' "
                "values as the first stage's, which runs at another fidelity; use 'transfer' "
                "or 'zero_shot'"
            )
