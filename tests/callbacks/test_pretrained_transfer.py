"""PretrainedTransfer inside a real tiny Trainer: loaded tensors, frozen ones, the groups."""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from schedule_helpers import data, trainer
from torch import nn
from torch.utils.data import DataLoader

from lightning_autotune import create_study
from lightning_autotune.callbacks import (
    AutoTuneCallback,
    DynamicBatchSize,
    OptimizerSwitch,
    PretrainedTransfer,
)
from lightning_autotune.transfer import TransferError

LR = 0.01


class Net(pl.LightningModule):
    """A backbone (Linear + BatchNorm) and a head, loaders built from `self.batch_size`."""

    def __init__(self, out: int = 3, scheduler: bool = False, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.batch_size = 16
        self.use_scheduler = scheduler
        self.backbone = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.head = nn.Linear(32, out)
        self.train_set, self.val_set = data(192), data(64, seed=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=64)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.parameters(), lr=LR)
        if not self.use_scheduler:
            return opt
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}


def pretrained() -> dict[str, torch.Tensor]:
    """Weights of another initialization, saved from a DDP-wrapped copy (`module.` prefix)."""
    source = Net(seed=1)
    source.backbone[1].running_mean.fill_(0.5)
    return {f"module.{k}": v.clone() for k, v in source.state_dict().items()}


class Recorder(pl.Callback):
    """Per epoch: tensors at its start and end, the optimizer's groups and the BN mode."""

    def __init__(self) -> None:
        self.start: dict[int, dict[str, torch.Tensor]] = {}
        self.end: dict[int, dict[str, torch.Tensor]] = {}
        self.groups: dict[int, list[tuple[int, float, str]]] = {}
        self.bn_training: dict[int, bool] = {}

    def _state(self, pl_module: pl.LightningModule) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        epoch = trainer.current_epoch
        if batch_idx == 0:
            self.start[epoch] = self._state(pl_module)
            opt = trainer.optimizers[0]
            self.groups[epoch] = [
                (len(g["params"]), g["lr"], type(opt).__name__) for g in opt.param_groups
            ]
            self.bn_training[epoch] = pl_module.backbone[1].training

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.end[trainer.current_epoch] = self._state(pl_module)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a.float(), b.float())


def test_copy_and_fine_tune_load_the_weights_and_fine_tune_gets_its_multiplier(caplog):
    caplog.set_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero")
    weights = pretrained()
    rec = Recorder()
    cb = PretrainedTransfer(weights, {"head.*": {"method": "fine_tune", "lr_multiplier": 0.1}})
    trainer([cb, rec], max_epochs=1).fit(Net())
    for name, value in rec.start[0].items():
        assert _same(value, weights[f"module.{name}"]), name
    # backbone (copy: 4 tensors) at the optimizer's lr, the head at a tenth of it
    assert rec.groups[0] == [(4, pytest.approx(LR), "Adam"), (2, pytest.approx(LR * 0.1), "Adam")]
    assert cb.summary()["counts"] == {"copy": 7, "fine_tune": 2}
    assert cb.summary()["key_match"] == "stripped 'module.' from the weights' names"
    assert "transfer: copy 7, fine_tune 2 (stripped 'module.' from the weights' names)" in (
        caplog.text
    )


class OnlyTrainable(Net):
    def configure_optimizers(self) -> Any:
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=LR)


def test_optimizer_built_from_trainable_parameters_only_gets_the_frozen_ones_at_unfreeze():
    rec = Recorder()
    rules = {"backbone.0.*": {"method": "freeze", "unfreeze_at": 1, "lr_multiplier": 0.2}}
    trainer([PretrainedTransfer(pretrained(), rules), rec], max_epochs=2).fit(OnlyTrainable())
    assert rec.groups[0] == [(4, pytest.approx(LR), "SGD")]
    assert rec.groups[1] == [(4, pytest.approx(LR), "SGD"), (2, pytest.approx(LR * 0.2), "SGD")]


