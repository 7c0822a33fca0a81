"""Population Based Training (PBT) and PB2: hyperparameters that change while members train.

Members are trials of one study; at every interval boundary a bottom member copies a top
member's weights and optimizer state inside its running Trainer and explores new
hyperparameters. The lineage of every member is kept in its trial (user attribute
`population`); `replay` turns a member's schedule into callbacks for one fresh run.
"""

from lightning_autotune._lineage import BoundaryResult, CopyReason, Lineage, Segment
from lightning_autotune.population._apply import apply_params
from lightning_autotune.population._callback import PopulationMember
from lightning_autotune.population._config import MUTABLE, PB2, PopulationBasedTraining
from lightning_autotune.population._replay import PopulationSchedule, best_member, replay
from lightning_autotune.population._run import check_population, population_for, run_population

__all__ = [
    "MUTABLE",
    "PB2",
    "BoundaryResult",
    "CopyReason",
    "Lineage",
    "PopulationBasedTraining",
    "PopulationMember",
    "PopulationSchedule",
    "Segment",
    "apply_params",
    "best_member",
    "check_population",
    "population_for",
    "replay",
    "run_population",
]
