"""`TrainClock`: training throughput and time per epoch, measured from Lightning hooks."""

from __future__ import annotations

import math
import time
from typing import Any

from lightning.pytorch.utilities.data import extract_batch_size

__all__ = ["TrainClock", "batch_size_of"]


def batch_size_of(batch: Any) -> int:
    """Samples in a batch as Lightning finds them (first tensor's length); 1 if none is found."""
    try:
        return int(extract_batch_size(batch))
    except Exception:  # a batch with no tensor in it: count it as one sample
        return 1


class TrainClock:
    """Training time with validation excluded: runs from each training epoch's start and pauses
    while validation runs.

    The owner calls `epoch_start`, `batch_end`, `pause` / `resume` (around validation) and
    `epoch_end`; `now` is injectable for tests.

    Example:
        >>> t = iter([0.0, 2.0, 2.0, 4.0]).__next__
        >>> clock = TrainClock(now=t)
        >>> clock.epoch_start(); clock.batch_end(32); clock.pause()
        >>> clock.samples_per_sec(world_size=1), clock.seconds_per_epoch(num_batches=2)
        (16.0, 4.0)
    """

    def __init__(self, now: Any = time.perf_counter) -> None:
        self._now = now
        self.samples = 0
        self.train_seconds = 0.0
        self.epoch_seconds = 0.0
        self.epoch_batches = 0
        self.last_epoch_seconds: float | None = None
        self._mark: float | None = None

    def epoch_start(self) -> None:
        self.epoch_seconds = 0.0
        self.epoch_batches = 0
        self._mark = self._now()

    def batch_end(self, n_samples: int) -> None:
        self.samples += n_samples
        self.epoch_batches += 1

    def pause(self) -> None:
        if self._mark is not None:
            elapsed = self._now() - self._mark
            self.train_seconds += elapsed
            self.epoch_seconds += elapsed
            self._mark = None

    def resume(self) -> None:
        if self._mark is None:
            self._mark = self._now()

    def epoch_end(self) -> None:
        self.pause()
        self.last_epoch_seconds = self.epoch_seconds

    def samples_per_sec(self, world_size: int) -> float:
        """Samples trained per second of training time, over all ranks (NaN before any batch)."""
        if self.train_seconds <= 0.0 or self.samples == 0:
            return math.nan
        return self.samples * world_size / self.train_seconds

    def seconds_per_epoch(self, num_batches: float) -> float:
        """The current epoch's training time, extrapolated to `num_batches` batches.

        With an unknown epoch length (`num_batches` infinite) the last full epoch's time is used,
        or NaN if there is none yet.
        """
        if math.isfinite(num_batches) and self.epoch_batches > 0:
            return self.epoch_seconds * num_batches / self.epoch_batches
        return self.last_epoch_seconds if self.last_epoch_seconds is not None else math.nan
