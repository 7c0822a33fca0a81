"""`lightning-autotune dashboard --storage URL [--host H] [--port P] [--token T]`."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_dashboard_parser", "run_dashboard"]


def add_dashboard_parser(sub: Any) -> None:
    """Register the `dashboard` subcommand on the CLI's subparsers."""
    parser = sub.add_parser(
        "dashboard",
        help="serve a live, read-only dashboard of a store's studies in the browser",
    )
    parser.add_argument("--storage", required=True, help="e.g. sqlite:///autotune.db")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument(
        "--token",
        default=None,
        help="secret every request must carry; required with a non-loopback --host "
        "(default: $LIGHTNING_AUTOTUNE_DASHBOARD_TOKEN)",
    )
    parser.set_defaults(run=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from lightning_autotune.dashboard import serve

    serve(args.storage, host=args.host, port=args.port, token=args.token, block=True)
    return 0
