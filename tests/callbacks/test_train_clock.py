from __future__ import annotations

import math

import torch

from lightning_autotune.callbacks._efficiency import TrainClock, batch_size_of


def _clock(times):
    return TrainClock(now=iter(times).__next__)


def test_validation_time_is_excluded_and_epoch_is_extrapolated():
    # epoch starts at 0; 2 batches; validation from 4 to 10; resumes; epoch ends at 12.
    clock = _clock([0.0, 4.0, 10.0, 12.0])
    clock.epoch_start()
    clock.batch_end(16)
    clock.batch_end(16)
    clock.pause()
    assert clock.seconds_per_epoch(num_batches=4) == 8.0  # 4 s for half the epoch
    assert clock.samples_per_sec(world_size=2) == 16.0  # 32 samples x 2 ranks / 4 s
    clock.resume()
    clock.epoch_end()
    assert clock.train_seconds == 6.0 and clock.last_epoch_seconds == 6.0


def test_unknown_epoch_length_uses_last_epoch_or_nan():
    clock = _clock([0.0, 5.0, 5.0])
    assert math.isnan(clock.samples_per_sec(1))
    assert math.isnan(clock.seconds_per_epoch(math.inf))
    clock.epoch_start()
    clock.batch_end(1)
    clock.epoch_end()
    assert clock.seconds_per_epoch(math.inf) == 5.0


def test_batch_size_of_common_batches():
    x = torch.zeros(7, 3)
    assert batch_size_of((x, torch.zeros(7))) == 7
    assert batch_size_of({"x": x}) == 7
    assert batch_size_of("no tensors") == 1
