"""A population on `RayExecutor`: members placed by Ray meet at boundaries through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lightning_autotune import TrialState
from lightning_autotune.objective import LightningObjective
from lightning_autotune.population import (
    CopyReason,
    Lineage,
    PopulationBasedTraining,
    run_population,
)
from lightning_autotune.study import RayExecutor, create_study
from lightning_autotune.testing import (
    TINY_TRAINER_KWARGS,
    TinyClassifier,
    loaders,
    random_datasets,
)

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray() -> Any:
    # As in tests/study/test_parallel_ray.py: Ray's workers import this checkout's package.
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    yield
    ray.shutdown()


def test_a_population_of_two_trains_on_ray_and_the_bottom_member_copies(
    local_ray: Any, tmp_path: Path
) -> None:
    train, val = random_datasets(n=64, n_features=8, n_classes=3)

    def build(p: dict[str, Any]) -> tuple[Any, ...]:  # pickled by value for Ray's workers
        model = TinyClassifier(n_features=8, n_classes=3, hidden=8, lr=p["lr"], optimizer="sgd")
        return (model, *loaders(train, val, batch_size=32))

    space = {"lr": {"type": "continuous", "min": 1e-3, "max": 0.5, "scale": "log"}}
    study = run_population(
        create_study("pop", space, f"sqlite:///{tmp_path / 'pop.db'}", seed=0),
        LightningObjective(build, trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2}),
        PopulationBasedTraining(population_size=2, interval=1, seed=0),
        checkpoint_dir=tmp_path / "ckpt",
        executor=RayExecutor(n_workers=2, num_cpus=1),
        progress=False,
        heartbeat_grace=600.0,  # a cold Ray worker imports torch and Lightning first
    )
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    lineages = [Lineage.decode(t.user_attrs["population"]) for t in study.trials]
    assert sorted(lin.member for lin in lineages) == [0, 1]
    assert all([r.boundary for r in lin.results] == [1, 2] for lin in lineages), lineages
    # Both met at boundary 1 (the only one before the end): the worse one copied the better.
    first = {lin.member: lin.result_at(1).value for lin in lineages}  # type: ignore[union-attr]
    worse, better = sorted(first, key=first.__getitem__, reverse=True)
    copies = {lin.member: lin.copies for lin in lineages}
    assert copies == {worse: ((1, better, CopyReason.UNDERPERFORMING),), better: ()}
