"""`LightningObjective`: one trial = build the model and data from params, train, return a value.

`fit`, `HyperTuner`, the LightningCLI sweep and `lightning-autotune worker` all build this one
class, so a feature of the trial run (schedules, checkpoint resume, the time budget, quiet
trials, per-trial loggers) reaches every door at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune._subset import check_fraction, subset_data
from lightning_autotune._trial_run import (
    BuiltTrial,
    TrialBuilder,
    cut_by_time,
    quiet_lightning,
    remove_checkpoints,
    unpack_built,
)
from lightning_autotune.exceptions import ConfigError, TrialPruned
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.trial import FailureKind

if TYPE_CHECKING:
    from lightning_autotune.space import SearchSpace
    from lightning_autotune.transfer import Pretrained
    from lightning_autotune.trial import Trial

__all__ = [
    "DEFAULT_TRAINER_KWARGS",
    "FIDELITY_PARAMS",
    "TIME_BUDGET_REASON",
    "BuiltTrial",
    "LightningObjective",
    "TrialBuilder",
]

DEFAULT_TRAINER_KWARGS: Mapping[str, Any] = {
    "max_epochs": 10,
    "accelerator": "auto",
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}
"""The `Trainer` arguments of every trial; `trainer_kwargs` overrides them one by one."""

FIDELITY_PARAMS = ("data_fraction", "max_epochs")
"""Trial params a `LightningObjective(fidelity=...)` applies itself rather than pass to `build`."""

TIME_BUDGET_REASON = "time budget"
"""The prune reason of a trial that the study's time budget cut off before it finished."""

Build = Callable[[dict[str, Any]], Any] | TrialBuilder
Score = Callable[[Any, dict[str, float]], float]


