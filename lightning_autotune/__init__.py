"""lightning_autotune: Bayesian hyperparameter optimization for PyTorch Lightning.

Importing the package is cheap: heavy modules (torch, Lightning, BoTorch) load on first use of a
name that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS = {
    "SearchSpace": "lightning_autotune.space",
    "Float": "lightning_autotune.space",
    "Int": "lightning_autotune.space",
    "Categorical": "lightning_autotune.space",
    "Conditional": "lightning_autotune.space",
    "Trial": "lightning_autotune.trial",
    "TrialRecord": "lightning_autotune.trial",
    "TrialState": "lightning_autotune.trial",
    "FailureKind": "lightning_autotune.trial",
    "StudyInterrupted": "lightning_autotune.exceptions",
    "Direction": "lightning_autotune.trial",
    "Study": "lightning_autotune.study",
    "create_study": "lightning_autotune.study",
    "load_study": "lightning_autotune.study",
    "BoTorchSampler": "lightning_autotune.samplers",
    "RandomSampler": "lightning_autotune.samplers",
    "SobolSampler": "lightning_autotune.samplers",
    "MedianPruner": "lightning_autotune.pruners",
    "NopPruner": "lightning_autotune.pruners",
    "InMemoryStorage": "lightning_autotune.storage",
    "AutoTuneCallback": "lightning_autotune.callbacks",
    "fit": "lightning_autotune._fit",
    "HyperTuner": "lightning_autotune._hypertuner",
    "LightningObjective": "lightning_autotune.objective",
    "BuiltTrial": "lightning_autotune.objective",
    "make_sampler": "lightning_autotune.registry",
    "make_pruner": "lightning_autotune.registry",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lightning_autotune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from lightning_autotune._fit import fit
    from lightning_autotune._hypertuner import HyperTuner
    from lightning_autotune.callbacks import AutoTuneCallback
    from lightning_autotune.exceptions import StudyInterrupted
    from lightning_autotune.objective import BuiltTrial, LightningObjective
    from lightning_autotune.pruners import MedianPruner, NopPruner
    from lightning_autotune.registry import make_pruner, make_sampler
    from lightning_autotune.samplers import BoTorchSampler, RandomSampler, SobolSampler
    from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace
    from lightning_autotune.storage import InMemoryStorage
    from lightning_autotune.study import Study, create_study, load_study
    from lightning_autotune.trial import Direction, FailureKind, Trial, TrialRecord, TrialState
