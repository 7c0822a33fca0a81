"""Tune a small network on scikit-learn's bundled digits (offline), stored in SQLite.

Prints test accuracy for the AutoML article's starting point (lr=0.001, batch_size=32, SGD) beside
the configuration the study found. Run: `python examples/digits.py` (or `make demo`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.testing import TinyClassifier, digits_datasets

SPACE = {
    "learning_rate": {"type": "continuous", "min": 1e-4, "max": 3e-1, "scale": "log"},
    "batch_size": {"type": "discrete", "values": [16, 32, 64, 128]},
    "hidden": {"type": "integer", "min": 16, "max": 256, "scale": "log"},
    "optimizer": {"type": "categorical", "values": ["sgd", "adam"]},
    "momentum": {"type": "continuous", "min": 0.0, "max": 0.95, "when": {"optimizer": "sgd"}},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
}
EPOCHS = 15


def build(params: dict, data=None):
    train, val, _ = data or digits_datasets(seed=0)
    model = TinyClassifier(
        hidden=params.get("hidden", 64),
        lr=params["learning_rate"],
        optimizer=params["optimizer"],
        dropout=params.get("dropout", 0.0),
        momentum=params.get("momentum", 0.0),
    )
    bs = params["batch_size"]
    return model, DataLoader(train, batch_size=bs, shuffle=True), DataLoader(val, batch_size=512)


def test_accuracy(params: dict, seed: int = 0) -> tuple[float, float]:
    """Retrain `params` from scratch with `seed`; return (test accuracy, seconds)."""
    data = digits_datasets(seed=0)
    pl.seed_everything(seed, verbose=False)
    model, train_loader, val_loader = build(params, data)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    start = time.perf_counter()
    trainer.fit(model, train_loader, val_loader)
    elapsed = time.perf_counter() - start
    result = trainer.test(model, DataLoader(data[2], batch_size=512), verbose=False)
    return result[0]["test_accuracy"], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--storage", default="sqlite:///autotune.db")
    parser.add_argument("--study", default="digits-demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # fit's trials are quiet by default; this also quiets the two test runs at the end.
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")

    started = time.perf_counter()
    study = la.fit(
        build,
        SPACE,
        monitor="val_loss",
        mode="min",
        max_trials=args.trials,
        trainer_kwargs={"max_epochs": EPOCHS, "accelerator": "cpu"},
        storage=args.storage,
        study_name=args.study,
        seed=args.seed,
        pruner=la.MedianPruner(n_startup_trials=5, n_warmup_steps=3),
    )
    counts = {s.value: len(study.get_trials([s])) for s in la.TrialState}
    print(
        f"study {study.name!r} in {args.storage}: {len(study.trials)} trials {counts}, "
        f"{time.perf_counter() - started:.0f} s"
    )

    baseline = {
        "learning_rate": 1e-3,
        "batch_size": 32,
        "optimizer": "sgd",
        "momentum": 0.0,
        "hidden": 64,
        "dropout": 0.0,
    }
    base_acc, base_time = test_accuracy(baseline, args.seed)
    best_acc, best_time = test_accuracy(study.best_params, args.seed)
    print("\n| configuration | test accuracy | train time (s) |")
    print("|---|---|---|")
    print(f"| article's start (lr=0.001, bs=32, SGD) | {base_acc:.3f} | {base_time:.1f} |")
    print(f"| tuned: {study.best_params} | {best_acc:.3f} | {best_time:.1f} |")


if __name__ == "__main__":
    try:
        main()
    except la.StudyInterrupted as stop:  # Ctrl-C: finished trials are kept; rerun to resume
        print(stop, file=sys.stderr)
        sys.exit(130)
