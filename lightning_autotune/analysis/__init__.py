"""Look at a study: plots (the Pareto plot included), a one-file HTML report and GP-based
sensitivity.

matplotlib (extra `[plot]`) is imported only when a function needs it.
"""

from __future__ import annotations

from lightning_autotune.analysis._figure import save_png
from lightning_autotune.analysis._plots import plot_intermediate_values, plot_optimization_history
from lightning_autotune.analysis._plots_params import (
    plot_local_sensitivity,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)
from lightning_autotune.analysis._plots_pareto import plot_pareto_front
from lightning_autotune.analysis._report import write_report
from lightning_autotune.analysis._rerun import rerun_sensitivity
from lightning_autotune.analysis._schedules import (
    ExploitEvent,
    MemberSchedule,
    plot_population_schedules,
    population_schedules,
)
from lightning_autotune.analysis._sensitivity import (
    LocalSensitivity,
    ParamImportance,
    SensitivityResult,
    param_importances,
    sensitivity_analysis,
)

__all__ = [
    "ExploitEvent",
    "LocalSensitivity",
    "MemberSchedule",
    "ParamImportance",
    "SensitivityResult",
    "param_importances",
    "plot_intermediate_values",
    "plot_local_sensitivity",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_pareto_front",
    "plot_population_schedules",
    "plot_slice",
    "population_schedules",
    "rerun_sensitivity",
    "save_png",
    "sensitivity_analysis",
    "write_report",
]