@dataclass(frozen=True)
class LightningObjective:
    """The objective of a Lightning study: picklable, so trial processes and workers receive it.

    Each call builds the trial's model and data with `build(params)`, trains them with a
    `Trainer` that reports `monitor` to the trial after every validation (so pruners can stop
    it), and returns the value at the last validation (or `score(module, metrics)`).

    Args:
        build: `build(params)` returns a `LightningModule` that defines its own dataloaders,
            `(module, datamodule)`, `(module, train_loader, val_loader)` or a `BuiltTrial`; or
            a `TrialBuilder`, whose `build_trial(trial)` returns the same.
        monitor: Logged validation metric reported to the trial, or a `CompositeMetric`.
        trainer_kwargs: Overrides of `DEFAULT_TRAINER_KWARGS` (ignored when `build` returns a
            `BuiltTrial` with its own trainer arguments).
        callbacks: `callbacks(params)` returns extra Lightning callbacks for a trial.
        seed: Passed to `seed_everything` before each trial is built.
        log_dir: If set, each trial logs to `log_dir/lightning_logs/<study>_trial_<NNNN>`; a
            logger given in `trainer_kwargs` is cloned per trial the same way.
        score: `score(module, metrics)` gives the final value from the trained module and its
            last logged scalars plus `training_time_s`.
        checkpoint_dir: If set, each trial saves `checkpoint_dir/<study>/trial_<n>/last.ckpt`
            every epoch and a retried trial resumes from its predecessor's checkpoint.
        keep_checkpoints: False deletes the checkpoints a trial wrote under `checkpoint_dir` or
            its Trainer's `default_root_dir` once the trial ends.
        deadline: Wall-clock time (`time.time()`) at which the study's time budget ends. A trial
            still training then is stopped and raises `TrialPruned('time budget')`: its
            intermediate values stay, and its half-trained value never counts as a result.
        trial_timeout: Seconds one trial may train (Lightning's `max_time`); its last value
            counts.
        schedule_params: Whether the reserved names of `callbacks.SCHEDULE_PARAMS` in a trial's
            params (`switch_at`, `dropout_start`, ...) add their schedule callbacks. False
            hands them to `build` like any other parameter.
        quiet: Silence Lightning's per-trial banners (devices, tips, `Trainer.fit` stopped)
            while a trial runs. Progress bars and model summaries follow `trainer_kwargs`,
            whose defaults turn them off.
        transfer: Pretrained weights and transfer rules every trial starts from
            (`transfer.Pretrained.of(weights, rules)`); a trial's `transfer_lr_multiplier_<i>`
            and `transfer_unfreeze_at_<i>` params set its rules (see docs/transfer.md).
        data_fraction: Share of the training data each trial trains on, in (0, 1]: a
            deterministic class-stratified subset of the training loader's dataset (the same
            examples for every trial; validation data stays whole). 1.0 uses all of it.
        fidelity: The name of a trial param that sets the trial's fidelity, proposed by a
            multi-fidelity sampler: 'data_fraction' (a share of the training data, as above)
            or 'max_epochs' (the Trainer's epochs); the objective takes it out of the params
            before `build` sees them. None: no per-trial fidelity (a fidelity of your own is
            an ordinary param that `build` reads).

    Example:
        >>> from lightning_autotune.testing import TinyClassifier
        >>> objective = LightningObjective(
        ...     lambda p: TinyClassifier(lr=p["lr"]), monitor="val_loss",
        ...     trainer_kwargs={"max_epochs": 3},
        ... )
        >>> # study.optimize(objective, max_trials=10)
    """

    build: Build
    monitor: str | CompositeMetric = "val_loss"
    trainer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    callbacks: Callable[[dict[str, Any]], Sequence[Any]] | None = None
    seed: int | None = None
    log_dir: str | None = None
    score: Score | None = None
    checkpoint_dir: str | None = None
    keep_checkpoints: bool = True
    deadline: float | None = None
    trial_timeout: float | None = None
    schedule_params: bool = True
    quiet: bool = True
    transfer: Pretrained | None = None
    data_fraction: float = 1.0
    fidelity: str | None = None

    def __post_init__(self) -> None:
        check_fraction(self.data_fraction, "LightningObjective: data_fraction")
        if self.fidelity not in (None, *FIDELITY_PARAMS):
            raise ConfigError(
                f"LightningObjective: fidelity must be one of {list(FIDELITY_PARAMS)} or None, "
                f"got {self.fidelity!r}; a fidelity of your own is a param build() reads"
            )
        if not (callable(self.build) or isinstance(self.build, TrialBuilder)):
            raise ConfigError(f"build must be a function of the params, got {self.build!r}")
        if not isinstance(self.monitor, (str, CompositeMetric)):
            raise ConfigError(
                f"monitor must be a logged metric's name or a CompositeMetric, got {self.monitor!r}"
            )

    @staticmethod
    def schedule_names(space: SearchSpace | Mapping[str, Any]) -> tuple[str, ...]:
        """The reserved schedule names (`callbacks.SCHEDULE_PARAMS`) that `space` uses.

        Example:
            >>> LightningObjective.schedule_names({"lr": {}, "switch_at": {}})
            ('switch_at',)
        """
        from lightning_autotune.space import SCHEDULE_PARAMS

        names = space.names if hasattr(space, "names") else list(space)
        return tuple(n for n in names if n in SCHEDULE_PARAMS)

    def __call__(self, trial: Trial) -> float:
        with quiet_lightning(self.quiet):
            return self._run(trial)

    def _run(self, trial: Trial) -> float:
        import lightning.pytorch as pl

        from lightning_autotune.callbacks import (
            AutoTuneCallback,
            DynamicBatchSize,
            PretrainedTransfer,
            log_trial_result,
            schedule_callbacks,
            trial_loggers,
        )

        params = dict(trial.params)
        fraction, epochs = self._fidelity_of(params)
        extra = schedule_callbacks(params) if self.schedule_params else []
        if self.callbacks is not None:
            extra += list(self.callbacks(dict(params)))
        if self.transfer is not None:
            extra.append(PretrainedTransfer(self.transfer.weights, self.transfer.rules_for(params)))
        if self.seed is not None:
            pl.seed_everything(self.seed, workers=True, verbose=False)
        built = unpack_built(
            self.build.build_trial(trial)
            if isinstance(self.build, TrialBuilder)
            else self.build(params)
        )
        own_kwargs = built.trainer_kwargs is None
        kwargs = dict(
            {**DEFAULT_TRAINER_KWARGS, **self.trainer_kwargs}
            if built.trainer_kwargs is None
            else built.trainer_kwargs
        )
        if epochs is not None:
            kwargs["max_epochs"] = epochs
        data = subset_data(built.module, dict(built.data), fraction, seed=self.seed or 0)
        if any(isinstance(cb, DynamicBatchSize) for cb in extra):
            # The batch-size schedule needs the loaders rebuilt every epoch.
            kwargs["reload_dataloaders_every_n_epochs"] = (
                kwargs.get("reload_dataloaders_every_n_epochs") or 1
            )
        user_logger = kwargs.get("logger")
        if own_kwargs and (self.log_dir is not None or user_logger not in (None, False, True)):
            kwargs["logger"] = trial_loggers(
                True if user_logger in (None, False) else user_logger,
                trial.number,
                params,
                study_name=trial.study.name,
                save_dir=self.log_dir or "autotune_logs",
            )
            if self.log_dir is not None and kwargs["logger"]:  # where the dashboard says to look
                trial.set_user_attr("log_dir", str(kwargs["logger"][0].log_dir))
        by_budget = self._set_max_time(kwargs)
        ckpt_dir, resume = self._checkpoint_paths(trial)
        user_callbacks = list(kwargs.pop("callbacks", None) or [])
        if ckpt_dir is not None:
            from lightning.pytorch.callbacks import ModelCheckpoint

            kwargs["enable_checkpointing"] = True
            user_callbacks.append(
                ModelCheckpoint(
                    dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False
                )
            )
        reporter = AutoTuneCallback(trial, monitor=self.monitor)
        trainer = built.trainer_class(**kwargs, callbacks=[reporter, *extra, *user_callbacks])
        started = time.perf_counter()
        try:
            if resume is not None:
                trial.set_user_attr("resumed_from", str(resume))
                trainer.fit(built.module, **data, ckpt_path=str(resume), weights_only=True)
            else:
                trainer.fit(built.module, **data)
        finally:
            if not self.keep_checkpoints:
                remove_checkpoints(trainer, ckpt_dir)
        training_time = time.perf_counter() - started
        if trainer.interrupted:
            raise KeyboardInterrupt(f"trial {trial.number} was interrupted")
        if reporter.pruned:
            raise TrialPruned(trial.prune_reason or "pruned")
        if by_budget and cut_by_time(trainer):
            raise TrialPruned(TIME_BUDGET_REASON, kind=FailureKind.TIME_BUDGET)
        if reporter.last_value is None:
            raise ConfigError(
                f"trial {trial.number}: no validation ran, so {self.monitor!r} was never "
                "reported; make sure the Trainer validates (limit_val_batches > 0, "
                "check_val_every_n_epoch <= max_epochs)"
            )
        value = reporter.last_value
        if self.score is not None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            value = self.score(built.module, {**metrics, "training_time_s": training_time})
        if isinstance(kwargs.get("logger"), list):
            log_trial_result(kwargs["logger"], value, step=trial.snapshot().last_step or 0)
        return value

    def _fidelity_of(self, params: dict[str, Any]) -> tuple[float, int | None]:
        """Take the trial's fidelity param out of `params`: (data fraction, max epochs)."""
        if self.fidelity is None or self.fidelity not in params:
            return self.data_fraction, None
        value = params.pop(self.fidelity)
        if self.fidelity == "max_epochs":
            if isinstance(value, bool) or not float(value).is_integer() or value < 1:
                raise ConfigError(
                    f"trial param max_epochs must be a whole number >= 1, got {value!r}; make "
                    "the fidelity parameter an Int(low >= 1, ...)"
                )
            return self.data_fraction, int(value)
        return check_fraction(value, "trial param data_fraction") * self.data_fraction, None

    def with_time_limits(
        self, trial_timeout: float | None, deadline: float | None
    ) -> LightningObjective:
        """This objective with `optimize`'s limits added (the tighter of each pair wins).

        Its Trainer stops at them through `max_time`, so they hold for trials that run in
        the coordinator's own process too.
        """
        return replace(
            self,
            trial_timeout=_tighter(self.trial_timeout, trial_timeout),
            deadline=_tighter(self.deadline, deadline),
        )

    def _set_max_time(self, kwargs: dict[str, Any]) -> bool:
        """Set `max_time` from the trial timeout and the deadline; True if the deadline binds."""
        if "max_time" in kwargs and kwargs["max_time"] is not None:
            return False
        left = None if self.deadline is None else self.deadline - time.time()
        limits = [x for x in (self.trial_timeout, left) if x is not None]
        if not limits:
            return False
        kwargs["max_time"] = timedelta(seconds=max(1.0, min(limits)))
        return left is not None and (self.trial_timeout is None or left <= self.trial_timeout)

    def _checkpoint_paths(self, trial: Trial) -> tuple[Path | None, Path | None]:
        if self.checkpoint_dir is None:
            return None, None
        root = Path(self.checkpoint_dir) / trial.study.name
        retry_of = trial.snapshot().retry_of
        last = None if retry_of is None else root / f"trial_{retry_of}" / "last.ckpt"
        return root / f"trial_{trial.number}", last if last is not None and last.is_file() else None


def _tighter(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)
