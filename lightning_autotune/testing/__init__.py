"""Tiny models and offline datasets for tests, examples and benchmarks."""

from lightning_autotune.testing._distributed import close_process_group
from lightning_autotune.testing._models import (
    TINY_TRAINER_KWARGS,
    TinyClassifier,
    digits_datasets,
    loaders,
    random_datasets,
)

__all__ = [
    "TINY_TRAINER_KWARGS",
    "TinyClassifier",
    "close_process_group",
    "digits_datasets",
    "loaders",
    "random_datasets",
]
