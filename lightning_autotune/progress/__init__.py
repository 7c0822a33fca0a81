"""The live view of a running study: a rich panel on a terminal, plain lines elsewhere.

The study loop drives it; rich (extra `[cli]`) is imported only when the panel is drawn.
"""

from __future__ import annotations

from lightning_autotune.progress._reporter import ProgressReporter
from lightning_autotune.progress._state import ProgressSnapshot, RunningTrial

__all__ = ["ProgressReporter", "ProgressSnapshot", "RunningTrial"]
