"""Parameter names that the entry points read as in-run schedules rather than as the model's.

A space that holds one of these names gets the matching Lightning callback in every trial of
`fit`, `HyperTuner`, the YAML sweep and the worker (see `callbacks.schedule_callbacks`), unless
the entry point is given `schedule_params=False`. The list lives here, below both the space and
the callbacks, so that a space can say which of its names are reserved without importing
Lightning.
"""

from __future__ import annotations

__all__ = ["SCHEDULE_PARAMS"]

SCHEDULE_PARAMS: tuple[str, ...] = (
    "switch_at",
    "switch_to",
    "switch_lr_scale",
    "batch_size_ramp_at",
    "batch_size_factor",
    "batch_size_lr_scaling",
    "dropout_start",
    "dropout_decay",
    "dropout_every",
    "dropout_floor",
    "agc_clip_factor",
)
