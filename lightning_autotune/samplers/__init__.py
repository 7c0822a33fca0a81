"""Samplers: what to try next.

Only the `_botorch`, `_gp`, `_acquisition`, `_optimize_acqf`, `_botorch_mo`, `_mo_acquisition`
and `_multifidelity_model` modules import BoTorch, and only when a BoTorch sampler is used.
"""

from lightning_autotune.samplers._base import Sampler, SamplerWarning
from lightning_autotune.samplers._batch import BatchPolicy
from lightning_autotune.samplers._botorch import BoTorchSampler
from lightning_autotune.samplers._botorch_mo import MultiObjectiveBoTorchSampler
from lightning_autotune.samplers._multifidelity import MultiFidelitySampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler

__all__ = [
    "BatchPolicy",
    "BoTorchSampler",
    "MultiFidelitySampler",
    "MultiObjectiveBoTorchSampler",
    "RandomSampler",
    "Sampler",
    "SamplerWarning",
    "SobolSampler",
]
