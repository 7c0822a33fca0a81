"""Samplers: what to try next.

Only the `_botorch`, `_gp`, `_acquisition`, `_optimize_acqf`, `_botorch_mo`,
`_mo_acquisition` and `_transfer_model` modules import BoTorch, and only when a BoTorch
sampler is used.
"""

from lightning_autotune.samplers._base import Sampler, SamplerWarning
from lightning_autotune.samplers._batch import BatchPolicy
from lightning_autotune.samplers._botorch import BoTorchSampler
from lightning_autotune.samplers._botorch_mo import MultiObjectiveBoTorchSampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler
from lightning_autotune.samplers._transfer import TransferSampler, WarmStartMode
from lightning_autotune.samplers._transfer_map import WarmSource

__all__ = [
    "BatchPolicy",
    "BoTorchSampler",
    "MultiObjectiveBoTorchSampler",
    "RandomSampler",
    "Sampler",
    "SamplerWarning",
    "SobolSampler",
    "TransferSampler",
    "WarmSource",
    "WarmStartMode",
]
