"""A study's idle fork server is kept for the next identical study of the process."""

from __future__ import annotations

import os
import pickle

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import ProcessExecutor, create_study
from lightning_autotune.study._forkserver import KEPT, ForkServer, KeptServers

pytestmark = pytest.mark.slow

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def server_pid(trial):
    trial.set_user_attr("server", os.getppid())
    return trial.params["x"]


def servers_of(tmp_path, name: str, executor: ProcessExecutor) -> set[int]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    study = create_study(name, SPACE, url, sampler=RandomSampler(), seed=0)
    study.optimize(server_pid, max_trials=2, executor=executor)
    assert [t.state.value for t in study.trials] == ["COMPLETE", "COMPLETE"]
    return {t.user_attrs["server"] for t in study.trials}


@pytest.fixture(autouse=True)
def no_kept_servers():
    KEPT.close_all()
    yield
    KEPT.close_all()


def test_the_next_identical_study_forks_from_the_kept_server(tmp_path):
    first = servers_of(tmp_path, "a", ProcessExecutor(2))
    assert len(KEPT) == 1  # idle, kept
    second = servers_of(tmp_path, "b", ProcessExecutor(2))
    assert first == second and len(first) == 1


def server_and_seed(trial):
    trial.set_user_attr("server", os.getppid())
    trial.set_user_attr("seed", os.environ.get("PL_GLOBAL_SEED"))
    return trial.params["x"]


def server_and_seed_of(tmp_path, name: str) -> set[tuple[int, str | None]]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    study = create_study(name, SPACE, url, sampler=RandomSampler(), seed=0)
    study.optimize(server_and_seed, max_trials=2, executor=ProcessExecutor(2))
    return {(t.user_attrs["server"], t.user_attrs["seed"]) for t in study.trials}


def test_a_seed_set_between_two_studies_keeps_the_server_and_reaches_the_trials(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    ((server, seed),) = server_and_seed_of(tmp_path, "a")
    assert seed is None
    # What `seed_everything` does in this process, e.g. in a study run in-process in between.
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    assert server_and_seed_of(tmp_path, "b") == {(server, "7")}
    monkeypatch.delenv("PL_GLOBAL_SEED")
    assert server_and_seed_of(tmp_path, "c") == {(server, None)}


def test_keep_server_false_stops_it_and_another_preload_starts_another(tmp_path):
    first = servers_of(tmp_path, "a", ProcessExecutor(2, keep_server=False))
    assert len(KEPT) == 0
    second = servers_of(tmp_path, "b", ProcessExecutor(2))
    third = servers_of(tmp_path, "c", ProcessExecutor(2, preload=["json"]))
    assert len({*first, *second, *third}) == 3


def test_a_server_reports_each_exit_as_news(tmp_path):
    server = ForkServer({**os.environ}, ["pickle"])
    try:
        server.news.clear()
        # not a task: the trial process fails to read it and exits with status 1
        trial = server.fork({}, pickle.dumps("not a task"))
        assert server.news.wait(timeout=600)  # a crowded machine imports slowly
        assert trial.wait() == 1
        assert server.idle()
    finally:
        server.close()


class FakeServer:
    def __init__(self, idle: bool) -> None:
        self._idle, self.closed = idle, False

    def idle(self) -> bool:
        return self._idle and not self.closed

    def close(self) -> None:
        self.closed = True


def test_only_one_idle_server_is_kept_and_a_newer_one_replaces_the_older():
    kept = KeptServers()
    busy, old, other, new = FakeServer(False), FakeServer(True), FakeServer(True), FakeServer(True)
    kept.keep("k", busy)  # type: ignore[arg-type]
    assert busy.closed and len(kept) == 0
    kept.keep("k", old)  # type: ignore[arg-type]
    kept.keep("j", other)  # type: ignore[arg-type]
    assert old.closed and not other.closed and len(kept) == 1
    kept.keep("k", new)  # type: ignore[arg-type]
    assert other.closed and not new.closed and len(kept) == 1
    assert kept.take("other") is None
    assert kept.take("k") is new and len(kept) == 0
    kept.keep("k", new)  # type: ignore[arg-type]
    kept.close_all()
    assert new.closed and len(kept) == 0
