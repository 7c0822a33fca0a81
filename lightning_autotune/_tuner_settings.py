"""`HyperTuner`'s run settings: early stopping and several workers, as a mixin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from lightning_autotune._tuner_support import PrunerSpec, parse_early_stopping
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.study import Executor

__all__ = ["RunSettingsMixin"]


class RunSettingsMixin:
    """How `HyperTuner.optimize` runs its trials: the pruner they report to, and where they run.

    Attributes:
        early_stopping: What `set_early_stopping` chose (the pruner and the monitor).
        executor: The executor `set_distributed` built (None: trials run in this process).
    """

    early_stopping: Any
    executor: Executor | None

    def set_early_stopping(
        self,
        pruner: PrunerSpec = True,
        *,
        monitor: str | CompositeMetric | None = None,
        **options: Any,
    ) -> Self:
        """Stop unpromising trials early (on by default, with `AdaptiveThresholdPruner`).

        The default compares a running trial with the incumbent's curve against a threshold
        that tightens as the study grows (docs/pruning.md; benchmark in docs/results.md).

        Args:
            pruner: True (the default pruner), False / None / 'none' (off), a name of
                `registry.PRUNERS` ('median', 'hyperband', ...) with its `options`, or a
                `Pruner`.
            monitor: What trials report while they run, which the pruner reads: a logged
                metric's name or a `CompositeMetric`, e.g. validation loss plus seconds per
                epoch (`metrics.SECONDS_PER_EPOCH`). A `CompositeMetric` is lower-is-better
                and needs direction='minimize'. Default: the tuner's metric when its direction
                is the tuner's, else `val_loss` when the tuner minimizes. The trial's value
                stays the tuner's metric (or objective).
            options: Options of the named pruner, e.g. `n_startup_trials=5`.

        Raises:
            ConfigError: An unknown pruner name (listing the known ones), options it does not
                take, or a bad monitor.

        Example:
            >>> from torch import nn
            >>> from lightning_autotune import HyperTuner
            >>> tuner = HyperTuner(nn.Linear, nn.MSELoss(), metric="loss")
            >>> _ = tuner.set_early_stopping("median", n_startup_trials=2).set_early_stopping(False)
        """
        self.early_stopping = parse_early_stopping(pruner, monitor, **options)
        return self

    def set_distributed(
        self,
        n_workers: int = 8,
        resource_type: str = "GPU",
        memory_limit: int | str | None = None,
        *,
        devices: Sequence[int | str] | None = None,
        threads_per_trial: int = 1,
    ) -> Self:
        """Run `n_workers` trials at once, each in its own process with one device.

        Needs a URL store (the default SQLite file is one). See `ProcessExecutor`.

        Args:
            n_workers: Trials at once.
            resource_type: 'GPU' (one GPU per trial, through CUDA_VISIBLE_DEVICES) or 'CPU'.
            memory_limit: Per trial, e.g. '16GB' or '512MB'; a trial that exceeds it ends
                FAILED with kind OOM and its configuration is not tried again.
            devices: GPU ids to use (default: all visible).
            threads_per_trial: CPU threads of each trial.

        Raises:
            ConfigError: A bad argument ('16 gigs'), or 'GPU' on a machine without a GPU.

        Example:
            >>> from torch import nn
            >>> from lightning_autotune import HyperTuner
            >>> tuner = HyperTuner(nn.Linear, nn.MSELoss(), metric="loss", direction="minimize")
            >>> _ = tuner.set_distributed(n_workers=2, resource_type="CPU", memory_limit="2GB")
        """
        from lightning_autotune.study import ProcessExecutor

        self.executor = ProcessExecutor(
            n_workers,
            resource_type,
            memory_limit,
            devices=devices,
            threads_per_trial=threads_per_trial,
        )
        return self
