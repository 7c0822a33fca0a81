"""Look at a study: plots, a one-file HTML report, GP-based sensitivity and live progress.

matplotlib (extra `[plot]`) and rich (extra `[cli]`) are imported only when a function needs them.
"""

from __future__ import annotations

from lightning_autotune.analysis._figure import save_png
from lightning_autotune.analysis._loggers import log_trial_result, trial_loggers
from lightning_autotune.analysis._plots import plot_intermediate_values, plot_optimization_history
from lightning_autotune.analysis._plots_params import (
    plot_local_sensitivity,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)
from lightning_autotune.analysis._progress import ProgressReporter
from lightning_autotune.analysis._progress_state import ProgressSnapshot, RunningTrial
from lightning_autotune.analysis._report import write_report
from lightning_autotune.analysis._rerun import rerun_sensitivity
from lightning_autotune.analysis._sensitivity import (
    LocalSensitivity,
    ParamImportance,
    SensitivityResult,
    param_importances,
    sensitivity_analysis,
)

__all__ = [
    "LocalSensitivity",
    "ParamImportance",
    "ProgressReporter",
    "ProgressSnapshot",
    "RunningTrial",
    "SensitivityResult",
    "log_trial_result",
    "param_importances",
    "plot_intermediate_values",
    "plot_local_sensitivity",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_slice",
    "rerun_sensitivity",
    "save_png",
    "sensitivity_analysis",
    "trial_loggers",
    "write_report",
]
