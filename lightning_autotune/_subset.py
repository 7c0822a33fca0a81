"""A deterministic, class-stratified fraction of a trial's training data.

`LightningObjective(data_fraction=...)` trains on such a subset: each class keeps the same share
of its examples, chosen by a fixed seed, so every trial of a stage sees the same examples and a
smaller fraction is always a subset of a larger one (the first examples of one fixed order per
class).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lightning_autotune.exceptions import ConfigError

__all__ = ["check_fraction", "labels_of", "stratified_indices", "subset_data", "subset_loader"]

_MAX_CLASSES_SHARE = 0.5
"""Labels with more distinct values than this share of the examples are treated as continuous
(a regression target): the subset is then a plain seeded sample."""


def check_fraction(value: Any, field: str) -> float:
    """Return `value` as a float in (0, 1], or raise a `ConfigError` naming `field`."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0.0 < float(value) <= 1.0) or math.isnan(float(value)):
        raise ConfigError(
            f"{field} must be a fraction of the training data in (0, 1], got {value!r}; "
            "use e.g. 0.25 for a quarter of the examples, or 1.0 for all of them"
        )
    return float(value)


def stratified_indices(
    labels: np.ndarray | None, n: int, fraction: float, seed: int = 0
) -> np.ndarray:
    """Sorted indices of a class-stratified `fraction` of `n` examples.

    Args:
        labels: `n` class labels, or None (a plain seeded sample of the examples).
        n: Number of examples.
        fraction: Share to keep, in (0, 1].
        seed: Seed of the fixed order within each class.

    Returns:
        The indices; every class keeps `ceil(fraction * size)` examples (at least one), and the
        subset of a smaller fraction is contained in the subset of a larger one.

    Example:
        >>> stratified_indices(np.array([0, 0, 0, 0, 1, 1]), 6, 0.5).tolist()
        [1, 2, 5]
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [np.arange(n)]
    else:
        classes = np.unique(labels)
        groups = [np.flatnonzero(labels == c) for c in classes]
    kept = []
    for group in groups:
        order = group[rng.permutation(len(group))]
        kept.append(order[: max(1, math.ceil(fraction * len(group) - 1e-9))])
    return np.sort(np.concatenate(kept))


def labels_of(dataset: Any) -> np.ndarray | None:
    """Class labels of a dataset, or None when it has none that look like classes.

    Looks at `dataset.targets` (torchvision), the last tensor of a `TensorDataset`, and
    otherwise the second item of each example.
    """
    raw: Any = getattr(dataset, "targets", None)
    if raw is None and hasattr(dataset, "tensors") and len(dataset.tensors) > 1:
        raw = dataset.tensors[-1]
    if raw is None:
        try:
            raw = [dataset[i][1] for i in range(len(dataset))]
        except Exception:  # an unsized dataset or examples without a label
            return None
    try:
        labels = np.asarray([_scalar(v) for v in raw])
    except (TypeError, ValueError):
        return None
    if labels.ndim != 1 or labels.dtype.kind not in "iub":
        return None
    if len(np.unique(labels)) > _MAX_CLASSES_SHARE * max(len(labels), 1):
        return None
    return labels


def _scalar(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "numel", lambda: 1)() == 1:
        return v.item()
    if isinstance(v, (int, np.integer, bool)):
        return int(v)
    raise TypeError("not a class label")


def subset_loader(loader: Any, fraction: float, seed: int = 0) -> Any:
    """A `DataLoader` like `loader` over a class-stratified `fraction` of its dataset.

    Batch size, shuffling, workers, collation and `drop_last` are kept. A loader that is not a
    map-style `DataLoader` with a plain batch size is refused.

    Raises:
        ConfigError: The loader cannot be subset.
    """
    from torch.utils.data import DataLoader, RandomSampler, Subset

    if fraction >= 1.0:
        return loader
    if not isinstance(loader, DataLoader) or loader.batch_size is None:
        raise ConfigError(
            f"data_fraction={fraction}: the training data is a {type(loader).__name__}, not a "
            "DataLoader with a batch_size, so it cannot be subset; return a DataLoader from "
            "train_dataloader(), or use a fidelity the build function reads itself"
        )
    dataset = loader.dataset
    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(
            f"data_fraction={fraction}: the training dataset has no length (an iterable "
            "dataset), so a fixed subset cannot be drawn; subset it in your build function"
        ) from None
    idx = stratified_indices(labels_of(dataset), n, fraction, seed)
    return DataLoader(
        Subset(dataset, idx.tolist()),
        batch_size=loader.batch_size,
        shuffle=isinstance(loader.sampler, RandomSampler),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        persistent_workers=loader.persistent_workers,
        generator=loader.generator,
    )


class _SubsetTrainLoader:
    """`train_dataloader` of a module or datamodule, answered with a subset (picklable)."""

    def __init__(self, original: Any, fraction: float, seed: int) -> None:
        self.original, self.fraction, self.seed = original, fraction, seed
        # Lightning's `is_overridden` follows `__wrapped__` to the user's own method.
        self.__wrapped__ = original

    def __call__(self) -> Any:
        return subset_loader(self.original(), self.fraction, self.seed)


def subset_data(
    module: Any, data: dict[str, Any], fraction: float, seed: int = 0
) -> dict[str, Any]:
    """`Trainer.fit` keyword arguments whose training data is a `fraction` subset.

    The training loader passed to `fit`, the datamodule's or the module's own
    `train_dataloader` is wrapped; validation data is left whole, so values stay comparable
    across fractions.
    """
    if fraction >= 1.0:
        return data
    data = dict(data)
    if data.get("train_dataloaders") is not None:
        data["train_dataloaders"] = subset_loader(data["train_dataloaders"], fraction, seed)
        return data
    owner = data.get("datamodule") or module
    owner.train_dataloader = _SubsetTrainLoader(owner.train_dataloader, fraction, seed)
    return data
