"""`AutoTuneCLI`: use in place of `LightningCLI` in a training script to run a sweep."""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lightning_autotune.cli._errors import cli_errors
from lightning_autotune.cli._sweep import run_sweep
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.study import Study

__all__ = ["AutoTuneCLI", "add_import_paths", "load_config"]


_SUBCOMMANDS = ("fit", "validate", "test", "predict")


class AutoTuneCLI:
    """Run the sweep described by the `autotune:` section of a LightningCLI YAML.

    In a script that has `LightningCLI(MyModel, MyDataModule)`, write
    `AutoTuneCLI(MyModel, MyDataModule)` instead and run `python train.py --config sweep.yaml`.
    Every trial is built with `LightningCLI(MyModel, MyDataModule, run=False, args=config)`.
    The script keeps LightningCLI's own commands: `python train.py fit --config best.yaml`
    (or `validate`, `test`, `predict`) runs `LightningCLI(MyModel, MyDataModule)` unchanged.
    The config's folder and the working directory are added to the import path, so a
    `class_path` may name a module that sits next to the config.

    Args:
        model_class: As for LightningCLI (None: any LightningModule given by `class_path`).
        datamodule_class: As for LightningCLI (None: any datamodule given by `class_path`).
        args: Command-line arguments (default `sys.argv[1:]`): `--config PATH [--debug]`, or a
            LightningCLI subcommand with its arguments. With the default, an error ends the
            script with one `error:` line (the traceback with `--debug`); with `args` given,
            errors are raised.
        **cli_kwargs: Passed to every `LightningCLI(...)` (e.g. `trainer_defaults`).

    Attributes:
        study: The finished study (None when a LightningCLI subcommand ran).
        cli: The `LightningCLI` that ran a subcommand (None for a sweep).

    Example:
        >>> # if __name__ == "__main__":
        >>> #     AutoTuneCLI(MyModel, MyData)   # sweep: --config sweep.yaml; or fit --config ...
    """

    def __init__(
        self,
        model_class: Any = None,
        datamodule_class: Any = None,
        *,
        args: Sequence[str] | None = None,
        **cli_kwargs: Any,
    ) -> None:
        argv = list(sys.argv[1:] if args is None else args)
        self.cli: Any = None
        self.study: Study | None = None
        if argv and argv[0] in _SUBCOMMANDS:
            from lightning.pytorch.cli import LightningCLI

            self.cli = LightningCLI(model_class, datamodule_class, args=argv, **cli_kwargs)
            return
        parser = argparse.ArgumentParser(
            description="Run a lightning_autotune sweep, or a LightningCLI subcommand "
            f"({', '.join(_SUBCOMMANDS)})."
        )
        parser.add_argument("--config", required=True, type=Path, help="LightningCLI YAML")
        parser.add_argument("--debug", action="store_true", help="print tracebacks on errors")
        ns = parser.parse_args(argv)
        self.config_path: Path = ns.config
        # From a shell (args=None) an error is one `error:` line and an exit code; called from
        # Python (args=[...]) it is raised as usual.
        with cli_errors(debug=ns.debug or None, enabled=args is None):
            self.study = self._sweep(model_class, datamodule_class, cli_kwargs)

    def _sweep(self, model_class: Any, datamodule_class: Any, cli_kwargs: dict[str, Any]) -> Study:
        config = load_config(self.config_path)
        add_import_paths(self.config_path.resolve().parent, Path.cwd())

        def make_cli(trial_config: dict[str, Any]) -> Any:
            _ignore_args_notice()
            from lightning.pytorch.cli import LightningCLI

            return LightningCLI(
                model_class,
                datamodule_class,
                run=False,
                args=trial_config,
                save_config_callback=None,
                parser_kwargs={"exit_on_error": False},
                subclass_mode_model=model_class is None,
                subclass_mode_data=datamodule_class is None,
                **cli_kwargs,
            )

        return run_sweep(config, make_cli, config_dir=self.config_path.parent)


@functools.cache
def _ignore_args_notice() -> None:
    # The sweep passes args= on purpose while sys.argv holds its own arguments. Installed once:
    # a scoped `catch_warnings` per trial would make every other warning repeat in every trial.
    warnings.filterwarnings("ignore", message=".*args parameter is intended.*")


def add_import_paths(*folders: Path) -> None:
    """Put `folders` at the front of `sys.path` (once), so `class_path` modules there import."""
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def load_config(path: Path) -> dict[str, Any]:
    """Read a YAML config file, with errors that name the file."""
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
    return config
