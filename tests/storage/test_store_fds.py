"""Opening a study again and again does not leak the store's file descriptors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lightning_autotune.study import create_study, load_study

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fds.db'}"
    create_study("s", SPACE, url).ask()
    return url


def test_dropped_studies_release_their_connections(url: str) -> None:
    before = _open_fds()
    for _ in range(200):
        study = load_study("s", url)
        assert len(study.trials) == 1
    # The last study is still referenced: its database, WAL and shared-memory files are open.
    assert _open_fds() - before <= 4


def test_closed_studies_release_their_connections(url: str) -> None:
    before = _open_fds()
    for _ in range(200):
        with load_study("s", url) as study:
            assert len(study.trials) == 1
        study.close()  # a second close is harmless
    assert _open_fds() - before <= 4
    assert len(study.trials) == 1  # a closed study reconnects when used again
