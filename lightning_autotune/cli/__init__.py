"""Command line: `lightning-autotune sweep --config cfg.yaml`, `lightning-autotune studies ...`,
and `AutoTuneCLI` for scripts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightning_autotune.cli._autotune_cli import AutoTuneCLI
from lightning_autotune.cli._studies import add_studies_parser, run_studies
from lightning_autotune.cli._sweep import SweepConfig, run_sweep
from lightning_autotune.cli._worker import add_worker_parser, run_worker
from lightning_autotune.dashboard._cli import add_dashboard_parser

__all__ = ["AutoTuneCLI", "SweepConfig", "main", "run_sweep", "run_worker"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lightning-autotune` command."""
    parser = argparse.ArgumentParser(prog="lightning-autotune")
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="run the sweep in a LightningCLI YAML's autotune: section")
    sweep.add_argument("--config", required=True, help="LightningCLI YAML with class_path entries")
    add_worker_parser(sub)
    add_studies_parser(sub)
    add_dashboard_parser(sub)
    args = parser.parse_args(argv)
    if hasattr(args, "run"):
        return int(args.run(args))
    if args.command == "studies":
        return run_studies(args)
    if args.command == "sweep":
        cli = AutoTuneCLI(args=["--config", args.config])
        best = cli.study.best_trial
        print(f"best trial {best.number}: value {best.values} params {dict(best.params)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
