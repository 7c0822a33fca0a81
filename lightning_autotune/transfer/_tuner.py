"""`set_pretrained`, the article's call, for `HyperTuner` (kept here beside the rules it checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from lightning_autotune.transfer._pretrained import Pretrained
from lightning_autotune.transfer._weights import Weights

__all__ = ["PretrainedMixin"]


class PretrainedMixin:
    """Gives a tuner `set_pretrained(weights, transfer_rules)` and the `pretrained` it sets."""

    pretrained: Pretrained | None = None

    def set_pretrained(
        self, weights: Weights, transfer_rules: Mapping[str, Any] | None = None
    ) -> Self:
        """Start every trial from pretrained `weights` under per-layer `transfer_rules`.

        Args:
            weights: A state dict (e.g. `torch.load('resnet50_pretrained.pth')`), an
                `nn.Module`, or a path, read with `torch.load(weights_only=True)`. Names of the
                model class's own tensors (`conv1.weight`) match the tuner's wrapped model.
            transfer_rules: `{pattern: {'method': ..., 'lr_multiplier': ..., 'unfreeze_at':
                ...}}`, first match wins (see docs/transfer.md); patterns name the model
                class's tensors. The search space may tune them with
                `transfer_lr_multiplier_<i>` and `transfer_unfreeze_at_<i>`.

        Returns:
            The tuner, for chaining.

        Raises:
            TransferError: Bad weights or rules, before any trial runs.

        Example:
            >>> # tuner.set_pretrained(weights=torch.load(path), transfer_rules={
            >>> #     'conv*.weight': {'method': 'copy'},
            >>> #     'fc*.weight': {'method': 'fine_tune', 'lr_multiplier': 0.1}})
        """
        self.pretrained = Pretrained.of(weights, transfer_rules)
        return self
