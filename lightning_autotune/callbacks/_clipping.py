"""`AdaptiveGradientClipping`: clip gradients relative to the weights, or to their own history."""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from lightning_autotune._validation import check_int
from lightning_autotune.callbacks._common import log_value
from lightning_autotune.exceptions import ConfigError

__all__ = ["AdaptiveGradientClipping", "ClipMode"]


class ClipMode(str, enum.Enum):
    """How `AdaptiveGradientClipping` picks its threshold."""

    UNITWISE = "unitwise"
    """Per output unit: ||g|| <= clip_factor * max(||w||, eps) (AGC, Brock et al. 2021)."""
    PERCENTILE = "percentile"
    """Whole model: total gradient norm <= a percentile of the recent total norms."""


class AdaptiveGradientClipping(pl.Callback):
    """Clip gradients just before each optimizer step, with a threshold that adapts.

    The hook is `on_before_optimizer_step`, which Lightning calls after AMP has unscaled the
    gradients and (under DDP) after they were averaged across ranks, so every rank clips the
    same numbers. Unit-wise mode treats each row of a weight matrix (each output channel of a
    convolution, a whole bias vector) as a unit. Percentile mode keeps the last `window`
    finite total norms (saved in checkpoints) and clips to their `percentile`-th value once
    `min_history` norms are known. Logged at each epoch end: the mean `agc_clipped_fraction` of
    units over steps sampled every `log_every_n_steps` (unit-wise), or the mean `agc_threshold`
    and pre-clip `grad_norm` over all steps (percentile).

    Args:
        clip_factor: Unit-wise bound relative to the weight norm (> 0; 0.01 to 0.16 is typical).
        mode: 'unitwise' or 'percentile' (a `ClipMode`).
        percentile: Percentile of the history used as threshold, in (0, 100].
        window: Number of recent norms kept (>= 1).
        min_history: Steps observed before percentile clipping starts (1..window).
        eps: Lower bound on a weight norm, so zero-initialized units can still move.
        exclude: Parameter-name prefixes left unclipped (the paper leaves the final classifier
            layer alone, e.g. `["head."]`).

    Raises:
        ConfigError: Bad arguments; at `setup`, a Trainer with `gradient_clip_val` set.

    Example:
        >>> cb = AdaptiveGradientClipping(clip_factor=0.02, exclude=["head."])
    """

    def __init__(
        self,
        clip_factor: float = 0.01,
        *,
        mode: ClipMode | str = ClipMode.UNITWISE,
        percentile: float = 90.0,
        window: int = 100,
        min_history: int = 10,
        eps: float = 1e-3,
        exclude: Sequence[str] = (),
    ) -> None:
        try:
            self.mode = ClipMode(mode)
        except ValueError:
            raise ConfigError(
                f"AdaptiveGradientClipping.mode must be 'unitwise' or 'percentile', got {mode!r}"
            ) from None
        if not (isinstance(clip_factor, (int, float)) and 0 < clip_factor < math.inf):
            raise ConfigError(
                f"AdaptiveGradientClipping.clip_factor must be a finite number > 0, got "
                f"{clip_factor!r}"
            )
        if not (isinstance(percentile, (int, float)) and 0 < percentile <= 100):
            raise ConfigError(
                f"AdaptiveGradientClipping.percentile must be in (0, 100], got {percentile!r}"
            )
        check_int(window, "AdaptiveGradientClipping.window")
        check_int(min_history, "AdaptiveGradientClipping.min_history")
        if min_history > window:
            raise ConfigError(
                f"AdaptiveGradientClipping.min_history={min_history} exceeds window={window}; "
                "lower min_history or widen the window"
            )
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ConfigError(f"AdaptiveGradientClipping.eps must be > 0, got {eps!r}")
        if isinstance(exclude, str):
            raise ConfigError(
                f"AdaptiveGradientClipping.exclude must be a list of prefixes, got {exclude!r}; "
                f"write exclude=[{exclude!r}]"
            )
        self.clip_factor = float(clip_factor)
        self.percentile = float(percentile)
        self.window = window
        self.min_history = min_history
        self.eps = float(eps)
        self.exclude = tuple(exclude)
        self.history: deque[float] = deque(maxlen=window)
        self._skip: set[int] = set()
        self._epoch_stats: dict[str, list[float]] = {}

    @property
    def state_key(self) -> str:
        return self._generate_state_key(mode=self.mode.value, clip_factor=self.clip_factor)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if trainer.gradient_clip_val:
            raise ConfigError(
                f"AdaptiveGradientClipping cannot run together with "
                f"Trainer(gradient_clip_val={trainer.gradient_clip_val}), which would clip the "
                "same gradients a second time; remove gradient_clip_val from the Trainer (or "
                "remove this callback)"
            )
        self._skip = {
            id(p)
            for name, p in pl_module.named_parameters()
            if any(name.startswith(prefix) for prefix in self.exclude)
        }

    def threshold(self) -> float | None:
        """Percentile mode: the current clipping threshold, or None while warming up."""
        if len(self.history) < self.min_history:
            return None
        return float(np.percentile(np.fromiter(self.history, float), self.percentile))

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        grads = [
            (p, p.grad)
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None and id(p) not in self._skip
        ]
        if not grads:
            return
        # Statistics for the log are sampled every `log_every_n_steps` steps, so the common
        # step does only the clipping itself.
        every = max(1, int(getattr(trainer, "log_every_n_steps", 50)))
        sample = trainer.global_step % every == 0
        with torch.no_grad():
            if self.mode is ClipMode.UNITWISE:
                self._clip_unitwise(grads, sample)
            else:
                self._clip_percentile([g for _, g in grads])

    def _clip_unitwise(self, grads: list[tuple[torch.Tensor, torch.Tensor]], sample: bool) -> None:
        clipped = 0.0
        units = 0
        for p, g in grads:
            dims = tuple(range(1, p.ndim)) if p.ndim > 1 else None
            bound = torch.linalg.vector_norm(_fp32(p.detach()), dim=dims, keepdim=True)
            bound = bound.clamp_min_(self.eps).mul_(self.clip_factor)
            g_norm = torch.linalg.vector_norm(_fp32(g), dim=dims, keepdim=True).clamp_min_(1e-12)
            scale = bound.div_(g_norm).clamp_(max=1.0)
            g.mul_(scale if scale.dtype == g.dtype else scale.to(g.dtype))
            if sample:
                clipped += float((scale < 1.0).sum())
                units += scale.numel()
        if sample:
            self._epoch_stats.setdefault("agc_clipped_fraction", []).append(clipped / units)

    def _clip_percentile(self, grads: list[torch.Tensor]) -> None:
        norms = torch.stack([torch.linalg.vector_norm(_fp32(g)) for g in grads])
        total = float(torch.linalg.vector_norm(norms))
        limit = self.threshold()
        if limit is not None and total > limit:
            coef = limit / (total + 1e-12)
            for g in grads:
                g.mul_(coef)
        if math.isfinite(total):
            self.history.append(total)
            self._epoch_stats.setdefault("grad_norm", []).append(total)
        if limit is not None:
            self._epoch_stats.setdefault("agc_threshold", []).append(limit)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for name, values in self._epoch_stats.items():
            if values:
                log_value(pl_module, name, sum(values) / len(values))
        self._epoch_stats = {}

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = deque(state_dict["history"], maxlen=self.window)


def _fp32(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype in (torch.float32, torch.float64) else t.float()
