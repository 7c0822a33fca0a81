"""Command line: `lightning-autotune sweep --config cfg.yaml`, `lightning-autotune studies ...`,
`lightning-autotune kb ...`, and `AutoTuneCLI` for scripts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightning_autotune.cli._autotune_cli import AutoTuneCLI
from lightning_autotune.cli._errors import ExitCode, cli_errors, debug_from_env, flush_stdout
from lightning_autotune.cli._kb import add_kb_parser
from lightning_autotune.cli._studies import add_studies_parser, run_studies
from lightning_autotune.cli._sweep import SweepConfig, run_sweep
from lightning_autotune.cli._worker import add_worker_parser, run_worker
from lightning_autotune.dashboard._cli import add_dashboard_parser
from lightning_autotune.exceptions import ConfigError

__all__ = ["AutoTuneCLI", "SweepConfig", "cli_errors", "main", "run_sweep", "run_worker"]

_DEBUG_HELP = "on an error, print the full traceback as well as the message"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lightning-autotune` command; returns its exit code.

    An error prints `error: <message>` on stderr and exits 2 when the command or its config is
    wrong, 1 otherwise; `--debug` adds the traceback. Ctrl-C exits 130 with a line that says how
    to resume.
    """
    args = _parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or debug_from_env()
    try:
        with cli_errors(debug=debug):
            code = _run(args)
            flush_stdout()
    except SystemExit as stop:
        return _exit_code(stop)
    return code


def _parser() -> argparse.ArgumentParser:
    from lightning_autotune import __version__

    parser = argparse.ArgumentParser(prog="lightning-autotune")
    parser.add_argument("--version", action="version", version=f"lightning-autotune {__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="run the sweep in a LightningCLI YAML's autotune: section")
    sweep.add_argument("--config", required=True, help="LightningCLI YAML with class_path entries")
    add_worker_parser(sub)
    add_studies_parser(sub)
    add_kb_parser(sub)
    add_dashboard_parser(sub)
    for command in sub.choices.values():
        # Also accepted after the command (`sweep --config x.yaml --debug`); SUPPRESS keeps a
        # `--debug` given before the command.
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
    return parser


def _run(args: argparse.Namespace) -> int:
    if hasattr(args, "run"):
        return int(args.run(args))
    if args.command == "studies":
        return run_studies(args)
    if args.command == "sweep":
        study = AutoTuneCLI(args=["--config", args.config]).study
        if study is None:
            raise ConfigError(
                f"{args.config}: the sweep ran no study; give it an autotune: section"
            )
        best = study.best_trial
        values = list(best.values or ())
        value = values[0] if len(values) == 1 else values
        print(f"best trial {best.number}: value {value} params {dict(best.params)}")
    return ExitCode.OK


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None or isinstance(stop.code, int):
        return int(stop.code or 0)
    print(stop.code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    return ExitCode.FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
