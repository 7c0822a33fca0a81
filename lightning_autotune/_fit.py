"""`fit`: tune a Lightning model end to end in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from lightning_autotune._time import parse_duration
from lightning_autotune.exceptions import ConfigError, TrialPruned
from lightning_autotune.pruners import Pruner
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import Trial

__all__ = [
    "DEFAULT_STORAGE",
    "DEFAULT_TRAINER_KWARGS",
    "fit",
    "run_lightning_trial",
    "trial_loggers",
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
    monitor: str = "val_loss",
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
) -> Study:
    """Tune a Lightning model: each trial builds a model from its params and trains it.

    Args:
        build: `build(params)` returns the model and its data: a `LightningModule` that defines
            its own dataloaders, `(module, datamodule)`, or `(module, train_loader, val_loader)`.
        space: The search space (`SearchSpace` or the article's dict format).
        monitor: Logged validation metric to optimize (the value at the last validation counts).
        mode: 'min' or 'max'.
        max_trials: Number of trials to run in this call (None: until `time_budget`).
        time_budget: Seconds or 'HH:MM:SS' for the whole call; the trial running at the deadline
            is stopped through Lightning's `max_time` and recorded with its last value.
        trainer_kwargs: Overrides of `DEFAULT_TRAINER_KWARGS` for every trial's `Trainer`.
        storage: Store URL or object; the default is a SQLite file `autotune.db` here.
        study_name: Study to create or continue (default: a new 'study-N').
        sampler: Default `BoTorchSampler()`.
        pruner: Default None (no pruning).
        seed: Seeds the sampler and each trial's `seed_everything`.
        callbacks: `callbacks(params)` returns extra Lightning callbacks for a trial.
        log_dir: If set, each trial logs to `log_dir/<study>/trial_<number>` through a
            `CSVLogger` (and a `TensorBoardLogger` when tensorboard is installed), with its
            hyperparameters recorded so the trials can be compared side by side.

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
    deadline = None if budget is None else time.monotonic() + budget

    def objective(trial: Trial) -> float:
        extra = list(callbacks(dict(trial.params))) if callbacks is not None else []
        run_kwargs = dict(kwargs)
        if log_dir is not None:
            run_kwargs["logger"] = trial_loggers(log_dir, study.name, trial)
        if deadline is not None and "max_time" not in run_kwargs:
            run_kwargs["max_time"] = timedelta(seconds=max(1.0, deadline - time.monotonic()))
        return run_lightning_trial(
            trial, build, monitor=monitor, trainer_kwargs=run_kwargs, callbacks=extra, seed=seed
        )

    study.optimize(objective, n_trials=max_trials, timeout=budget)
    return study


def run_lightning_trial(
    trial: Trial,
    build: Build,
    *,
    monitor: str,
    trainer_kwargs: Mapping[str, Any],
    callbacks: Sequence[Any] = (),
    seed: int | None = None,
) -> float:
    """Build and train one trial's model; return the monitored value at the last validation.

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
    trainer = pl.Trainer(**kwargs, callbacks=[reporter, *callbacks, *user_callbacks])
    trainer.fit(module, **data)
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
    return reporter.last_value


def trial_loggers(log_dir: str, study_name: str, trial: Trial) -> list[Any]:
    """Loggers writing to `log_dir/study_name/trial_<number>`, with the trial's params logged."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    version = f"trial_{trial.number}"
    loggers: list[Any] = [CSVLogger(log_dir, name=study_name, version=version)]
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        pass
    else:
        loggers.append(TensorBoardLogger(log_dir, name=study_name, version=version))
    for lg in loggers:
        lg.log_hyperparams({**trial.params, "trial_number": trial.number})
    return loggers


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
