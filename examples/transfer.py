"""Pretrained on digits 0-4, tuned on digits 5-9: scratch, fixed transfer rules, tuned rules.

A small CNN is pretrained on scikit-learn's bundled digits 0-4 (offline) and saved with
`torch.save(model.state_dict(), path)`. On digits 5-9, with few training images, three arms
each get the same trial budget of `lightning_autotune.fit`:

- scratch: the learning rate tuned, random initialization;
- fixed rules: the pretrained backbone frozen, joining the optimizer half-way at a tenth of the
  learning rate (Lightning's `BackboneFinetuning` ratio of 0.1; its default unfreeze epoch, 10,
  lies past this run's last epoch), the head reinitialized; the learning rate tuned;
- tuned rules: the same rules, with the backbone's `lr_multiplier` and `unfreeze_at` searched
  beside the learning rate (`transfer_space` / `rules_from_params`).

The best configuration of each arm is retrained and scored on held-out test images; the table
gives mean and std over the seeds. Writes benchmarks/results/transfer/results.{json,md}.
Run: `python examples/transfer.py` (5 seeds, 16 trials per arm, 25 training images).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_autotune as la
from lightning_autotune.callbacks import PretrainedTransfer
from lightning_autotune.transfer import rules_from_params, transfer_space

EPOCHS = 8
OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "transfer"
RULES: dict[str, Any] = {
    "features.*": {"method": "freeze", "unfreeze_at": 0.5, "lr_multiplier": 0.1},
    "classifier.*": "reinit",
}
LR_SPACE = {"lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"}}
TRAINER = {"max_epochs": EPOCHS, "accelerator": "cpu"}


class DigitsCNN(pl.LightningModule):
    """Two conv blocks with BatchNorm (the backbone) and a linear classifier over 5 classes."""

    def __init__(self, lr: float = 1e-2) -> None:
        super().__init__()
        self.lr = lr
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(128, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_accuracy", (self(x).argmax(-1) == y).float().mean())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_accuracy", (self(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def tasks(seed: int, n_train: int) -> dict[str, TensorDataset]:
    """Digits 0-4 (all, for pretraining) and 5-9 split into a few train images, val and test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y)
    low, high = y < 5, y >= 5
    xh, yh = x[high].numpy(), (y[high] - 5).numpy()
    x_tr, x_rest, y_tr, y_rest = train_test_split(
        xh, yh, train_size=n_train, random_state=seed, stratify=yh
    )
    x_va, x_te, y_va, y_te = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )

    def ds(a: Any, b: Any) -> TensorDataset:
        return TensorDataset(torch.as_tensor(a), torch.as_tensor(b))

    return {
        "source": TensorDataset(x[low], y[low]),
        "train": ds(x_tr, y_tr),
        "val": ds(x_va, y_va),
        "test": ds(x_te, y_te),
    }


def pretrain(data: dict[str, TensorDataset], path: Path, seed: int) -> None:
    pl.seed_everything(seed, verbose=False)
    model = DigitsCNN(lr=3e-3)
    loader = DataLoader(data["source"], batch_size=64, shuffle=True)
    _trainer(10).fit(model, loader)
    torch.save(model.state_dict(), path)


def _trainer(epochs: int) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def arm_callbacks(arm: str, weights: Path) -> Any:
    """The `callbacks(params)` factory of `fit` for one arm (None: no transfer)."""
    if arm == "scratch":
        return None
    if arm == "fixed rules":
        return lambda params: [PretrainedTransfer(weights, RULES)]
    return lambda params: [PretrainedTransfer(weights, rules_from_params(RULES, params))]


def run_arm(arm: str, data: dict[str, TensorDataset], weights: Path, seed: int, trials: int):
    def build(params: dict[str, Any]) -> Any:
        return (
            DigitsCNN(lr=params["lr"]),
            DataLoader(data["train"], batch_size=16, shuffle=True),
            DataLoader(data["val"], batch_size=512),
        )

    space = dict(LR_SPACE)
    if arm == "tuned rules":
        space.update(transfer_space(RULES, lr_multiplier=(1e-3, 1.0), unfreeze_at=(0.1, 0.9)))
    started = time.perf_counter()
    study = la.fit(
        build,
        space,
        monitor="val_accuracy",
        mode="max",
        max_trials=trials,
        trainer_kwargs=TRAINER,
        storage=None,
        seed=seed,
        callbacks=arm_callbacks(arm, weights),
        progress=False,
    )
    tuning_s = time.perf_counter() - started
    best = dict(study.best_params)
    # Retrain the best configuration once and score it on the held-out test images.
    pl.seed_everything(seed, verbose=False)
    model, train_loader, val_loader = build(best)
    factory = arm_callbacks(arm, weights)
    trainer = _trainer(EPOCHS)
    trainer.callbacks.extend(factory(best) if factory else [])  # type: ignore[attr-defined]
    start = time.perf_counter()
    trainer.fit(model, train_loader, val_loader)
    train_s = time.perf_counter() - start
    test = trainer.test(model, DataLoader(data["test"], batch_size=512), verbose=False)
    return {
        "arm": arm,
        "seed": seed,
        "best_params": best,
        "best_val_accuracy": study.best_value,
        "test_accuracy": test[0]["test_accuracy"],
        "retrain_s": train_s,
        "tuning_s": tuning_s,
    }


def table(runs: list[dict[str, Any]], seeds: int, trials: int, n_train: int) -> str:
    def mean_std(values: list[float], fmt: str) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):{fmt}} ± {sd:{fmt}}"

    lines = [
        f"Digits 5-9 with {n_train} training images, {EPOCHS} epochs, {trials} trials per arm, "
        f"{seeds} seed(s); mean ± std over seeds.",
        "",
        "| arm | test accuracy | best val accuracy | retrain time (s) | tuning time (s) |",
        "|---|---|---|---|---|",
    ]
    for arm in ("scratch", "fixed rules", "tuned rules"):
        rows = [r for r in runs if r["arm"] == arm]
        lines.append(
            f"| {arm} | {mean_std([r['test_accuracy'] for r in rows], '.3f')} | "
            f"{mean_std([r['best_val_accuracy'] for r in rows], '.3f')} | "
            f"{mean_std([r['retrain_s'] for r in rows], '.1f')} | "
            f"{mean_std([r['tuning_s'] for r in rows], '.0f')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--train-images", type=int, default=25)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            data = tasks(seed, args.train_images)
            weights = Path(tmp, f"digits04_seed{seed}.pt")
            pretrain(data, weights, seed)
            for arm in ("scratch", "fixed rules", "tuned rules"):
                runs.append(run_arm(arm, data, weights, seed, args.trials))
                print(json.dumps(runs[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"seeds": args.seeds, "trials": args.trials, "epochs": EPOCHS}
    meta["train_images"] = args.train_images
    (args.out / "results.json").write_text(json.dumps({**meta, "runs": runs}, indent=2) + "\n")
    md = table(runs, args.seeds, args.trials, args.train_images)
    (args.out / "results.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