def test_frozen_tensors_and_bn_statistics_hold_then_unfreeze_at_the_scheduled_epoch():
    weights = pretrained()
    rec = Recorder()
    rules = {"backbone.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5}}
    cb = PretrainedTransfer(weights, rules)
    net = Net()
    trainer([cb, rec], max_epochs=3).fit(net)
    frozen = [k for k in rec.start[0] if k.startswith("backbone.")]
    assert "backbone.1.running_mean" in frozen
    for epoch in (0, 1):
        for name in frozen:
            if name.endswith("num_batches_tracked"):
                continue
            assert _same(rec.end[epoch][name], weights[f"module.{name}"]), (epoch, name)
        assert rec.groups[epoch] == [(2, pytest.approx(LR), "Adam")]  # the head only
        assert rec.bn_training[epoch] is False
    assert not _same(rec.end[2]["backbone.0.weight"], weights["module.backbone.0.weight"])
    assert not _same(
        rec.end[2]["backbone.1.running_mean"], weights["module.backbone.1.running_mean"]
    )
    assert rec.groups[2] == [(2, pytest.approx(LR), "Adam"), (4, pytest.approx(LR * 0.5), "Adam")]
    assert rec.bn_training[2] is True
    assert net.backbone[0].weight.requires_grad
    assert cb.unfrozen == ["backbone.*"]
    assert cb.summary()["unfreeze_epochs"] == {"backbone.*": 2}


def test_fraction_unfreeze_resolves_with_max_epochs():
    rec = Recorder()
    rules = {"backbone.*": {"method": "freeze", "unfreeze_at": 0.5}}
    trainer([PretrainedTransfer(pretrained(), rules), rec], max_epochs=4).fit(Net())
    assert [len(rec.groups[e]) for e in range(4)] == [1, 1, 2, 2]


def test_groups_keep_their_multipliers_through_an_optimizer_switch():
    rec = Recorder()
    rules = {
        "head.*": {"method": "fine_tune", "lr_multiplier": 0.1},
        "backbone.0.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5},
    }
    switch = OptimizerSwitch(at=1, optimizer="sgd", lr=0.2)
    trainer([PretrainedTransfer(pretrained(), rules), switch, rec], max_epochs=3).fit(Net())
    assert rec.groups[0] == [(2, pytest.approx(LR), "Adam"), (2, pytest.approx(LR * 0.1), "Adam")]
    assert rec.groups[1] == [(2, pytest.approx(0.2), "SGD"), (2, pytest.approx(0.02), "SGD")]
    assert rec.groups[2] == [
        (2, pytest.approx(0.2), "SGD"),
        (2, pytest.approx(0.02), "SGD"),
        (2, pytest.approx(0.1), "SGD"),  # joined the switched optimizer at half the base lr
    ]


def test_batch_size_lr_scaling_and_schedulers_keep_the_per_group_ratios():
    rec = Recorder()
    rules = {
        "head.*": {"method": "fine_tune", "lr_multiplier": 0.1},
        "backbone.0.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5},
    }
    ramp = DynamicBatchSize({1: 32}, lr_scaling="linear")
    t = trainer(
        [PretrainedTransfer(pretrained(), rules), ramp, rec],
        max_epochs=3,
        reload_dataloaders_every_n_epochs=1,
    )
    t.fit(Net(scheduler=True))
    base = [LR, LR * 0.5 * 2, LR * 0.25 * 2]  # StepLR halves each epoch; the ramp doubles
    for epoch in range(3):
        lrs = [lr for _, lr, _ in rec.groups[epoch]]
        assert lrs[0] == pytest.approx(base[epoch])
        assert lrs[1] == pytest.approx(base[epoch] * 0.1)
    assert rec.groups[2][2][1] == pytest.approx(base[2] * 0.5)
    sched = t.lr_scheduler_configs[0].scheduler
    assert len(sched.base_lrs) == 3
    assert sched.base_lrs[1] / sched.base_lrs[0] == pytest.approx(0.1)
    assert sched.base_lrs[2] / sched.base_lrs[0] == pytest.approx(0.5)


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
@pytest.mark.parametrize(("resume_epoch", "groups_after"), [(0, [1, 2, 2]), (2, [2])])
def test_resume_keeps_frozen_state_and_groups(tmp_path, resume_epoch, groups_after):
    rules = {"backbone.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5}}
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    trainer(
        [PretrainedTransfer(pretrained(), rules), ckpt], max_epochs=3, enable_checkpointing=True
    ).fit(Net())
    path = tmp_path / f"epoch={resume_epoch}.ckpt"
    rec = Recorder()
    cb = PretrainedTransfer(pretrained(), rules)
    net = Net(seed=5)
    trainer([cb, rec], max_epochs=4, enable_checkpointing=False).fit(net, ckpt_path=path)
    epochs = sorted(rec.groups)
    assert epochs[0] == resume_epoch + 1
    assert [len(rec.groups[e]) for e in epochs] == groups_after
    assert rec.groups[epochs[-1]][1][1] == pytest.approx(LR * 0.5)
    if resume_epoch == 0:  # resumed frozen: the backbone holds until epoch 2
        assert _same(rec.end[1]["backbone.0.weight"], pretrained()["module.backbone.0.weight"])
    assert cb.unfrozen == ["backbone.*"]


def test_counts_are_recorded_on_the_trial_of_the_autotune_callback():
    study = create_study(space={"x": {"type": "continuous", "min": 0.0, "max": 1.0}}, seed=0)
    trial = study.ask()
    rules = {"head.*": "reinit", "backbone.0.*": "freeze"}
    callbacks = [
        AutoTuneCallback(trial, monitor="val_loss"),
        PretrainedTransfer(pretrained(), rules),
    ]
    trainer(callbacks, max_epochs=1).fit(Net())
    record = trial.snapshot().user_attrs["transfer"]
    assert record["counts"] == {"freeze": 2, "copy": 5, "reinit": 2}
    assert record["loaded"] == 7 and record["unused_weights"] == 2


def test_rules_that_do_not_fit_the_model_fail_before_training_and_load_nothing():
    net = Net(out=5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cb = PretrainedTransfer(pretrained(), {"head.*": "copy", "neck.*": "freeze"})
    rec = Recorder()
    with pytest.raises(TransferError, match=r"'head.weight' \(rule 'head.\*', copy\): model shape"):
        trainer([cb, rec], max_epochs=1).fit(net)
    assert rec.start == {}
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # the lenient default leaves a mismatched head as the model initialized it
    rec = Recorder()
    trainer([PretrainedTransfer(pretrained()), rec], max_epochs=1).fit(Net(out=5, seed=3))
    assert _same(rec.start[0]["backbone.0.weight"], pretrained()["module.backbone.0.weight"])


def test_fraction_without_max_epochs_is_refused():
    cb = PretrainedTransfer(pretrained(), {"backbone.*": {"method": "freeze", "unfreeze_at": 0.5}})
    with pytest.raises(Exception, match=r"unfreeze_at=0.5 is a fraction of training"):
        trainer([cb], max_epochs=-1, max_steps=4).fit(Net())


class DecayGroups(Net):
    def configure_optimizers(self) -> Any:
        named = list(self.named_parameters())
        return torch.optim.AdamW(
            [
                {"params": [p for n, p in named if n.endswith("weight")], "weight_decay": 0.01},
                {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0},
            ],
            lr=LR,
        )


def test_unfrozen_parameters_join_with_the_settings_of_the_group_they_came_from():
    rules = {"backbone.0.*": {"method": "freeze", "unfreeze_at": 1, "lr_multiplier": 0.5}}
    t = trainer([PretrainedTransfer(pretrained(), rules)], max_epochs=2)
    t.fit(DecayGroups())
    groups = [
        (len(g["params"]), g["lr"], g["weight_decay"], g["base_group"])
        for g in t.optimizers[0].param_groups
    ]
    assert groups == [
        (2, pytest.approx(LR), 0.01, 0),  # backbone.1.weight, head.weight
        (2, pytest.approx(LR), 0.0, 1),  # backbone.1.bias, head.bias
        (1, pytest.approx(LR * 0.5), 0.01, 0),  # backbone.0.weight joined at epoch 1
        (1, pytest.approx(LR * 0.5), 0.0, 1),  # backbone.0.bias
    ]


def test_one_cycle_schedule_keeps_each_group_at_its_multiple():
    class OneCycle(Net):
        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=LR)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=48)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    rules = {"head.*": {"method": "fine_tune", "lr_multiplier": 0.1}}
    rec = Recorder()
    trainer([PretrainedTransfer(pretrained(), rules), rec], max_epochs=4).fit(OneCycle())
    for epoch in range(4):
        (_, base, _), (_, head, _) = rec.groups[epoch]
        assert head == pytest.approx(base * 0.1)


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
@pytest.mark.parametrize("transfer_first", [True, False])
@pytest.mark.parametrize("resume_epoch", [1, 2])
def test_resume_after_an_optimizer_switch_rebuilds_the_same_groups(
    tmp_path, transfer_first, resume_epoch
):
    rules = {
        "head.*": {"method": "fine_tune", "lr_multiplier": 0.1},
        "backbone.0.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5},
    }

    def callbacks() -> list[pl.Callback]:
        pair = [PretrainedTransfer(pretrained(), rules), OptimizerSwitch(at=1, lr=0.2)]
        return pair if transfer_first else pair[::-1]

    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    first = trainer([*callbacks(), ckpt], max_epochs=3, enable_checkpointing=True)
    first.fit(Net())
    rec = Recorder()
    resumed = trainer([*callbacks(), rec], max_epochs=4)
    resumed.fit(Net(seed=5), ckpt_path=tmp_path / f"epoch={resume_epoch}.ckpt")
    assert rec.groups[3] == [
        (2, pytest.approx(0.2), "SGD"),
        (2, pytest.approx(0.02), "SGD"),
        (2, pytest.approx(0.1), "SGD"),
    ]
    assert resumed.optimizers[0].state  # the saved momentum buffers were loaded
