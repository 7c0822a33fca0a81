"""Loading pretrained weights safely, and lining their names up with a model's."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lightning_autotune.transfer._errors import TransferError

__all__ = ["KeyMatch", "Weights", "load_weights", "match_keys"]

Weights = Mapping[str, torch.Tensor] | str | os.PathLike[str] | nn.Module

# Wrappers that hold the same weights under another name: DDP's `module.`, a LightningModule
# attribute `model.`, and both nested.
_PREFIXES = ("module.", "model.", "module.model.", "model.module.")


def load_weights(weights: Weights) -> dict[str, torch.Tensor]:
    """Return the tensors of `weights` by name, on the CPU.

    Args:
        weights: A state dict, an `nn.Module` (its `state_dict()`), or the path of a `torch.save`
            file or a Lightning checkpoint (whose `state_dict` entry is used). Files are read with
            `torch.load(weights_only=True)`: plain tensors and containers only, never arbitrary
            pickled objects.

    Raises:
        TransferError: A missing file, a file that needs unpickling of arbitrary objects, or
            content that holds no tensors.

    Example:
        >>> sd = load_weights(torch.nn.Linear(2, 1))
        >>> sorted(sd)
        ['bias', 'weight']
    """
    if isinstance(weights, nn.Module):
        return {k: v.detach() for k, v in weights.state_dict().items()}
    if isinstance(weights, (str, os.PathLike)):
        return _tensors(_load_file(Path(weights)), f"file {os.fspath(weights)!r}")
    if isinstance(weights, Mapping):
        return _tensors(weights, "the weights mapping")
    raise TransferError(
        f"weights must be a state dict, an nn.Module or a path, got {type(weights).__name__}"
    )


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise TransferError(
            f"weights: no file at {str(path)!r}; pass the path of a torch.save file"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise TransferError(
            f"weights: {str(path)!r} was refused because loading it would unpickle arbitrary "
            "Python objects, which can run code; weights are loaded with "
            "torch.load(weights_only=True) only. Save plain tensors instead, e.g. "
            f"torch.save(model.state_dict(), path) (torch said: {str(err).splitlines()[0]})"
        ) from err


def _tensors(content: Any, where: str) -> dict[str, torch.Tensor]:
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]  # a Lightning checkpoint
    if not isinstance(content, Mapping):
        raise TransferError(
            f"weights: {where} holds a {type(content).__name__}, not a state dict; save "
            "model.state_dict()"
        )
    out = {str(k): v.detach().cpu() for k, v in content.items() if isinstance(v, torch.Tensor)}
    if not out:
        raise TransferError(f"weights: {where} holds no tensors")
    return out


@dataclass(frozen=True)
class KeyMatch:
    """How the weights' names were lined up with the model's.

    Attributes:
        strip: Prefix removed from every weights name ('' when none).
        add: Prefix added to every weights name ('' when none).
        matched: Names found on both sides after the change.
    """

    strip: str
    add: str
    matched: int

    def rename(self, key: str) -> str | None:
        """The model name of weights name `key`, or None if `key` lacks the stripped prefix."""
        if not key.startswith(self.strip):
            return None
        return self.add + key[len(self.strip) :]

    def describe(self) -> str:
        """One phrase for reports, e.g. "stripped 'module.' from the weights' names"."""
        if self.strip:
            return f"stripped {self.strip!r} from the weights' names"
        if self.add:
            return f"added {self.add!r} to the weights' names"
        return "names matched as they are"


def match_keys(model_keys: set[str], weight_keys: set[str]) -> KeyMatch:
    """Choose the prefix change that lines up the most names (none wins a tie).

    Example:
        >>> match_keys({"fc.weight"}, {"module.fc.weight"}).describe()
        "stripped 'module.' from the weights' names"
    """
    best = KeyMatch("", "", len(model_keys & weight_keys))
    for prefix in _PREFIXES:
        for strip, add in ((prefix, ""), ("", prefix)):
            candidate = KeyMatch(strip, add, 0)
            renamed = {candidate.rename(k) for k in weight_keys}
            n = len(model_keys & renamed)
            if n > best.matched:
                best = KeyMatch(strip, add, n)
    return best
