"""The fork server starts before the sampler's first suggestion, so its import overlaps it."""

from __future__ import annotations

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import InProcessExecutor, ProcessExecutor, create_study

pytestmark = pytest.mark.slow

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


class WatchingSampler(RandomSampler):
    """Notes, at each suggestion, whether the executor's fork server had been started."""

    def __init__(self, executor: ProcessExecutor) -> None:
        super().__init__(seed=0)
        self.executor = executor
        self.server_started: list[bool] = []

    def suggest(self, space, history, **kwargs):
        self.server_started.append(self.executor._server is not None)
        return super().suggest(space, history, **kwargs)


def square(trial):
    return trial.params["x"] ** 2


def test_the_fork_server_is_started_before_the_first_suggestion(tmp_path):
    executor = ProcessExecutor(2)
    sampler = WatchingSampler(executor)
    study = create_study("p", SPACE, f"sqlite:///{tmp_path / 'p.db'}", sampler=sampler, seed=0)
    study.optimize(square, max_trials=2, executor=executor)
    assert sampler.server_started[0] is True
    assert [t.state.value for t in study.trials] == ["COMPLETE", "COMPLETE"]


def test_prepare_starts_one_server_and_in_process_needs_none():
    executor = ProcessExecutor(2)
    try:
        executor.prepare()
        server = executor._server
        assert server is not None and server.alive()
        executor.prepare()
        assert executor._server is server
    finally:
        executor.shutdown()
    assert executor._server is None
    InProcessExecutor().prepare()  # nothing to start
    spawn = ProcessExecutor(2, start_method="spawn")
    spawn.prepare()
    assert spawn._server is None
