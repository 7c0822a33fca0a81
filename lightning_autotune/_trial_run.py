"""Pieces of one Lightning trial run that `LightningObjective` puts together."""

from __future__ import annotations

import functools
import logging
import shutil
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    from lightning_autotune.trial import Trial

__all__ = [
    "BuiltTrial",
    "TrialBuilder",
    "cut_by_time",
    "quiet_lightning",
    "remove_checkpoints",
    "unpack_built",
]

# The loggers that print Lightning's banners ("GPU available", tips, "`Trainer.fit` stopped").
_LIGHTNING_LOGGERS = (
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
)


@dataclass(frozen=True)
class BuiltTrial:
    """What `build(params)` may return when the trial needs its own `Trainer` arguments.

    Attributes:
        module: The `LightningModule` to train.
        data: Keyword arguments of `Trainer.fit` besides the model, e.g. `{'datamodule': dm}`.
        trainer_kwargs: The trial's complete `Trainer` arguments (None: the objective's).
        trainer_class: The `Trainer` class to build (a subclass of Lightning's `Trainer`).
    """

    module: Any
    data: Mapping[str, Any] = field(default_factory=dict)
    trainer_kwargs: Mapping[str, Any] | None = None
    trainer_class: Any = None

    def __post_init__(self) -> None:
        if self.trainer_class is None:
            import lightning.pytorch as pl

            object.__setattr__(self, "trainer_class", pl.Trainer)


class TrialBuilder(ABC):
    """A `build` that needs the trial itself (its number, its study), not only its params."""

    @abstractmethod
    def build_trial(self, trial: Trial) -> Any:
        """Return what a `build(params)` returns (see `LightningObjective`) for `trial`."""


def unpack_built(built: Any) -> BuiltTrial:
    """Normalize what `build(params)` returned.

    Raises:
        ConfigError: It is not a module, `(module, datamodule)`, `(module, train, val)` or a
            `BuiltTrial`.
    """
    import lightning.pytorch as pl

    if isinstance(built, BuiltTrial):
        return built
    if isinstance(built, pl.LightningModule):
        return BuiltTrial(built)
    if isinstance(built, tuple) and built and isinstance(built[0], pl.LightningModule):
        if len(built) == 2 and isinstance(built[1], pl.LightningDataModule):
            return BuiltTrial(built[0], {"datamodule": built[1]})
        if len(built) == 3:
            return BuiltTrial(
                built[0], {"train_dataloaders": built[1], "val_dataloaders": built[2]}
            )
    raise ConfigError(
        "build(params) must return a LightningModule, (module, datamodule) or "
        f"(module, train_loader, val_loader); got {type(built).__name__}"
        + (f" of {[type(b).__name__ for b in built]}" if isinstance(built, tuple) else "")
    )


@contextmanager
def quiet_lightning(quiet: bool = True) -> Iterator[None]:
    """Hold Lightning's info messages and seed notices back while a trial runs.

    Other warnings still show.
    """
    if not quiet:
        yield
        return
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    _ignore_seed_notices()
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@functools.cache
def _ignore_seed_notices() -> None:
    # LightningCLI seeds every trial it builds and warns when no seed is given. Installed once
    # for the process: a scoped `catch_warnings` would reset Python's once-per-place registry
    # on exit, so every other warning would repeat in every trial.
    warnings.filterwarnings("ignore", message="No seed found, seed set to")


def cut_by_time(trainer: Any) -> bool:
    """Whether `max_time` stopped `trainer` before its epochs or steps were done."""
    from lightning.pytorch.callbacks import Timer

    timer = next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)
    if timer is None or (timer.time_remaining("train") or 0.0) > 0:
        return False
    max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
    if max_epochs is not None and max_epochs >= 0 and trainer.current_epoch >= max_epochs:
        return False
    return not (max_steps is not None and max_steps > 0 and trainer.global_step >= max_steps)


def remove_checkpoints(trainer: Any, ckpt_dir: Path | None) -> None:
    """Delete the folders of the trial's `ModelCheckpoint`s that lie in its own run folders."""
    roots = [Path(trainer.default_root_dir).resolve()]
    if ckpt_dir is not None:
        roots.append(Path(ckpt_dir).resolve())
    for cb in getattr(trainer, "checkpoint_callbacks", []):
        dirpath = getattr(cb, "dirpath", None)
        if not dirpath:
            continue
        path = Path(dirpath).resolve()
        if path.is_dir() and any(path == r or r in path.parents for r in roots):
            shutil.rmtree(path, ignore_errors=True)
