"""Samplers: what to try next. Only `_botorch.py` imports BoTorch, and only when used."""

from lightning_autotune.samplers._base import Sampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler

__all__ = ["RandomSampler", "Sampler", "SobolSampler"]
