"""`fit`: tune a Lightning model end to end in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune._time import parse_duration
from lightning_autotune.callbacks import log_trial_result, trial_loggers
from lightning_autotune.exceptions import ConfigError, TrialPruned
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.pruners import Pruner
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import Trial

if TYPE_CHECKING:
    from lightning_autotune.study import Executor

__all__ = [
    "DEFAULT_STORAGE",
    "DEFAULT_TRAINER_KWARGS",
    "fit",
    "run_lightning_trial",
]

DEFAULT_STORAGE = "sqlite:///autotune.db"

DEFAULT_TRAINER_KWARGS: dict[str, Any] = {
    "max_epochs": 10,
    "accelerator": "auto",
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}

Build = Callable[[dict[str, Any]], Any]


def fit(
    build: Build,
    space: SearchSpace | Mapping[str, Any],
    monitor: str | CompositeMetric = "val_loss",
    mode: str = "min",
    max_trials: int | None = 20,
    time_budget: float | str | None = None,
    trainer_kwargs: Mapping[str, Any] | None = None,
    storage: Storage | str | None = DEFAULT_STORAGE,
    study_name: str | None = None,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    seed: int | None = None,
    callbacks: Callable[[dict[str, Any]], Sequence[Any]] | None = None,
    log_dir: str | None = None,
    score: Callable[[Any, dict[str, float]], float] | None = None,
    *,
    n_workers: int = 1,
    executor: Executor | None = None,
    trial_timeout: float | str | None = None,
    max_retries: int = 1,
    failure_threshold: float | tuple[float, int] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool | Any = True,
) -> Study:
    """Tune a Lightning model: each trial builds a model from its params and trains it.

    Args:
        build: `build(params)` returns the model and its data: a `LightningModule` that defines
            its own dataloaders, `(module, datamodule)`, or `(module, train_loader, val_loader)`.
        space: The search space (`SearchSpace` or the article's dict format).
        monitor: Logged validation metric to optimize (the value at the last validation counts),
            or a `CompositeMetric` (lower is better: use mode='min').
        mode: 'min' or 'max'.
        max_trials: Total trials the study may hold, retries not counted (None: until
            `time_budget`). Running the same call again after a crash only runs what is missing.
        time_budget: Seconds or 'HH:MM:SS' for the whole call; trials running at the deadline
            are stopped through Lightning's `max_time` and recorded with their last value.
        trainer_kwargs: Overrides of `DEFAULT_TRAINER_KWARGS` for every trial's `Trainer`.
        storage: Store URL or object; the default is a SQLite file `autotune.db` here.
        study_name: Study to create or continue (default: a new 'study-N').
        sampler: Default: the one `create_study` picks, `BoTorchSampler(seed=seed)`
            (`MultiObjectiveBoTorchSampler` for a space with constraints or rules).
        pruner: Default None (no pruning).
        seed: Seeds the sampler and each trial's `seed_everything`.
        callbacks: `callbacks(params)` returns extra Lightning callbacks for a trial. Schedule
            parameters in the space (`switch_at`, `batch_size_ramp_at`, `dropout_start`,
            `agc_clip_factor`, ...; see `callbacks.SCHEDULE_PARAMS`) add their callbacks too.
        log_dir: If set, each trial logs to `log_dir/lightning_logs/<study>_trial_<NNNN>`
            (TensorBoard when installed, else CSV) with its hyperparameters and its final value
            as `hp_metric`, so TensorBoard's HPARAMS view compares trials. A logger given in
            `trainer_kwargs` is cloned the same way for each trial.
        score: Composite objective: `score(module, metrics)` gives a trial's final value from
            the trained module and its last logged metrics (plus `training_time_s`); `monitor`
            is then only what is reported during the run.
        n_workers: Trials at once; more than 1 runs each trial in its own process, which needs
            a URL store (the default SQLite file is one). `build` may be defined in `__main__`.
        executor: Where trials run (overrides `n_workers`), e.g. `ProcessExecutor(4, 'GPU')`.
        trial_timeout: Seconds or 'HH:MM:SS' per trial, applied as Lightning's `max_time`.
        max_retries: Retries of a trial whose process died or was interrupted.
        failure_threshold: Stop with `StudyFailedError` once more than this share of finished
            trials failed, e.g. (0.5, 5): half, after five.
        checkpoint_dir: If set, each trial saves `checkpoint_dir/<study>/trial_<n>/last.ckpt`
            every epoch, and a retried trial resumes from its predecessor's checkpoint.
        progress: Show progress (default True: a live panel on a terminal, one line per trial
            otherwise); False for none, or an `analysis.ProgressReporter`.

    Returns:
        The study; `study.best_params` holds the best configuration.

    Example:
        >>> # study = fit(build, {"lr": {...}}, monitor="val_loss", max_trials=20)
    """
    if max_trials is None and time_budget is None:
        raise ConfigError("fit needs max_trials or time_budget (or both) so that it can end")
    budget = parse_duration(time_budget)
    study = create_study(
        study_name,
        space,
        storage,
        direction="maximize" if mode in ("max", "maximize") else mode,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
    )
    kwargs = {**DEFAULT_TRAINER_KWARGS, **(trainer_kwargs or {})}
    objective = _FitObjective(
        build=build,
        study_name=study.name,
        monitor=monitor,
        trainer_kwargs=kwargs,
        callbacks=callbacks,
        seed=seed,
        log_dir=log_dir,
        score=score,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
        deadline=None if budget is None else time.time() + budget,
        trial_timeout=parse_duration(trial_timeout, "trial_timeout"),
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


@dataclass(frozen=True)
class _FitObjective:
    """The objective of `fit`: picklable, so trial processes can receive it."""

    build: Build
    study_name: str
    monitor: str | CompositeMetric
    trainer_kwargs: Mapping[str, Any]
    callbacks: Callable[[dict[str, Any]], Sequence[Any]] | None = None
    seed: int | None = None
    log_dir: str | None = None
    score: Callable[[Any, dict[str, float]], float] | None = None
    checkpoint_dir: str | None = None
    deadline: float | None = None  # wall-clock (time.time()), valid in every local process
    trial_timeout: float | None = None

    def __call__(self, trial: Trial) -> float:
        from lightning_autotune.callbacks import DynamicBatchSize, schedule_callbacks

        extra = schedule_callbacks(trial.params)
        if self.callbacks is not None:
            extra += list(self.callbacks(dict(trial.params)))
        run_kwargs = dict(self.trainer_kwargs)
        if any(isinstance(cb, DynamicBatchSize) for cb in extra):
            # The batch-size schedule needs the loaders rebuilt every epoch.
            run_kwargs.setdefault("reload_dataloaders_every_n_epochs", 1)
        user_logger = run_kwargs.get("logger")
        if self.log_dir is not None or user_logger not in (None, False, True):
            run_kwargs["logger"] = trial_loggers(
                True if user_logger in (None, False) else user_logger,
                trial.number,
                trial.params,
                study_name=self.study_name,
                save_dir=self.log_dir or "autotune_logs",
            )
        limits = [] if self.trial_timeout is None else [self.trial_timeout]
        if self.deadline is not None:
            limits.append(self.deadline - time.time())
        if limits and "max_time" not in run_kwargs:
            run_kwargs["max_time"] = timedelta(seconds=max(1.0, min(limits)))
        ckpt_dir = resume = None
        if self.checkpoint_dir is not None:
            root = Path(self.checkpoint_dir) / self.study_name
            ckpt_dir = root / f"trial_{trial.number}"
            retry_of = trial.snapshot().retry_of
            last = None if retry_of is None else root / f"trial_{retry_of}" / "last.ckpt"
            resume = last if last is not None and last.is_file() else None
        value = run_lightning_trial(
            trial,
            self.build,
            monitor=self.monitor,
            trainer_kwargs=run_kwargs,
            callbacks=extra,
            seed=self.seed,
            score=self.score,
            checkpoint_dir=ckpt_dir,
            resume_from=resume,
        )
        if isinstance(run_kwargs.get("logger"), list):
            log_trial_result(run_kwargs["logger"], value, step=trial.snapshot().last_step or 0)
        return value


def run_lightning_trial(
    trial: Trial,
    build: Build,
    *,
    monitor: str | CompositeMetric,
    trainer_kwargs: Mapping[str, Any],
    callbacks: Sequence[Any] = (),
    seed: int | None = None,
    score: Callable[[Any, dict[str, float]], float] | None = None,
    checkpoint_dir: Path | None = None,
    resume_from: Path | None = None,
) -> float:
    """Build and train one trial's model; return the monitored value at the last validation.

    With `score`, the value is `score(module, metrics)` instead, where `metrics` holds the last
    logged scalars plus `training_time_s` (seconds spent in `trainer.fit`).

    Args:
        trial: The running trial.
        build: `build(params)` returns the model and its data (see `fit`).
        monitor: The validation metric (or `CompositeMetric`) reported to the trial.
        trainer_kwargs: Arguments of the `Trainer`.
        callbacks: Extra callbacks.
        seed: Passed to `seed_everything`.
        score: See `fit`.
        checkpoint_dir: Save `last.ckpt` there after every epoch.
        resume_from: A checkpoint to continue from (loaded with `weights_only=True`).

    Raises:
        TrialPruned: The pruner stopped the run (or the monitored value became NaN/inf).
        ConfigError: `build` returned something that is not a model and its data.
    """
    import lightning.pytorch as pl

    from lightning_autotune.callbacks import AutoTuneCallback

    if seed is not None:
        pl.seed_everything(seed, workers=True, verbose=False)
    module, data = _unpack(build(dict(trial.params)))
    reporter = AutoTuneCallback(trial, monitor=monitor)
    kwargs = dict(trainer_kwargs)
    user_callbacks = list(kwargs.pop("callbacks", None) or [])
    if checkpoint_dir is not None:
        from lightning.pytorch.callbacks import ModelCheckpoint

        kwargs["enable_checkpointing"] = True
        user_callbacks.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir, filename="last", save_top_k=1, enable_version_counter=False
            )
        )
    trainer = pl.Trainer(**kwargs, callbacks=[reporter, *callbacks, *user_callbacks])
    started = time.perf_counter()
    if resume_from is not None:
        trial.set_user_attr("resumed_from", str(resume_from))
        trainer.fit(module, **data, ckpt_path=str(resume_from), weights_only=True)
    else:
        trainer.fit(module, **data)
    training_time = time.perf_counter() - started
    if trainer.interrupted:
        raise KeyboardInterrupt(f"trial {trial.number} was interrupted")
    if reporter.pruned:
        raise TrialPruned(trial.prune_reason or "pruned")
    if reporter.last_value is None:
        raise ConfigError(
            f"trial {trial.number}: no validation ran, so {monitor!r} was never reported; make "
            "sure the Trainer validates (limit_val_batches > 0, check_val_every_n_epoch <= "
            "max_epochs)"
        )
    if score is None:
        return reporter.last_value
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    return score(module, {**metrics, "training_time_s": training_time})


def _unpack(built: Any) -> tuple[Any, dict[str, Any]]:
    import lightning.pytorch as pl

    if isinstance(built, pl.LightningModule):
        return built, {}
    if isinstance(built, tuple) and built and isinstance(built[0], pl.LightningModule):
        if len(built) == 2 and isinstance(built[1], pl.LightningDataModule):
            return built[0], {"datamodule": built[1]}
        if len(built) == 3:
            return built[0], {"train_dataloaders": built[1], "val_dataloaders": built[2]}
    raise ConfigError(
        "build(params) must return a LightningModule, (module, datamodule) or "
        f"(module, train_loader, val_loader); got {type(built).__name__}"
        + (f" of {[type(b).__name__ for b in built]}" if isinstance(built, tuple) else "")
    )
