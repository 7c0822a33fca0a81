"""Peers whose pins conflict with ours (Ax, HEBO, SMAC3), run in their own virtual environment.

`run_external` starts `python -m benchmarks._peer_runner` under the peers' interpreter (the
`AUTOTUNE_PEERS_PYTHON` environment variable, default `/work/venv-peers/bin/python`), once per
peer and problem for all seeds, so each library is imported once. A peer that cannot be started,
imported or run comes back as an `ExternalRun` with its error, which the table prints as
"not installed: <error>" (or "failed: <error>") in place of numbers: it is never dropped.

Build that environment with `benchmarks/peers-venv.sh` (it records the versions that ran).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EXTERNAL", "ExternalRun", "peers_python", "run_external"]

EXTERNAL = ("ax", "hebo", "smac_hpo", "smac_bb", "ax_q4", "hebo_q4", "ax_async4")
"""The peers run in the other environment: `_q4` asks for 4 configurations at a time, `_async4`
keeps 4 workers busy, each refilled when its trial ends (HEBO has no pending points, so no
asynchronous mode)."""

_DEFAULT_PYTHON = "/work/venv-peers/bin/python"
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ExternalRun:
    """What one peer did on one problem: a trace per seed, or why there is none."""

    traces: list[list[float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    """"not installed: ..." (the environment or the library is missing) or "failed: ..."."""


def peers_python() -> str:
    """The interpreter of the peers' environment."""
    return os.environ.get("AUTOTUNE_PEERS_PYTHON", _DEFAULT_PYTHON)


def run_external(
    peer: str,
    problem: str,
    budget: int,
    seeds: list[int],
    n_init: int,
    timeout_s: float | None = None,
) -> ExternalRun:
    """Run `peer` on `problem` for every seed in a subprocess (errors are returned, not raised)."""
    python = peers_python()
    if not Path(python).is_file():
        return ExternalRun(error=f"not installed: no interpreter at {python} (see _external.py)")
    request = {
        "peer": peer,
        "problem": problem,
        "budget": budget,
        "seeds": seeds,
        "n_init": n_init,
    }
    env = {**os.environ, "PYTHONPATH": str(_ROOT), "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [python, "-m", "benchmarks._peer_runner"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=_ROOT,
            env=env,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ExternalRun(error=f"failed: over the {timeout_s:.0f} s limit")
    sys.stderr.write(done.stderr[-2000:] if done.returncode else "")
    if done.returncode:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        kind = (
            "not installed" if "ModuleNotFoundError" in last or "ImportError" in last else "failed"
        )
        return ExternalRun(error=f"{kind}: {last[:200]}")
    return _answer(done.stdout)


def _answer(stdout: str) -> ExternalRun:
    """The runner's answer: the last line of its output (anything printed before is skipped)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1])
        return ExternalRun(answer["traces"], answer["seconds"], answer["versions"])
    except (IndexError, json.JSONDecodeError, KeyError, TypeError):
        return ExternalRun(error=f"failed: the runner's answer is not JSON: {stdout[-200:]!r}")
