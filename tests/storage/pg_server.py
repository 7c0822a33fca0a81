"""A PostgreSQL server of a test's own, which the test may stop and start again (fault tests).

Started by `.ci/postgres.sh` in a folder of its own, so stopping it disturbs no other test; the
server binaries must be installed (CI installs them; `.ci/postgres.sh` says how).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "postgres.sh"


@dataclass(frozen=True)
class PausablePostgres:
    """A running throwaway server: its URL, and `pause` / `resume` on the same data and port."""

    url: str
    folder: Path

    def _run(self, command: str) -> None:
        env = {**os.environ, "AUTOTUNE_PG_DIR": str(self.folder)}
        done = subprocess.run(
            ["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"postgres.sh {command} failed:\n{done.stderr[-2000:]}")

    def pause(self) -> None:
        """Stop the server (fast shutdown: open connections are dropped)."""
        self._run("pause")

    def resume(self) -> None:
        """Start the server again; returns once it accepts connections."""
        self._run("resume")

    def outage(self, seconds: float) -> float:
        """Stop the server for `seconds`, start it again; return how long it was down."""
        self.pause()
        down = time.monotonic()
        time.sleep(seconds)
        self.resume()
        return time.monotonic() - down


@contextmanager
def pausable_postgres() -> Iterator[PausablePostgres]:
    """Start a server (skip the test when PostgreSQL is not installed); stop it after.

    Its folder is directly under the temporary folder: the `postgres` user that owns the server
    when tests run as root must reach it, and the server's socket path must stay short.
    """
    pytest.importorskip("psycopg")
    if not os.environ.get("AUTOTUNE_TEST_POSTGRES_URL"):  # no server here: do not install one
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    folder = Path(tempfile.gettempdir()) / f"autotune-pg-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "AUTOTUNE_PG_DIR": str(folder)}
    started = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    if started.returncode != 0:
        pytest.skip(f"no PostgreSQL server could be started: {started.stderr.strip()[-300:]}")
    url = started.stdout.strip().removeprefix("export AUTOTUNE_TEST_POSTGRES_URL=")
    try:
        yield PausablePostgres(url, folder)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
