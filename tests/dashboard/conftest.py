"""Fixtures of the dashboard tests: a small SQLite study, a running dashboard, an HTTP getter."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("plotly", reason="the dashboard needs plotly (extra [dashboard])")

from lightning_autotune.dashboard import Dashboard, serve
from lightning_autotune.storage import SQLStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState
from tests.dashboard._writers import HOSTILE, PRUNE_REASON, SPACE


@dataclass(frozen=True)
class Reply:
    """An HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    """GET (or another method) `url`; an error status is returned, not raised."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return Reply(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read(), dict(err.headers))


def api_path(name: str, *rest: str) -> str:
    """'/api/studies/{name}/...' with the name URL-encoded as one segment."""
    return "/".join(["/api/studies", quote(name, safe=""), *rest])


def fill_study(url: str, name: str = HOSTILE) -> None:
    """Four finished trials (one pruned with a reason, one failed) and one running."""
    study = create_study(name, space=SPACE, storage=url)
    for i in range(4):
        trial = study.ask({"lr": 0.001 * (i + 1), HOSTILE: i + 1})
        for step in range(3 if i != 1 else 2):
            trial.report(step, 2.0 - 0.1 * step + i, {"acc": 0.5 + 0.1 * step, "dropout_p": 0.1})
        if i == 1:
            trial.set_user_attr("log_dir", f"runs/{HOSTILE}/trial_0001")
            study.tell(trial, state=TrialState.PRUNED, reason=PRUNE_REASON.format(step=1))
        elif i == 3:
            study.tell(trial, state=TrialState.FAILED, reason="RuntimeError: boom")
        else:
            trial.set_user_attr("schedule", {"lr": [0.1, 0.01]})
            study.tell(trial, 1.0 + i)
    study.ask({"lr": 0.01, HOSTILE: 2}).report(0, 3.0)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'autotune.db'}"
    SQLStorage(url).close()
    return url


@pytest.fixture
def board(store_url: str) -> Iterator[Dashboard]:
    fill_study(store_url)
    running = serve(store_url, port=0, block=False, min_interval=0.0)
    yield running
    running.stop()


@pytest.fixture
def base(board: Dashboard) -> str:
    return f"http://127.0.0.1:{board.port}"
