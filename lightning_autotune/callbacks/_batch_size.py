"""`DynamicBatchSize`: change the training batch size on a schedule over epochs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.parsing import (
    lightning_getattr,
    lightning_hasattr,
    lightning_setattr,
)
from torch.utils.data import DataLoader

from lightning_autotune._validation import check_int
from lightning_autotune.callbacks._common import log_value, same_on_all_ranks
from lightning_autotune.callbacks._schedule import Piecewise
from lightning_autotune.exceptions import ConfigError

__all__ = ["DynamicBatchSize", "require_batch_size_attr", "set_batch_size"]

_LR_RULES = (None, "linear", "sqrt")


class DynamicBatchSize(pl.Callback):
    """Set the training batch size from a schedule; the loaders are rebuilt each epoch.

    The model (`self.batch_size` or `self.hparams.batch_size`) or the datamodule must hold the
    batch size that its `train_dataloader()` reads, and the Trainer must rebuild the loaders
    (`reload_dataloaders_every_n_epochs=1`). The size for epoch N is set as soon as the last
    training batch of epoch N-1 ends, so a checkpoint written at the end of epoch N-1 already
    holds it and a resumed run continues with the scheduled size. Under DDP the size is per
    process and rank 0's decision is broadcast. The size in use is logged as `batch_size`.

    Args:
        schedule: `{milestone: size}`; a milestone is an epoch (int) or a fraction of training
            (float in [0, 1), resolved with `max_epochs`). Before the first milestone the
            model's own batch size is used. With `relative=True` the values are factors of the
            model's own batch size (e.g. `{0.5: 2}` doubles it half-way).
        relative: Read the schedule's values as multipliers of the initial batch size.
        attr_name: Name of the batch-size attribute (default `batch_size`).
        lr_scaling: None, 'linear' (lr times new/old) or 'sqrt' (lr times sqrt(new/old)):
            scale every param group's learning rate (and the schedulers' base lrs) when the
            batch size changes.

    Raises:
        ConfigError: Bad schedule values or `lr_scaling`; at `setup`, a Trainer that does not
            reload its dataloaders or a model with no batch-size attribute.

    Example:
        >>> cb = DynamicBatchSize({0: 32, 0.5: 64}, lr_scaling="linear")
        >>> # Trainer(max_epochs=10, reload_dataloaders_every_n_epochs=1, callbacks=[cb])
    """

    def __init__(
        self,
        schedule: Mapping[int | float, int | float] | Piecewise,
        *,
        relative: bool = False,
        attr_name: str = "batch_size",
        lr_scaling: str | None = None,
    ) -> None:
        if isinstance(schedule, Mapping):
            schedule = Piecewise(schedule, name="DynamicBatchSize.schedule")
        if not isinstance(schedule, Piecewise):
            raise ConfigError(
                f"DynamicBatchSize.schedule must be a mapping {{milestone: size}} or a Piecewise, "
                f"got {type(schedule).__name__}; write e.g. {{0: 32, 0.5: 64}}"
            )
        for v in schedule.values():
            if relative and not v > 0:
                raise ConfigError(f"DynamicBatchSize.schedule: factors must be > 0, got {v}")
            if not relative and (v < 1 or v != int(v)):
                raise ConfigError(
                    f"DynamicBatchSize.schedule: sizes must be ints >= 1, got {v}; pass "
                    "relative=True to give factors of the model's batch size instead"
                )
        if lr_scaling not in _LR_RULES:
            raise ConfigError(
                f"DynamicBatchSize.lr_scaling must be None, 'linear' or 'sqrt', got {lr_scaling!r}"
            )
        if not isinstance(attr_name, str) or not attr_name.isidentifier():
            raise ConfigError(
                f"DynamicBatchSize.attr_name must be an identifier, got {attr_name!r}"
            )
        self.schedule = schedule
        self.relative = relative
        self.attr_name = attr_name
        self.lr_scaling = lr_scaling
        self._max_epochs: int | None = None
        self._base: int | None = None  # the model's own batch size
        self._applied: int | None = None  # size the loaders use now (or will at the next build)
        self._applied_epoch = -1  # the epoch `_applied` was chosen for
        self._restored = False

    @property
    def state_key(self) -> str:
        return self._generate_state_key(schedule=self.schedule.milestones, attr=self.attr_name)

    def size_for(self, epoch: int) -> int:
        """The batch size the schedule gives for `epoch` (after `setup`)."""
        assert self._base is not None, "size_for is available once the Trainer has called setup"
        v = self.schedule.value(epoch, self._max_epochs)
        if v is None:
            return self._base
        return max(1, round(self._base * v)) if self.relative else int(v)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        n = getattr(trainer, "reload_dataloaders_every_n_epochs", 0)
        if not n:
            raise ConfigError(
                "DynamicBatchSize needs the train dataloader rebuilt when the batch size changes, "
                "but the Trainer has reload_dataloaders_every_n_epochs=0; pass "
                "Trainer(reload_dataloaders_every_n_epochs=1)"
            )
        require_batch_size_attr(pl_module, self.attr_name, "DynamicBatchSize")
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        self._max_epochs = max_epochs
        for epoch, _ in self.schedule.resolved(max_epochs):
            if epoch % n:
                raise ConfigError(
                    f"DynamicBatchSize: the batch size changes at epoch {epoch}, but "
                    f"reload_dataloaders_every_n_epochs={n} rebuilds the loaders only every {n} "
                    "epochs; pass Trainer(reload_dataloaders_every_n_epochs=1)"
                )
        if self._base is None:
            base = lightning_getattr(pl_module, self.attr_name)
            self._base = check_int(base, f"DynamicBatchSize: {self.attr_name}")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Runs after a checkpoint's callback state is loaded and before the first loader is built.
        if self._restored and self._applied is not None:
            lightning_setattr(pl_module, self.attr_name, self._applied)
            return
        assert self._base is not None
        self._applied = self._base
        self._apply(trainer, pl_module, 0)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if batch_idx + 1 == trainer.num_training_batches:
            self._apply(trainer, pl_module, trainer.current_epoch + 1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._apply(trainer, pl_module, trainer.current_epoch + 1)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loader = trainer.train_dataloader
        if isinstance(loader, DataLoader) and loader.batch_size not in (None, self._applied):
            raise ConfigError(
                f"DynamicBatchSize set {self.attr_name}={self._applied}, but the train "
                f"DataLoader of epoch {trainer.current_epoch} has batch_size={loader.batch_size}; "
                f"build it in train_dataloader() with batch_size=self.{self.attr_name}"
            )
        if self._applied is not None:
            log_value(pl_module, "batch_size", float(self._applied))

    def _apply(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        if epoch <= self._applied_epoch or self._applied is None:
            return
        size = int(same_on_all_ranks(trainer, self.size_for(epoch)))
        old = self._applied
        self._applied_epoch = epoch
        if size == old:
            return
        set_batch_size(pl_module, size, self.attr_name)
        self._applied = size
        if self.lr_scaling is not None:
            ratio = size / old if self.lr_scaling == "linear" else math.sqrt(size / old)
            _scale_lr(trainer, ratio)

    def state_dict(self) -> dict[str, Any]:
        return {"base": self._base, "applied": self._applied, "applied_epoch": self._applied_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._base = state_dict["base"]
        self._applied = state_dict["applied"]
        self._applied_epoch = int(state_dict["applied_epoch"])
        self._restored = True


def require_batch_size_attr(pl_module: pl.LightningModule, attr_name: str, owner: str) -> None:
    """Check that the module, its hparams or its datamodule holds the batch size `attr_name`.

    Raises:
        ConfigError: None of them has it; the message names `owner`.
    """
    if not lightning_hasattr(pl_module, attr_name):
        raise ConfigError(
            f"{owner}: neither the LightningModule, its hparams nor the datamodule "
            f"has an attribute {attr_name!r}; store the batch size there and build the "
            f"train DataLoader from it in train_dataloader() (a DataLoader passed straight "
            "to trainer.fit cannot change its batch size)"
        )


def set_batch_size(pl_module: pl.LightningModule, size: int, attr_name: str = "batch_size") -> None:
    """Set the batch size the next `train_dataloader()` call reads (model, hparams or datamodule).

    The Trainer must rebuild its loaders (`reload_dataloaders_every_n_epochs`) to use it.
    """
    lightning_setattr(pl_module, attr_name, int(size))


def _scale_lr(trainer: pl.Trainer, ratio: float) -> None:
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * ratio
    for config in trainer.lr_scheduler_configs:
        base_lrs = getattr(config.scheduler, "base_lrs", None)
        if base_lrs is not None:
            config.scheduler.base_lrs = [lr * ratio for lr in base_lrs]
