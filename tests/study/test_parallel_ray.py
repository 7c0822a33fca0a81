"""`RayExecutor` on a local Ray instance: trials placed by Ray, recorded once by our store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import RayExecutor, create_study
from lightning_autotune.trial import TrialState

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def local_ray():
    # Ray's workers import the package and this module as an installed cluster would.
    path = os.pathsep.join([str(HERE.parents[1]), str(HERE)])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


def square(trial):
    trial.report(0, trial.params["x"])
    return trial.params["x"] ** 2


def test_ray_runs_the_study_and_our_store_records_it(local_ray, tmp_path):
    study = create_study(
        "r", SPACE, f"sqlite:///{tmp_path / 'r.db'}", sampler=RandomSampler(), seed=0
    )
    study.optimize(square, max_trials=4, executor=RayExecutor(n_workers=2, num_cpus=1))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert all(t.value == pytest.approx(t.params["x"] ** 2) for t in study.trials)


def test_a_trial_ray_runs_twice_is_recorded_once(local_ray, tmp_path):
    study = create_study(
        "twice", SPACE, f"sqlite:///{tmp_path / 't.db'}", sampler=RandomSampler(), seed=0
    )
    executor = RayExecutor(n_workers=2)
    record = study.storage.create_trial(study.study_id, {"x": 0.5})
    payload = executor.task_for(study, record, square)
    remote = executor._task_fn()
    codes = ray.get([remote.remote(payload), remote.remote(payload)])
    assert codes == [0, 0]
    trials = study.trials
    assert len(trials) == 1
    assert trials[0].state is TrialState.COMPLETE and trials[0].value == 0.25
    assert dict(trials[0].intermediate) == {0: 0.5}


def test_missing_ray_or_bad_arguments_are_reported():
    with pytest.raises(Exception, match=r"num_gpus must be a finite number >= 0, got -1"):
        RayExecutor(num_gpus=-1)
