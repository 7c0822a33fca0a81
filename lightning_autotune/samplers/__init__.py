"""Samplers: what to try next. Only the `_botorch`, `_gp`, `_acquisition` and `_optimize_acqf`
modules import BoTorch, and only when a `BoTorchSampler` is used."""

from lightning_autotune.samplers._base import Sampler
from lightning_autotune.samplers._botorch import BoTorchSampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler

__all__ = ["BoTorchSampler", "RandomSampler", "Sampler", "SobolSampler"]
