"""`Pretrained`: the weights and rules every trial of a study starts from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from lightning_autotune.transfer._rules import RuleSet, parse_rules
from lightning_autotune.transfer._search import rules_from_params
from lightning_autotune.transfer._weights import Weights, load_weights

__all__ = ["Pretrained"]


@dataclass(frozen=True)
class Pretrained:
    """Pretrained weights (loaded once) and transfer rules, for every trial of a study.

    Build it with `Pretrained.of(weights, rules)`, which loads and checks both before the first
    trial. Each trial runs a `callbacks.PretrainedTransfer(weights, rules_for(params))`, whose
    rules take the trial's `transfer_lr_multiplier_<i>` and `transfer_unfreeze_at_<i>` values.
    It pickles (plain tensors and frozen rules), so trial processes receive it.

    Attributes:
        weights: The tensors by name.
        rules: The checked rules.
    """

    weights: Mapping[str, torch.Tensor]
    rules: RuleSet

    @classmethod
    def of(cls, weights: Weights, rules: Mapping[str, Any] | RuleSet | None = None) -> Pretrained:
        """Load `weights` and check `rules` (see `load_weights` and `parse_rules`).

        Raises:
            TransferError: Bad weights or rules.

        Example:
            >>> p = Pretrained.of(torch.nn.Linear(2, 1), {"weight": "freeze"})
            >>> sorted(p.weights)
            ['bias', 'weight']
        """
        return cls(load_weights(weights), parse_rules(rules))

    def describe(self) -> str:
        """A short phrase for logs, e.g. '6 tensors, rules for conv*.weight, fc*.weight'."""
        patterns = ", ".join(p for p, _ in self.rules.rules) or "none"
        return f"{len(self.weights)} tensors, rules for {patterns}"

    def rules_for(self, params: Mapping[str, Any]) -> RuleSet:
        """The rules of a trial: `rules` with the trial's transfer parameters applied."""
        return rules_from_params(self.rules, params)
