"""Staged and multi-fidelity search: screen, then coarse on a fraction of the data, then fine.

A plan is a list of `Stage`s (`fit(..., stages=[...])`); each stage is its own study
`NAME.stageN` in the same store, so a crash resumes the unfinished stage and finished stages
are not rerun. See docs/stages.md.
"""

from lightning_autotune.stages._fidelity import Fidelity, best_at_target
from lightning_autotune.stages._narrow import RangeChange, narrow_space
from lightning_autotune.stages._plan import run_stages, stage_study_name
from lightning_autotune.stages._screen import ScreenEffect, rank_parameters, screening_configs
from lightning_autotune.stages._stage import (
    DEFAULT_SCREEN_THRESHOLD,
    Narrowing,
    Stage,
    check_stages,
)

__all__ = [
    "DEFAULT_SCREEN_THRESHOLD",
    "Fidelity",
    "Narrowing",
    "RangeChange",
    "ScreenEffect",
    "Stage",
    "best_at_target",
    "check_stages",
    "narrow_space",
    "rank_parameters",
    "run_stages",
    "screening_configs",
    "stage_study_name",
]
