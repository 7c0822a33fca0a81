"""Batch size and optimizer as explore steps: set inside the running Trainer, kept in the
lineage, reproduced by replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lightning_autotune import fit
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population import (
    BoundaryResult,
    CopyReason,
    Lineage,
    PopulationBasedTraining,
    Segment,
    replay,
)
from lightning_autotune.population._apply import load_member, save_member
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.testing import TinyClassifier, loaders, random_datasets

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 0.5, "scale": "log"},
    "momentum": {"type": "continuous", "min": 0.5, "max": 0.95},
    "batch_size": {"type": "integer", "min": 8, "max": 64},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
}
TRAIN, VAL = random_datasets(n=96, n_features=8, n_classes=3)
DONOR = {"lr": 0.01, "momentum": 0.9, "batch_size": 16, "optimizer": "adam"}
EXPLORED = {"lr": 0.05, "momentum": 0.7, "batch_size": 32, "optimizer": "sgd"}


class LoaderModel(TinyClassifier):
    """Builds its loaders from `self.batch_size`, as a batch-size change needs."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(
            n_features=8, n_classes=3, hidden=8, lr=params["lr"], optimizer=params["optimizer"],
            momentum=params["momentum"],
        )  # fmt: skip
        self.batch_size = int(params["batch_size"])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TRAIN, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(VAL, batch_size=32)


@dataclass(frozen=True)
class ToSgd(PopulationBasedTraining):
    """Explore always lands on `EXPLORED` (the random draw is tested on its own below)."""

    def explore(self, space: Any, params: Any, *_: Any, **__: Any) -> dict[str, Any]:
        return dict(EXPLORED)


class Watch(pl.Callback):
    """Records, at every epoch start, the optimizer and the train loader's batch size."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float, float | None, int | None]] = {}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        group = optimizer.param_groups[0]
        loader = trainer.train_dataloader
        self.seen[trainer.current_epoch] = (
            type(optimizer).__name__,
            group["lr"],
            group.get("momentum"),
            loader.batch_size if isinstance(loader, DataLoader) else None,
        )


def _trainer(**kwargs: Any) -> pl.Trainer:
    return pl.Trainer(
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )  # fmt: skip


def _study_with_adam_donor(tmp_path: Path) -> InMemoryStorage:
    """A store holding member 0: finished, on Adam with batch size 16, best at boundary 1."""
    storage = InMemoryStorage()
    study = create_study("pop", SPACE, storage, seed=0)
    donor = LoaderModel(DONOR)
    trainer = _trainer(max_epochs=1)
    trainer.fit(donor)
    path = tmp_path / "donor.pt"
    save_member(trainer, donor, path)
    trial = study.ask(dict(DONOR))
    lineage = Lineage(0, (Segment(0, dict(DONOR)),), (BoundaryResult(1, 0.0, str(path)),))
    trial.set_user_attr("population", lineage.encode())
    study.tell(trial, 0.0)
    return storage


def _run(storage: InMemoryStorage, tmp_path: Path, watch: Watch) -> Any:
    config = ToSgd(population_size=2, interval=1, seed=0)
    with pytest.warns(UserWarning, match="in-memory store"):
        return fit(
            LoaderModel, SPACE, storage=storage, study_name="pop", population=config,
            trainer_kwargs={"max_epochs": 3}, callbacks=lambda p: [watch],
            checkpoint_dir=tmp_path / "ckpt", seed=0, progress=False,
        )  # fmt: skip


def test_explore_sets_the_batch_size_and_switches_to_sgd_inside_the_running_trainer(
    tmp_path: Path,
) -> None:
    watch = Watch()
    study = _run(_study_with_adam_donor(tmp_path), tmp_path, watch)
    member = study.trials[1]
    lineage = Lineage.decode(member.user_attrs["population"])
    assert lineage.copies == ((1, 0, CopyReason.UNDERPERFORMING),)
    assert watch.seen[0][3] == member.params["batch_size"]  # its own size before the copy
    for epoch in (1, 2):
        assert watch.seen[epoch] == ("SGD", pytest.approx(0.05), pytest.approx(0.7), 32)
    # The lineage holds the donor's schedule, then the explored batch size and optimizer.
    assert [(s.start_epoch, s.params["optimizer"], s.params["batch_size"]) for s in
            lineage.segments] == [(0, "adam", 16), (1, "sgd", 32)]  # fmt: skip


def test_replay_reproduces_the_batch_size_and_the_optimizer_switch(tmp_path: Path) -> None:
    study = _run(_study_with_adam_donor(tmp_path), tmp_path, Watch())
    callbacks = replay(study, Lineage.decode(study.trials[1].user_attrs["population"]).member)
    watch = Watch()
    _trainer(max_epochs=3, callbacks=[*callbacks, watch]).fit(
        LoaderModel(callbacks[0].initial_params)
    )
    assert watch.seen[0] == ("Adam", pytest.approx(0.01), None, 16)
    for epoch in (1, 2):
        assert watch.seen[epoch] == ("SGD", pytest.approx(0.05), pytest.approx(0.7), 32)


def test_a_donor_on_another_optimizer_is_loaded_with_its_own_class_and_state(
    tmp_path: Path,
) -> None:
    donor = LoaderModel(DONOR)
    first = _trainer(max_epochs=1)
    first.fit(donor)
    save_member(first, donor, tmp_path / "adam.pt")
    member = LoaderModel({**DONOR, "optimizer": "sgd"})
    second = _trainer(max_epochs=1)
    second.fit(member)
    assert isinstance(second.optimizers[0], torch.optim.SGD)
    load_member(second, member, tmp_path / "adam.pt")
    assert isinstance(second.optimizers[0], torch.optim.Adam)
    donor_state = first.optimizers[0].state_dict()["state"][0]["exp_avg"]
    assert torch.equal(second.optimizers[0].state_dict()["state"][0]["exp_avg"], donor_state)


def test_explore_perturbs_the_batch_size_within_bounds_and_may_switch_optimizer() -> None:
    space = SearchSpace.from_dict(SPACE)
    config = PopulationBasedTraining(perturbation=(2.0,), resample_prob=0.0)
    rng = np.random.default_rng(0)
    draws = [config.explore(space, DONOR, {}, 1, rng) for _ in range(20)]
    assert {d["batch_size"] for d in draws} == {32}
    assert config.explore(space, {**DONOR, "batch_size": 48}, {}, 1, rng)["batch_size"] == 64
    assert {d["optimizer"] for d in draws} == {"adam", "sgd"}


def test_a_model_without_a_batch_size_attribute_is_refused_at_setup(tmp_path: Path) -> None:
    config = PopulationBasedTraining(population_size=2, interval=1, seed=0)
    with pytest.raises(ConfigError, match=r"PopulationMember \(batch_size\): neither the "
                       r"LightningModule.*has an attribute 'batch_size'"):  # fmt: skip
        fit(
            lambda p: (
                TinyClassifier(n_features=8, n_classes=3, hidden=8, optimizer=p["optimizer"]),
                *loaders(TRAIN, VAL, batch_size=int(p["batch_size"])),
            ),
            SPACE, storage=InMemoryStorage(), population=config,
            trainer_kwargs={"max_epochs": 2}, checkpoint_dir=tmp_path / "ckpt", seed=0,
            progress=False,
        )  # fmt: skip
