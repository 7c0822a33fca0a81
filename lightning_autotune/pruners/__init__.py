"""Pruners: when to stop a trial. Pure decisions over `TrialRecord` snapshots.

Every pruner implements `prune(trial, history, direction) -> bool`, reads only the snapshots it
is given, keeps no state between calls and writes nothing to the store.
"""

from lightning_autotune.pruners._adaptive import AdaptiveThresholdPruner
from lightning_autotune.pruners._any import AnyPruner
from lightning_autotune.pruners._base import NopPruner, Pruner
from lightning_autotune.pruners._divergence import DivergencePruner
from lightning_autotune.pruners._halving import SuccessiveHalvingPruner, rung_steps
from lightning_autotune.pruners._hyperband import HyperbandPruner
from lightning_autotune.pruners._percentile import MedianPruner, PercentilePruner

__all__ = [
    "AdaptiveThresholdPruner",
    "AnyPruner",
    "DivergencePruner",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PercentilePruner",
    "Pruner",
    "SuccessiveHalvingPruner",
    "rung_steps",
]
