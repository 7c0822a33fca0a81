"""Samplers: what to try next.

Only the `_botorch`, `_gp`, `_acquisition`, `_optimize_acqf`, `_botorch_mo`, `_mo_acquisition`,
`_multifidelity_model` and `_transfer_model` modules import BoTorch, and only when a BoTorch
sampler is used. The evolutionary samplers import `cmaes` (the `evolutionary` extra) only
when CMA-ES runs.
"""

from lightning_autotune.samplers._base import Sampler, SamplerWarning
from lightning_autotune.samplers._batch import BatchPolicy
from lightning_autotune.samplers._botorch import BoTorchSampler
from lightning_autotune.samplers._botorch_mo import MultiObjectiveBoTorchSampler
from lightning_autotune.samplers._cmaes import CmaEsSampler
from lightning_autotune.samplers._cmaes_state import RestartStrategy
from lightning_autotune.samplers._evolutionary import EvolutionarySampler
from lightning_autotune.samplers._multifidelity import MultiFidelitySampler
from lightning_autotune.samplers._nsga2 import NSGA2Sampler
from lightning_autotune.samplers._random import RandomSampler, SobolSampler
from lightning_autotune.samplers._transfer import TransferSampler, WarmStartMode
from lightning_autotune.samplers._transfer_map import WarmSource

__all__ = [
    "BatchPolicy",
    "BoTorchSampler",
    "CmaEsSampler",
    "EvolutionarySampler",
    "MultiFidelitySampler",
    "MultiObjectiveBoTorchSampler",
    "NSGA2Sampler",
    "RandomSampler",
    "RestartStrategy",
    "Sampler",
    "SamplerWarning",
    "SobolSampler",
    "TransferSampler",
    "WarmSource",
    "WarmStartMode",
]
