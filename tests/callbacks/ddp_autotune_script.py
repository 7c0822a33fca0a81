"""Run by test_autotune_ddp.py: a 2-process CPU DDP (gloo) run with AutoTuneCallback.

Usage: python ddp_autotune_script.py SCENARIO OUT_JSON
SCENARIO: 'prune' (the pruner stops the run), 'store_error' (rank 0's store refuses the report),
'rank_error' (only rank 1 misses a metric).
"""

from __future__ import annotations

import json
import sys

import lightning.pytorch as pl
import torch

from lightning_autotune import TrialState, create_study
from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.pruners import DivergencePruner
from lightning_autotune.testing import (
    TINY_TRAINER_KWARGS,
    TinyClassifier,
    close_process_group,
    loaders,
    random_datasets,
)


class _RankModel(TinyClassifier):
    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        if self.global_rank == 0:
            self.log("rank0_only", 1.0)


def main() -> None:
    scenario, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    pruner = DivergencePruner(threshold=-1.0) if scenario == "prune" else None
    study = create_study(
        space={"lr": {"type": "continuous", "min": 1e-4, "max": 1.0}}, pruner=pruner
    )
    trial = study.ask({"lr": 0.01})
    monitor: str | CompositeMetric = "val_loss"
    if scenario == "store_error":
        study.tell(trial, state=TrialState.FAILED, reason="marked failed by a coordinator")
    if scenario == "rank_error":
        monitor = CompositeMetric.of("val_loss", "rank0_only")
    cb = AutoTuneCallback(trial, monitor=monitor)
    kwargs = {**TINY_TRAINER_KWARGS, "devices": 2, "strategy": "ddp", "max_epochs": 3}
    trainer = pl.Trainer(**kwargs, callbacks=[cb], val_check_interval=2)
    train, val = loaders(*random_datasets(n=128, n_features=8), batch_size=16)
    trainer.fit(_RankModel(n_features=8, n_classes=3, lr=0.01), train, val)
    if trainer.is_global_zero and trial.prune_reason is not None:
        study.tell(trial, state=TrialState.PRUNED, reason=trial.prune_reason)
    result = {
        "rank": trainer.global_rank,
        "pruned": cb.pruned,
        "should_stop": trainer.should_stop,
        "global_step": trainer.global_step,
        "reason": trial.prune_reason,
    }
    if trainer.is_global_zero:
        record = trial.snapshot()
        result |= {"state": record.state.value, "steps": sorted(record.intermediate)}
    with open(f"{out}.{trainer.global_rank}", "w") as fh:
        json.dump(result, fh)
    close_process_group()


if __name__ == "__main__":
    main()
