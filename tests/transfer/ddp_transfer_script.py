"""Run by test_transfer_ddp.py: PretrainedTransfer under 2-process CPU DDP (gloo).

Usage: python ddp_transfer_script.py OUT_JSON (each rank writes OUT_JSON.<rank>).
"""

from __future__ import annotations

import json
import sys

import lightning.pytorch as pl
import torch

from lightning_autotune.callbacks import PretrainedTransfer
from lightning_autotune.testing import (
    TINY_TRAINER_KWARGS,
    TinyClassifier,
    close_process_group,
    loaders,
    random_datasets,
)

RULES = {
    "net.0.*": {"method": "freeze", "unfreeze_at": 2, "lr_multiplier": 0.5},
    "net.3.*": {"method": "fine_tune", "lr_multiplier": 0.1},
}


class _Recorder(pl.Callback):
    def __init__(self) -> None:
        self.groups: dict[int, list[list[float]]] = {}
        self.backbone_end: dict[int, list[float]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            self.groups[trainer.current_epoch] = [
                [len(g["params"]), g["lr"]] for g in trainer.optimizers[0].param_groups
            ]

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.backbone_end[trainer.current_epoch] = pl_module.net[0].weight.flatten().tolist()


def main() -> None:
    out = sys.argv[1]
    torch.set_num_threads(1)
    torch.manual_seed(1)
    weights = TinyClassifier(n_features=8, n_classes=3).state_dict()
    rec = _Recorder()
    kwargs = {**TINY_TRAINER_KWARGS, "devices": 2, "strategy": "ddp", "max_epochs": 4}
    trainer = pl.Trainer(**kwargs, callbacks=[PretrainedTransfer(weights, RULES), rec])
    train, val = loaders(*random_datasets(n=128, n_features=8), batch_size=16)
    torch.manual_seed(7)
    trainer.fit(TinyClassifier(n_features=8, n_classes=3, lr=0.01), train, val)
    result = {
        "weights": weights["net.0.weight"].flatten().tolist(),
        "groups": rec.groups,
        "backbone_end": rec.backbone_end,
    }
    with open(f"{out}.{trainer.global_rank}", "w") as f:
        json.dump(result, f)
    close_process_group()


if __name__ == "__main__":
    main()
