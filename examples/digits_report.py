"""Tune a small network on scikit-learn's digits (offline), then look at the study.

Writes `digits_report/`: one PNG per plot and `report.html` (plots inline plus the trial table),
and prints the GP-based parameter importances and the local sensitivity around the best
configuration. Run: `python examples/digits_report.py [--trials 12] [--epochs 4]`.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.analysis import (
    plot_intermediate_values,
    plot_local_sensitivity,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
    sensitivity_analysis,
    write_report,
)
from lightning_autotune.testing import TinyClassifier, digits_datasets

SPACE = {
    "learning_rate": {"type": "continuous", "min": 1e-4, "max": 3e-1, "scale": "log"},
    "hidden": {"type": "integer", "min": 16, "max": 256, "scale": "log"},
    "optimizer": {"type": "categorical", "values": ["sgd", "adam"]},
    "momentum": {"type": "continuous", "min": 0.0, "max": 0.95, "when": {"optimizer": "sgd"}},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default="digits_report")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    train, val, _ = digits_datasets(seed=0)

    def build(params: dict):
        model = TinyClassifier(
            hidden=params["hidden"],
            lr=params["learning_rate"],
            optimizer=params["optimizer"],
            dropout=params["dropout"],
            momentum=params.get("momentum", 0.0),
        )
        return model, DataLoader(train, batch_size=64, shuffle=True), DataLoader(val, 512)

    study = la.fit(
        build,
        SPACE,
        monitor="val_loss",
        mode="min",
        max_trials=args.trials,
        trainer_kwargs={"max_epochs": args.epochs},
        storage=None,
        study_name="digits-analysis",
        seed=0,
    )
    out = Path(args.out)
    plot_optimization_history(study, path=out / "history.png")
    plot_intermediate_values(study, path=out / "curves.png")
    plot_parallel_coordinate(study, path=out / "parallel.png")
    plot_slice(study, path=out / "slice.png")
    result = sensitivity_analysis(study)
    plot_param_importances(result.importances, path=out / "importance.png")
    plot_local_sensitivity(result, path=out / "local.png")
    write_report(study, out / "report.html")
    print(f"best val_loss {study.best_value:.4f} with {study.best_params}")
    print("importance (share of the GP mean's variance):")
    for p in result.importances:
        print(f"  {p.name:14s} {p.importance:.3f}")
    print("largest predicted change when moving one parameter alone:")
    for c in sorted(result.local, key=lambda c: -c.spread):
        print(f"  {c.name:14s} {c.spread:.4f}")
    print(f"wrote {out / 'report.html'}")


if __name__ == "__main__":
    main()
