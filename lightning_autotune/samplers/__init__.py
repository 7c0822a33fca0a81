"""Samplers: what to try next. Only `_botorch*.py` / `_mo_acquisition.py` import BoTorch, lazily."""

from lightning_autotune.samplers._base import Sampler
from lightning_autotune.samplers._botorch_mo import MultiObjectiveBoTorchSampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler

__all__ = ["MultiObjectiveBoTorchSampler", "RandomSampler", "Sampler", "SobolSampler"]
