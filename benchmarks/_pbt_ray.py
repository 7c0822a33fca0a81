"""Ray Tune's PBT or PB2 on the task of `benchmarks.pbt`, run as its own process.

    python -m benchmarks._pbt_ray ray_pbt|ray_pb2 SEED EPOCHS OUT.json

Writes the best trial's (last validation loss) final checkpoint path and its values to OUT.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from benchmarks.pbt import (
    FACTORS,
    INTERVAL,
    LR,
    MOMENTUM,
    POPULATION,
    QUANTILE,
    RESAMPLE,
    TRAINER,
    build,
)


class _SetConfig(pl.Callback):
    """After a restore, the explored config (not the checkpoint's) sets the optimizer."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for group in trainer.optimizers[0].param_groups:
            group["lr"], group["momentum"] = self.config["lr"], self.config["momentum"]


def _trainable(config: dict[str, Any]) -> None:
    from ray import tune
    from ray.tune.integration.pytorch_lightning import TuneReportCheckpointCallback

    torch.set_num_threads(1)
    pl.seed_everything(config["seed"], verbose=False)
    module, train, val = build(config)
    report = TuneReportCheckpointCallback({"val_loss": "val_loss"}, on="validation_end")
    trainer = pl.Trainer(
        max_epochs=config["epochs"], callbacks=[_SetConfig(config), report], **TRAINER
    )
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        trainer.fit(module, train, val)
        return
    with checkpoint.as_directory() as folder:
        trainer.fit(module, train, val, ckpt_path=os.path.join(folder, "checkpoint"))


def main(method: str, seed: int, epochs: int, out: Path) -> None:
    import ray
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.schedulers.pb2 import PB2
    from ray.tune.search.basic_variant import BasicVariantGenerator

    random.seed(seed)
    np.random.seed(seed)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    if method == "ray_pb2":
        scheduler: Any = PB2(
            time_attr="training_iteration",
            perturbation_interval=INTERVAL,
            quantile_fraction=QUANTILE,
            hyperparam_bounds={"lr": list(LR), "momentum": list(MOMENTUM)},
        )
    else:
        scheduler = PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=INTERVAL,
            quantile_fraction=QUANTILE,
            resample_probability=RESAMPLE,
            perturbation_factors=(FACTORS[1], FACTORS[0]),
            hyperparam_mutations={
                "lr": tune.loguniform(*LR),
                "momentum": tune.uniform(*MOMENTUM),
            },
        )
    storage = str(out.parent / "ray")  # inside the caller's temporary folder, removed with it
    tuner = tune.Tuner(
        tune.with_resources(_trainable, {"cpu": 0.5}),
        param_space={
            "lr": tune.loguniform(*LR),
            "momentum": tune.uniform(*MOMENTUM),
            "seed": seed,
            "epochs": epochs,
        },
        tune_config=tune.TuneConfig(
            scheduler=scheduler,
            num_samples=POPULATION,
            metric="val_loss",
            mode="min",
            search_alg=BasicVariantGenerator(random_state=seed),
        ),
        run_config=tune.RunConfig(
            storage_path=storage,
            stop={"training_iteration": epochs},
            # Every checkpoint kept (Ray's default): PBT restores members from older ones.
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            verbose=0,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result(metric="val_loss", mode="min", scope="last")
    assert best.checkpoint is not None
    path = Path(best.checkpoint.path) / "checkpoint"
    out.write_text(
        json.dumps(
            {
                "checkpoint": str(path),
                "val_loss": float(best.metrics["val_loss"]),
                "errors": sum(r.error is not None for r in results),
                "error_messages": sorted({str(r.error)[-300:] for r in results if r.error}),
            }
        )
    )
    ray.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
