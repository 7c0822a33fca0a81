"""Lightning plug-ins: `AutoTuneCallback` (report and prune), the in-run schedules and the
per-trial loggers."""

from lightning_autotune.callbacks._autotune import AutoTuneCallback
from lightning_autotune.callbacks._batch_size import DynamicBatchSize
from lightning_autotune.callbacks._clipping import AdaptiveGradientClipping, ClipMode
from lightning_autotune.callbacks._dropout import DropoutSchedule
from lightning_autotune.callbacks._loggers import log_trial_result, trial_loggers
from lightning_autotune.callbacks._optimizer_switch import OptimizerSwitch
from lightning_autotune.callbacks._schedule import Piecewise, Schedule, StepDecay
from lightning_autotune.callbacks._search import (
    SCHEDULE_PARAMS,
    schedule_callbacks,
    schedule_space,
)
from lightning_autotune.callbacks._transfer import PretrainedTransfer

__all__ = [
    "SCHEDULE_PARAMS",
    "AdaptiveGradientClipping",
    "AutoTuneCallback",
    "ClipMode",
    "DropoutSchedule",
    "DynamicBatchSize",
    "OptimizerSwitch",
    "Piecewise",
    "PretrainedTransfer",
    "Schedule",
    "StepDecay",
    "log_trial_result",
    "schedule_callbacks",
    "schedule_space",
    "trial_loggers",
]
