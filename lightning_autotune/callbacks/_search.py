"""Schedules as search parameters: a trial's params -> the matching schedule callbacks.

A search space may hold these reserved names (every one optional):

| name | meaning | default |
|---|---|---|
| `switch_at` | fraction of training where the optimizer switches; >= 1 never switches | - |
| `switch_to` | optimizer after the switch: 'sgd', 'adam', 'adamw', 'rmsprop' | 'sgd' |
| `switch_lr_scale` | the new optimizer's lr = current lr x this | 1.0 |
| `batch_size_ramp_at` | fraction of training where the batch size grows; >= 1 never | - |
| `batch_size_factor` | new batch size = the model's batch size x this; 1 is no change | - |
| `batch_size_lr_scaling` | 'none', 'linear' or 'sqrt' lr scaling with the batch size | 'none' |
| `dropout_start` | dropout p at epoch 0 | - |
| `dropout_decay` | subtracted from p every `dropout_every` epochs | 0.0 |
| `dropout_every` | epochs between two decreases | 1 |
| `dropout_floor` | lowest p | 0.0 |
| `agc_clip_factor` | unit-wise adaptive gradient clipping factor | - |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_autotune._validation import check_number
from lightning_autotune.callbacks._batch_size import DynamicBatchSize
from lightning_autotune.callbacks._clipping import AdaptiveGradientClipping
from lightning_autotune.callbacks._dropout import DropoutSchedule
from lightning_autotune.callbacks._optimizer_switch import OptimizerSwitch
from lightning_autotune.callbacks._schedule import StepDecay
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import SCHEDULE_PARAMS  # the reserved names, re-exported here

__all__ = ["SCHEDULE_PARAMS", "schedule_callbacks", "schedule_space"]

_NEEDS = {  # name -> the name that must come with it
    "switch_to": "switch_at",
    "switch_lr_scale": "switch_at",
    "batch_size_factor": "batch_size_ramp_at",
    "batch_size_ramp_at": "batch_size_factor",
    "batch_size_lr_scaling": "batch_size_factor",
    "dropout_decay": "dropout_start",
    "dropout_every": "dropout_start",
    "dropout_floor": "dropout_start",
}


def _number(params: Mapping[str, Any], name: str, default: float | None = None) -> float:
    return check_number(params.get(name, default), f"schedule parameter {name!r}")


def _fraction(params: Mapping[str, Any], name: str) -> float | None:
    """A milestone fraction; None when it is >= 1 (the change never happens)."""
    at = _number(params, name)
    if at <= 0:
        raise ConfigError(
            f"schedule parameter {name!r} is a fraction of training and must be > 0, got {at}"
        )
    return None if at >= 1.0 else at


def schedule_callbacks(params: Mapping[str, Any]) -> list[pl.Callback]:
    """Build the schedule callbacks that a trial's params ask for.

    Pure: reads only the reserved names in `SCHEDULE_PARAMS` (others are ignored) and returns
    `[]` when none is present. Values that mean "no change" (`switch_at >= 1`,
    `batch_size_ramp_at >= 1`, `batch_size_factor == 1`) produce no callback. `DynamicBatchSize`
    needs `Trainer(reload_dataloaders_every_n_epochs=1)` and a model or datamodule whose
    `train_dataloader()` reads `self.batch_size`.

    Args:
        params: A trial's parameters (`trial.params`).

    Returns:
        In this order, those that apply: `OptimizerSwitch`, `DynamicBatchSize`,
        `DropoutSchedule`, `AdaptiveGradientClipping`.

    Raises:
        ConfigError: A reserved name with a bad value, or without its companion (e.g.
            `dropout_decay` with no `dropout_start`).

    Example:
        >>> [type(c).__name__ for c in schedule_callbacks({"switch_at": 0.5, "lr": 0.1})]
        ['OptimizerSwitch']
    """
    for name, needed in _NEEDS.items():
        if name in params and needed not in params:
            raise ConfigError(
                f"schedule parameter {name!r} needs {needed!r} in the same trial; add {needed!r} "
                "to the search space (schedule_space() lists both)"
            )
    callbacks: list[pl.Callback] = []
    if "switch_at" in params and (at := _fraction(params, "switch_at")) is not None:
        callbacks.append(
            OptimizerSwitch(
                at,
                str(params.get("switch_to", "sgd")),
                lr_scale=_number(params, "switch_lr_scale", 1.0),
            )
        )
    if "batch_size_ramp_at" in params:
        ramp = _fraction(params, "batch_size_ramp_at")
        factor = _number(params, "batch_size_factor")
        rule = params.get("batch_size_lr_scaling", "none")
        if rule not in ("none", "linear", "sqrt"):
            raise ConfigError(
                f"schedule parameter 'batch_size_lr_scaling' must be 'none', 'linear' or 'sqrt', "
                f"got {rule!r}"
            )
        if ramp is not None and factor != 1.0:
            callbacks.append(
                DynamicBatchSize(
                    {ramp: factor}, relative=True, lr_scaling=None if rule == "none" else rule
                )
            )
    if "dropout_start" in params:
        every = params.get("dropout_every", 1)
        if isinstance(every, float) and every.is_integer():
            every = int(every)
        schedule = StepDecay(
            start=_number(params, "dropout_start"),
            amount=_number(params, "dropout_decay", 0.0),
            every=every,
            floor=min(_number(params, "dropout_floor", 0.0), _number(params, "dropout_start")),
        )
        callbacks.append(DropoutSchedule(schedule))
    if "agc_clip_factor" in params:
        callbacks.append(AdaptiveGradientClipping(_number(params, "agc_clip_factor")))
    return callbacks


def schedule_space(
    *,
    switch: bool = True,
    batch_size: bool = True,
    dropout: bool = True,
    clipping: bool = True,
) -> dict[str, dict[str, Any]]:
    """Search-space entries (the dict format of `SearchSpace.from_dict`) for the schedules.

    Merge them into your own space: `space = {**my_space, **schedule_space(clipping=False)}`.
    The ranges are starting points; edit the returned dict to narrow or widen them.

    Args:
        switch: Include `switch_at` (0.2 to 1.0; 1.0 never switches) and `switch_lr_scale`.
        batch_size: Include `batch_size_ramp_at` (0.2 to 1.0) and `batch_size_factor` (1, 2, 4).
        dropout: Include `dropout_start` (0 to 0.5) and `dropout_decay` (0 to 0.1 per epoch).
        clipping: Include `agc_clip_factor` (0.005 to 0.2, log scale).

    Returns:
        `{name: spec}` for the chosen schedules.

    Example:
        >>> sorted(schedule_space(batch_size=False, dropout=False, clipping=False))
        ['switch_at', 'switch_lr_scale']
    """
    space: dict[str, dict[str, Any]] = {}
    if switch:
        space["switch_at"] = {"type": "continuous", "min": 0.2, "max": 1.0}
        space["switch_lr_scale"] = {"type": "continuous", "min": 1.0, "max": 100.0, "scale": "log"}
    if batch_size:
        space["batch_size_ramp_at"] = {"type": "continuous", "min": 0.2, "max": 1.0}
        space["batch_size_factor"] = {"type": "discrete", "values": [1, 2, 4]}
    if dropout:
        space["dropout_start"] = {"type": "continuous", "min": 0.0, "max": 0.5}
        space["dropout_decay"] = {"type": "continuous", "min": 0.0, "max": 0.1}
    if clipping:
        space["agc_clip_factor"] = {"type": "continuous", "min": 0.005, "max": 0.2, "scale": "log"}
    return space
