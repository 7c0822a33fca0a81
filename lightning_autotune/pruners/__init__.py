"""Pruners: when to stop a trial. Pure decisions over `TrialRecord` snapshots."""

from lightning_autotune.pruners._base import NopPruner, Pruner
from lightning_autotune.pruners._median import MedianPruner

__all__ = ["MedianPruner", "NopPruner", "Pruner"]
