"""Compute a task's meta-features cheaply: the data's size and a bounded sample, the model's size.

Nothing of the data itself is kept: only its length, the shape of one input, the class counts
of at most `SAMPLE` examples and three robust statistics of their input values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sized
from importlib import metadata
from typing import Any

import numpy as np

from lightning_autotune.knowledge._descriptor import DataFeatures, ModelFeatures

__all__ = ["SAMPLE", "describe_data", "describe_model", "hardware", "package_versions"]

SAMPLE = 256
"""Most examples read to compute the statistics."""

_PACKAGES = ("lightning_autotune", "lightning", "torch", "botorch")


def _dataset(data: Any) -> Any:
    """The training dataset behind a datamodule, a dataloader or a dataset."""
    import lightning.pytorch as pl

    if isinstance(data, pl.LightningDataModule):
        data.setup("fit")
        data = data.train_dataloader()
    return getattr(data, "dataset", data)


def _split(item: Any) -> tuple[Any, Any]:
    if isinstance(item, Mapping):
        values = list(item.values())
        return (values[0], values[1] if len(values) > 1 else None)
    if isinstance(item, (tuple, list)):
        return item[0], (item[1] if len(item) > 1 else None)
    return item, None


def describe_data(data: Any, sample: int = SAMPLE) -> DataFeatures:
    """Meta-features of a `LightningDataModule`, a `DataLoader` or a map-style dataset.

    Args:
        data: The training data (a datamodule is set up for 'fit' to reach its train loader).
        sample: Most examples read, spread evenly over the dataset.

    Raises:
        TypeError: `data` has no length or cannot be indexed.
    """
    dataset = _dataset(data)
    if not isinstance(dataset, Sized) or not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"cannot describe {type(dataset).__name__}: a map-style dataset (with __len__ and "
            "__getitem__) is needed"
        )
    n = len(dataset)
    idx = np.unique(np.linspace(0, max(n - 1, 0), num=min(sample, n)).astype(np.int64))
    xs, ys = [], []
    for i in idx:
        x, y = _split(dataset[int(i)])
        xs.append(np.asarray(x, dtype=np.float64))
        if y is not None:
            ys.append(np.asarray(y))
    shape = tuple(int(s) for s in xs[0].shape) if xs else ()
    values = np.concatenate([x.ravel() for x in xs]) if xs else np.zeros(0)
    values = values[np.isfinite(values)]
    n_classes = balance = None
    if ys and all(y.ndim == 0 and np.issubdtype(y.dtype, np.integer) for y in ys):
        _, counts = np.unique(np.stack(ys), return_counts=True)
        n_classes = len(counts)
        p = counts / counts.sum()
        balance = float(-(p * np.log(p)).sum() / math.log(n_classes)) if n_classes > 1 else 1.0
    q1, med, q3 = np.percentile(values, [25, 50, 75]) if len(values) else (None, None, None)
    return DataFeatures(
        n_samples=n,
        input_shape=shape,
        n_classes=n_classes,
        class_balance=balance,
        input_median=None if med is None else float(med),
        input_iqr=None if q1 is None or q3 is None else float(q3 - q1),
        zero_fraction=float(np.mean(values == 0.0)) if len(values) else None,
        sample_size=len(idx),
    )


def describe_model(module: Any) -> ModelFeatures:
    """The class name and parameter count of a `torch.nn.Module`."""
    cls = type(module)
    n_params = sum(int(p.numel()) for p in module.parameters())
    return ModelFeatures(model_class=f"{cls.__module__}.{cls.__qualname__}", n_params=n_params)


def hardware() -> dict[str, Any]:
    """The accelerator this process sees: device name, count and memory (GiB), or the CPU."""
    import os

    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "device": props.name,
            "count": torch.cuda.device_count(),
            "memory_gib": round(props.total_memory / 2**30, 1),
        }
    return {"device": "cpu", "count": 1, "cpu_count": os.cpu_count()}


def package_versions() -> dict[str, str]:
    """Versions of the packages a study's results depend on (those installed)."""
    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return out
