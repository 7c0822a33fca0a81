"""Per-trial Lightning loggers: each trial writes into its own folder with its hyperparameters.

The user's `CSVLogger` / `TensorBoardLogger` are cloned for every trial with the same `save_dir`
and `name` and a version folder `<study>_trial_<number>`, so all trials of a study sit side by
side and TensorBoard's HPARAMS tab compares them (the final objective is logged as
`hp_metric`). Other loggers (W&B, MLflow, ...) are passed through unchanged and only get the
trial's hyperparameters logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_autotune.exceptions import ConfigError

__all__ = ["log_trial_result", "trial_loggers"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def trial_loggers(
    logger: Any,
    number: int,
    params: Mapping[str, Any],
    *,
    study_name: str | None = None,
    save_dir: str | Path = "autotune_logs",
) -> list[Any] | bool:
    """Loggers for one trial, derived from what the user would pass as `Trainer(logger=...)`.

    Args:
        logger: `False` (no logging), `None` / `True` (a new `CSVLogger`, or a
            `TensorBoardLogger` when tensorboard is installed, in `save_dir`), one Lightning
            `Logger`, or a list of them.
        number: The trial's number (names its folder).
        params: The trial's hyperparameters (logged once, with `trial_number`).
        study_name: Prefix of the version folder, so several studies can share a `save_dir`.
        save_dir: Root folder for the default logger.

    Returns:
        `False` when logging is off, else a list of loggers for `Trainer(logger=...)`.

    Raises:
        ConfigError: `logger` is not a Lightning logger, a list of them, a bool or None.

    Example:
        >>> loggers = trial_loggers(CSVLogger("logs"), trial.number, trial.params)  # doctest: +SKIP
        >>> trainer = Trainer(logger=loggers, max_epochs=3)  # doctest: +SKIP
    """
    if logger is False:
        return False
    from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

    version = f"trial_{number:04d}"
    if study_name:
        version = f"{_SAFE.sub('_', study_name).strip('_') or 'study'}_{version}"
    if logger is None or logger is True:
        logger = _default_logger(save_dir)
    given: Sequence[Any] = logger if isinstance(logger, (list, tuple)) else [logger]
    out: list[Any] = []
    for item in given:
        if not isinstance(item, Logger):
            raise ConfigError(
                f"logger must be a Lightning Logger (CSVLogger, TensorBoardLogger, ...), a list of "
                f"them, True/None (default) or False, got {type(item).__name__}"
            )
        if isinstance(item, TensorBoardLogger):
            clone: Any = TensorBoardLogger(item.save_dir, name=item.name, version=version)
        elif isinstance(item, CSVLogger):
            clone = CSVLogger(item.save_dir, name=item.name, version=version)
        else:
            clone = item  # Can't be cloned safely: it keeps its own run handling.
        clone.log_hyperparams({**_flat(params), "trial_number": number})
        out.append(clone)
    return out


def log_trial_result(loggers: list[Any] | bool, value: float | None, step: int = 0) -> None:
    """Log a trial's final objective as `hp_metric` (what TensorBoard's HPARAMS tab shows).

    Args:
        loggers: What `trial_loggers` returned.
        value: The final objective value (None: nothing is logged, e.g. a failed trial).
        step: The step to log it at (e.g. the trial's last step).
    """
    if loggers is False or loggers is True or value is None:
        return
    for logger in loggers:
        logger.log_metrics({"hp_metric": float(value)}, step=step)
        logger.save()


def _default_logger(save_dir: str | Path) -> Any:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    try:
        return TensorBoardLogger(save_dir, name="lightning_logs")
    except ModuleNotFoundError:  # Lightning's own fallback when tensorboard is missing.
        return CSVLogger(save_dir, name="lightning_logs")


def _flat(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in params.items()}
