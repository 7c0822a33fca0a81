"""Inference latency of a model on one batch, so that latency can be an objective."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError

__all__ = ["LatencyResult", "measure_latency"]


@dataclass(frozen=True)
class LatencyResult:
    """Timings of repeated forward passes on one batch, in milliseconds.

    Attributes:
        median_ms: Median time of one forward pass (the figure to optimize).
        p90_ms: 90th percentile.
        mean_ms: Mean.
        min_ms: Fastest pass.
        max_ms: Slowest pass.
        repeats: Number of timed passes.
        warmup: Number of untimed passes before them.
        batch_size: Leading dimension of the first tensor of the batch (None if it has none).
        device: Where the model ran ('cpu', 'cuda:0', ...).
    """

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    repeats: int
    warmup: int
    batch_size: int | None
    device: str

    @property
    def per_sample_ms(self) -> float | None:
        """Median time divided by the batch size (None when the batch size is unknown)."""
        return None if not self.batch_size else self.median_ms / self.batch_size

    def as_metrics(self, prefix: str = "latency") -> dict[str, float]:
        """The figures as a flat metrics dict: {'latency_ms': median, 'latency_p90_ms': p90}."""
        return {f"{prefix}_ms": self.median_ms, f"{prefix}_p90_ms": self.p90_ms}


def measure_latency(
    model: Any,
    example_batch: Any,
    *,
    warmup: int = 5,
    repeats: int = 30,
    device: Any = None,
) -> LatencyResult:
    """Time the forward pass of `model` on `example_batch`.

    The model is put in eval mode (and back in its previous mode afterwards) and run under
    `torch.inference_mode()`. `warmup` untimed passes come first (they fill caches and trigger
    lazy initialization); then each of `repeats` passes is timed on its own with
    `time.perf_counter_ns`, synchronizing CUDA before and after each pass when the model is on a
    GPU so that the time covers the kernels and not only their launch.

    Args:
        model: A `torch.nn.Module` (a LightningModule is one).
        example_batch: A tensor (called as `model(x)`), a tuple or list of tensors
            (`model(*batch)`) or a mapping of keyword arguments (`model(**batch)`).
        warmup: Untimed passes first (>= 0).
        repeats: Timed passes (>= 1).
        device: Move the model and batch there first (default: where the model's parameters
            are, or the CPU for a model without parameters).

    Returns:
        A `LatencyResult` (median, 90th percentile, mean, min, max in milliseconds).

    Raises:
        ConfigError: `warmup` or `repeats` is out of range, or `model` is not a torch module.

    Example:
        >>> import torch
        >>> result = measure_latency(torch.nn.Linear(4, 2), torch.zeros(8, 4), repeats=3)
        >>> result.batch_size, result.median_ms >= 0
        (8, True)
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ConfigError(
            f"measure_latency needs a torch.nn.Module, got {type(model).__name__}; pass the "
            "trained model (a LightningModule works)"
        )
    check_int(warmup, "warmup", low=0)
    check_int(repeats, "repeats", hint="use e.g. 30")
    if device is None:
        first = next(model.parameters(), None)
        target = first.device if first is not None else torch.device("cpu")
    else:
        target = torch.device(device)
        model = model.to(target)
    batch = _to_device(example_batch, target)
    sync = torch.cuda.synchronize if target.type == "cuda" else None
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                _call(model, batch)
            for _ in range(repeats):
                if sync is not None:
                    sync(target)
                start = time.perf_counter_ns()
                _call(model, batch)
                if sync is not None:
                    sync(target)
                times.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        model.train(was_training)
    arr = np.asarray(times)
    return LatencyResult(
        median_ms=float(np.median(arr)),
        p90_ms=float(np.percentile(arr, 90)),
        mean_ms=float(arr.mean()),
        min_ms=float(arr.min()),
        max_ms=float(arr.max()),
        repeats=repeats,
        warmup=warmup,
        batch_size=_batch_size(batch),
        device=str(target),
    )


def _call(model: Any, batch: Any) -> Any:
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def _to_device(batch: Any, device: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _batch_size(batch: Any) -> int | None:
    import torch

    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    values: Sequence[Any] = (
        list(batch.values())
        if isinstance(batch, Mapping)
        else batch
        if isinstance(batch, (tuple, list))
        else []
    )
    for v in values:
        size = _batch_size(v)
        if size is not None:
            return size
    return None
