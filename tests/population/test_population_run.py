"""Population members in a real Trainer: exploit copies weights, explore sets the optimizer,
lineage is recorded, replay reproduces the schedule, a diverged member is replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from lightning_autotune import fit
from lightning_autotune.population import (
    BoundaryResult,
    CopyReason,
    Lineage,
    PopulationBasedTraining,
    Segment,
    replay,
)
from lightning_autotune.population._apply import save_member
from lightning_autotune.population._pb2_data import interval_history
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.testing import TinyClassifier, loaders, random_datasets

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 0.5, "scale": "log"},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
}
TRAIN, VAL = random_datasets(n=96, n_features=8, n_classes=3)
DONOR_LR = 0.05


class NaNOnce(TinyClassifier):
    """Its loss is NaN at one training step (after the first boundary)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        return loss * float("nan") if self.global_step == 5 else loss


class Watch(pl.Callback):
    """Records the first layer's weights and the optimizer's lr at each epoch start."""

    def __init__(self) -> None:
        self.weights: dict[int, torch.Tensor] = {}
        self.lrs: dict[int, float] = {}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        self.weights[epoch] = pl_module.net[0].weight.detach().clone()
        self.lrs[epoch] = trainer.optimizers[0].param_groups[0]["lr"]


def _model(params: dict[str, Any], cls: type = TinyClassifier) -> TinyClassifier:
    return cls(
        n_features=8, n_classes=3, hidden=8, lr=params["lr"], optimizer="sgd",
        dropout=params["dropout"],
    )  # fmt: skip


def _study_with_donor(tmp_path: Path) -> tuple[Any, torch.Tensor]:
    """A study holding member 0: a finished member whose boundary-1 save is all 0.123."""
    storage = InMemoryStorage()
    study = create_study("pop", SPACE, storage, seed=0)
    donor = _model({"lr": DONOR_LR, "dropout": 0.1})
    with torch.no_grad():
        for p in donor.parameters():
            p.fill_(0.123)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False)
    trainer.strategy.optimizers = [torch.optim.SGD(donor.parameters(), lr=DONOR_LR)]
    path = tmp_path / "donor.pt"
    save_member(trainer, donor, path)
    trial = study.ask({"lr": DONOR_LR, "dropout": 0.1})
    lineage = Lineage(
        0, (Segment(0, {"lr": DONOR_LR, "dropout": 0.1}),), (BoundaryResult(1, 0.0, str(path)),)
    )
    trial.set_user_attr("population", lineage.encode())
    study.tell(trial, 0.0)
    return storage, donor.net[0].weight.detach().clone()


def _run(storage: Any, tmp_path: Path, watch: Watch, cls: type = TinyClassifier) -> Any:
    config = PopulationBasedTraining(
        population_size=2, interval=1, perturbation=(2.0,), resample_prob=0.0, seed=0
    )
    with pytest.warns(UserWarning, match="in-memory store the members run one after another"):
        return fit(
            lambda p: (_model(p, cls), *loaders(TRAIN, VAL, batch_size=32)),
            SPACE,
            storage=storage,
            study_name="pop",
            population=config,
            trainer_kwargs={"max_epochs": 3},
            callbacks=lambda p: [watch],
            checkpoint_dir=tmp_path / "ckpt",
            seed=0,
            progress=False,
        )


def test_exploit_copies_weights_and_explore_sets_the_running_optimizer(tmp_path: Path) -> None:
    storage, donor_weight = _study_with_donor(tmp_path)
    watch = Watch()
    study = _run(storage, tmp_path, watch)
    member = study.trials[1]
    lineage = Lineage.decode(member.user_attrs["population"])
    # The bottom member (any real loss is above the donor's 0.0) copied member 0 at boundary 1.
    assert lineage.copies == ((1, 0, CopyReason.UNDERPERFORMING),)
    assert torch.equal(watch.weights[1], donor_weight)
    assert not torch.equal(watch.weights[0], donor_weight)
    # Explore doubled the copied member's lr, inside the running optimizer.
    assert watch.lrs[1] == pytest.approx(2 * DONOR_LR)
    assert lineage.params["lr"] == pytest.approx(2 * DONOR_LR)
    # The schedule is the donor's first epoch, then the explored values from epoch 1.
    assert [(s.start_epoch, s.parent) for s in lineage.segments] == [(0, None), (1, 0)]
    assert lineage.segments[0].params["lr"] == DONOR_LR
    assert [r.boundary for r in lineage.results] == [1, 2, 3]
    assert member.value == pytest.approx(lineage.results[-1].value)
    # PB2's record of its own intervals: from the donor's 0.0 with the explored lr, then on.
    own = interval_history(study.trials)[1]
    assert [(r.boundary, r.params["lr"], r.start) for r in own] == [
        (2, pytest.approx(2 * DONOR_LR), 0.0),
        (3, pytest.approx(2 * DONOR_LR), lineage.results[1].value),
    ]
    assert [r.end for r in own] == [r.value for r in lineage.results[1:]]
    # Boundary checkpoints are removed once the population ended.
    assert not (tmp_path / "ckpt" / "pop" / "population").exists()


def test_replay_reproduces_the_members_schedule_in_one_fresh_run(tmp_path: Path) -> None:
    storage, _ = _study_with_donor(tmp_path)
    study = _run(storage, tmp_path, Watch())
    member = Lineage.decode(study.trials[1].user_attrs["population"]).member
    callbacks = replay(study, member)
    assert callbacks[0].initial_params["lr"] == DONOR_LR
    watch = Watch()
    trainer = pl.Trainer(
        max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[*callbacks, watch],
    )  # fmt: skip
    trainer.fit(_model(callbacks[0].initial_params), *loaders(TRAIN, VAL, batch_size=32))
    assert watch.lrs[0] == pytest.approx(DONOR_LR)
    assert watch.lrs[1] == pytest.approx(2 * DONOR_LR)
    assert watch.lrs[2] == pytest.approx(2 * DONOR_LR)


def test_a_diverged_member_is_replaced_by_a_copy_with_the_reason_recorded(tmp_path: Path) -> None:
    storage, _ = _study_with_donor(tmp_path)
    watch = Watch()
    study = _run(storage, tmp_path, watch, cls=NaNOnce)
    member = study.trials[1]
    assert member.state.name == "COMPLETE"
    lineage = Lineage.decode(member.user_attrs["population"])
    assert (1, 0, CopyReason.DIVERGED) in lineage.copies
    assert all(torch.isfinite(w).all() for w in watch.weights.values())


def test_best_member_is_replayed_by_default_and_an_unknown_member_is_refused(
    tmp_path: Path,
) -> None:
    storage, _ = _study_with_donor(tmp_path)
    study = _run(storage, tmp_path, Watch())
    assert isinstance(replay(study)[0].initial_params["lr"], float)
    with pytest.raises(Exception, match=r"replay: member=7 is not a member of study 'pop'"):
        replay(study, 7)


def test_running_a_finished_population_again_keeps_it(tmp_path: Path) -> None:
    storage, _ = _study_with_donor(tmp_path)
    first = _run(storage, tmp_path, Watch())
    before = [(t.number, t.state, t.user_attrs["population"]) for t in first.trials]
    again = _run(storage, tmp_path, Watch())  # a restarted coordinator runs nothing new
    assert [(t.number, t.state, t.user_attrs["population"]) for t in again.trials] == before
