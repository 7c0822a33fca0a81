"""Lightning callbacks: `AutoTuneCallback` (report and prune) and the in-run schedules."""

from lightning_autotune.callbacks._autotune import AutoTuneCallback

__all__ = ["AutoTuneCallback"]
