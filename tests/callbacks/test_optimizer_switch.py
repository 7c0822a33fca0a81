from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from schedule_helpers import Probe, ScheduleModel, trainer

from lightning_autotune.callbacks import OptimizerSwitch
from lightning_autotune.exceptions import ConfigError


def _classes(probe: Probe) -> dict[int, list[str]]:
    return {e: sorted(set(v)) for e, v in probe.optimizers.items()}


def test_adam_then_sgd_with_momentum_at_half_of_training():
    probe = Probe()
    cb = OptimizerSwitch(at=0.5, optimizer="sgd", lr_scale=10.0)
    t = trainer([cb, probe])
    t.fit(ScheduleModel(lr=0.01))
    assert _classes(probe) == {0: ["Adam"], 1: ["Adam"], 2: ["SGD"], 3: ["SGD"]}
    # every step of the switched epochs used SGD (12 steps per epoch)
    assert probe.optimizers[2] == ["SGD"] * 12
    opt = t.optimizers[0]
    assert opt.param_groups[0]["momentum"] == 0.9
    assert probe.lrs[2] == pytest.approx(0.1)
    assert t.callback_metrics["optimizer_phase"].item() == 1.0
    assert probe.momentum_state[3]  # SGD has been stepping and holds momentum buffers


def test_factory_and_explicit_lr():
    probe = Probe()
    cb = OptimizerSwitch(
        at=1, optimizer=lambda groups: torch.optim.RMSprop(groups, alpha=0.9), lr=0.003
    )
    trainer([cb, probe], max_epochs=2).fit(ScheduleModel())
    assert _classes(probe) == {0: ["Adam"], 1: ["RMSprop"]}
    assert probe.lrs[1] == pytest.approx(0.003)


def test_schedulers_are_rebuilt_for_the_new_optimizer():
    probe = Probe()
    cb = OptimizerSwitch(
        at=2,
        optimizer="sgd",
        lr=0.1,
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1),
    )
    t = trainer([cb, probe])
    t.fit(ScheduleModel(lr=0.01, scheduler=True))
    sched = t.lr_scheduler_configs[0].scheduler
    assert sched.optimizer is t.optimizers[0]
    assert probe.lrs[1] == pytest.approx(0.005)  # first StepLR halves each epoch
    assert probe.lrs[2] == pytest.approx(0.1)
    assert probe.lrs[3] == pytest.approx(0.01)  # the rebuilt StepLR steps the new optimizer


def test_schedulers_without_factory_are_refused():
    t = trainer([OptimizerSwitch(at=1)])
    with pytest.raises(ConfigError, match=r"pass scheduler=lambda opt"):
        t.fit(ScheduleModel(scheduler=True))


@pytest.mark.parametrize("ckpt_epoch", [0, 2])
def test_resume_continues_the_switch(tmp_path, ckpt_epoch):
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    full = Probe()
    trainer([OptimizerSwitch(at=0.5), full, ckpt], enable_checkpointing=True).fit(ScheduleModel())
    resumed = Probe()
    t = trainer([OptimizerSwitch(at=0.5), resumed])
    t.fit(ScheduleModel(), ckpt_path=str(tmp_path / f"epoch={ckpt_epoch}.ckpt"))
    expected = {e: v for e, v in _classes(full).items() if e > ckpt_epoch}
    assert _classes(resumed) == expected
    if ckpt_epoch == 2:  # resumed after the switch: SGD's momentum buffers were restored
        assert resumed.momentum_state[3]
    assert isinstance(t.optimizers[0], torch.optim.SGD)


def test_manual_optimization_is_refused():
    class Manual(ScheduleModel):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            loss = super().training_step(batch, batch_idx)
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()

    with pytest.raises(ConfigError, match="automatic_optimization=False"):
        trainer([OptimizerSwitch(at=1)]).fit(Manual())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"at": 0}, r"epoch >= 1 \(int\) or a fraction in \(0, 1\)"),
        ({"at": 1.0}, r"fraction in \(0, 1\)"),
        ({"at": True}, "must be an epoch or a fraction"),
        ({"at": 1, "optimizer": "lbfgs"}, r"must be one of \['adam'"),
        ({"at": 1, "optimizer": 3}, "must be a name"),
        ({"at": 1, "lr": 0}, "lr must be > 0"),
        ({"at": 1, "lr_scale": -2.0}, "lr_scale must be > 0"),
        ({"at": 1, "scheduler": "cosine"}, "scheduler must be a callable"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OptimizerSwitch(**kwargs)


@pytest.mark.slow
def test_ddp_two_processes_switch_at_the_same_epoch(tmp_path):
    t = trainer(
        [OptimizerSwitch(at=1, optimizer="sgd"), Probe(str(tmp_path))],
        max_epochs=2,
        strategy="ddp_spawn",
        devices=2,
    )
    t.fit(ScheduleModel(n=128))
    for r in (0, 1):
        seen = json.loads((tmp_path / f"rank{r}.json").read_text())["optimizers"]
        assert seen == {"0": ["Adam"], "1": ["SGD"]}
