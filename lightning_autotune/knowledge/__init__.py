"""The knowledge base: what earlier studies tuned and learned, for the next one.

Task descriptors (meta-features of a study's data and model, its objective, space, hardware,
package versions and tags) are stored with the studies; `KnowledgeBase` finds the earlier tasks
most like a new one and proposes a zero-shot portfolio from them; a warm start
(`create_study(..., warm_start=...)`) lets the `TransferSampler` learn from earlier studies
without counting their trials as the new study's. See docs/knowledge.md.
"""

from lightning_autotune.knowledge._base import KnowledgeBase, SimilarTask
from lightning_autotune.knowledge._descriptor import DataFeatures, ModelFeatures, TaskDescriptor
from lightning_autotune.knowledge._features import describe_data, describe_model
from lightning_autotune.knowledge._optuna import OptunaSource, export_to_optuna, import_optuna
from lightning_autotune.knowledge._record import (
    DescribingBuild,
    KnowledgeWarning,
    describe_build,
)
from lightning_autotune.knowledge._tuner import WarmStartMixin
from lightning_autotune.knowledge._warm import WARM_ATTR, rebuild_sampler, resolve_warm_start
from lightning_autotune.samplers._transfer import TransferSampler, WarmStartMode
from lightning_autotune.samplers._transfer_map import WarmSource

__all__ = [
    "WARM_ATTR",
    "DataFeatures",
    "DescribingBuild",
    "KnowledgeBase",
    "KnowledgeWarning",
    "ModelFeatures",
    "OptunaSource",
    "SimilarTask",
    "TaskDescriptor",
    "TransferSampler",
    "WarmSource",
    "WarmStartMixin",
    "WarmStartMode",
    "describe_build",
    "describe_data",
    "describe_model",
    "export_to_optuna",
    "import_optuna",
    "rebuild_sampler",
    "resolve_warm_start",
]
