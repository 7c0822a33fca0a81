"""The error of the transfer package."""

from __future__ import annotations

from lightning_autotune.exceptions import ConfigError

__all__ = ["TransferError"]


class TransferError(ConfigError):
    """Pretrained weights or transfer rules that cannot be applied as written.

    Raised before training starts; nothing has been loaded into the model when it is raised.
    """
