"""Trial states, failure kinds, frozen trial snapshots and the live trial handle."""

from lightning_autotune.trial._kind import FailureKind
from lightning_autotune.trial._record import TrialRecord
from lightning_autotune.trial._state import Direction, TrialState
from lightning_autotune.trial._trial import Trial

__all__ = ["Direction", "FailureKind", "Trial", "TrialRecord", "TrialState"]
