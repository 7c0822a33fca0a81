"""Pretrained weights and per-layer transfer rules (copy, fine_tune, freeze, reinit, skip).

Pure functions over a module and a state dict; `callbacks.PretrainedTransfer` applies them to
a Lightning run.
"""

from lightning_autotune.transfer._errors import TransferError
from lightning_autotune.transfer._plan import (
    Assignment,
    TransferPlan,
    apply_transfer,
    plan_transfer,
)
from lightning_autotune.transfer._pretrained import Pretrained
from lightning_autotune.transfer._rules import (
    DEFAULT_RULE,
    Method,
    RuleSet,
    TransferRule,
    parse_rules,
)
from lightning_autotune.transfer._search import (
    is_transfer_param,
    rules_from_params,
    transfer_space,
)
from lightning_autotune.transfer._tuner import PretrainedMixin
from lightning_autotune.transfer._weights import KeyMatch, load_weights, match_keys

__all__ = [
    "DEFAULT_RULE",
    "Assignment",
    "KeyMatch",
    "Method",
    "Pretrained",
    "PretrainedMixin",
    "RuleSet",
    "TransferError",
    "TransferPlan",
    "TransferRule",
    "apply_transfer",
    "is_transfer_param",
    "load_weights",
    "match_keys",
    "parse_rules",
    "plan_transfer",
    "rules_from_params",
    "transfer_space",
]
