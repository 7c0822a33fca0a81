"""Pruning benchmark: the same trial configs under no pruning, our pruners and Optuna's.

Run from the repository root:

    python -m benchmarks.pruning            # full: 3 config sequences x 30 trials x 20 epochs
    python -m benchmarks.pruning --quick    # development only: 1 sequence x 12 trials x 8 epochs

Task: an MLP on scikit-learn's digits (offline; 60/20/20 train/val/test split), objective the
final validation loss. For each sequence seed the trial configs are drawn once (uniform random
draws from a fixed seed, plus two deliberately bad configs: a diverging learning rate and one too
small to learn) and every policy runs exactly the same configs with the same per-trial torch seed.
Trials are interleaved: trial i runs under every policy before trial i + 1, so machine noise hits
all policies alike. Each policy's result is the config with the best final validation loss among
its COMPLETE trials; its test accuracy is reported. A false prune means the no-pruning winner
(the best config of the sequence) was pruned.

Outputs: benchmarks/results/pruning/results.md (the table docs/results.md includes), raw.json and
pruning.png.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from benchmarks._pruning_report import write
from lightning_autotune.callbacks import AutoTuneCallback
from lightning_autotune.pruners import (
    AdaptiveThresholdPruner,
    AnyPruner,
    DivergencePruner,
    HyperbandPruner,
    MedianPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
)
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import Study, create_study
from lightning_autotune.testing import TinyClassifier, digits_datasets
from lightning_autotune.trial import TrialState

RESULTS = Path(__file__).parent / "results" / "pruning"
BATCH_SIZE = 64

SPACE = SearchSpace(
    {
        "lr": Float(1e-5, 10.0, log=True),
        "hidden": Int(8, 128, log=True),
        "optimizer": Categorical(["adam", "sgd"]),
        "dropout": Float(0.0, 0.5),
        "momentum": Float(0.0, 0.95),
    }
)
BAD_CONFIGS = (
    {"lr": 8.0, "hidden": 64, "optimizer": "adam", "dropout": 0.0, "momentum": 0.0},
    {"lr": 1e-5, "hidden": 16, "optimizer": "sgd", "dropout": 0.3, "momentum": 0.0},
)


@dataclass
class TrialResult:
    number: int
    epochs: float
    seconds: float
    pruned: bool
    final_val_loss: float
    test_accuracy: float | None
    curve: list[float] = field(default_factory=list)


@dataclass
class PolicyRun:
    name: str
    trials: list[TrialResult] = field(default_factory=list)

    @property
    def epochs(self) -> float:
        return sum(t.epochs for t in self.trials)

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trials)

    def best(self) -> TrialResult | None:
        done = [t for t in self.trials if not t.pruned and math.isfinite(t.final_val_loss)]
        return min(done, key=lambda t: t.final_val_loss) if done else None


class _BatchCounter(pl.Callback):
    """Counts training batches (so epochs spent include the epoch a prune interrupts) and keeps
    the validation loss curve."""

    def __init__(self) -> None:
        self.batches = 0
        self.curve: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.batches += 1

    def on_validation_end(self, trainer: pl.Trainer, *args: Any) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if not trainer.sanity_checking and value is not None:
            self.curve.append(float(value))


def make_configs(seed: int, n_trials: int) -> list[dict[str, Any]]:
    """`n_trials` configs: uniform random draws with the two bad configs at fixed places."""
    configs = SPACE.sample(n_trials - len(BAD_CONFIGS), seed)
    configs.insert(1, dict(BAD_CONFIGS[0]))
    configs.insert(n_trials // 2, dict(BAD_CONFIGS[1]))
    return [SPACE.validate(c) for c in configs]


def train_one(
    config: dict[str, Any],
    torch_seed: int,
    data: tuple[Any, Any, Any],
    max_epochs: int,
    callbacks: list[pl.Callback],
) -> tuple[float, float, float, float | None, BaseException | None, list[float]]:
    """Train one config; returns (epochs, seconds, final val loss, test accuracy, exception,
    validation loss curve)."""
    train, val, test = data
    pl.seed_everything(torch_seed, verbose=False)
    model = TinyClassifier(
        hidden=config["hidden"],
        lr=config["lr"],
        optimizer=config["optimizer"],
        dropout=config["dropout"],
        momentum=config.get("momentum", 0.0),
    )
    generator = torch.Generator().manual_seed(torch_seed)
    train_loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, generator=generator)
    val_loader = DataLoader(val, batch_size=512)
    counter = _BatchCounter()
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[counter, *callbacks],
    )
    error: BaseException | None = None
    start = time.perf_counter()
    try:
        trainer.fit(model, train_loader, val_loader)
    except Exception as err:  # Optuna's callback raises TrialPruned out of fit
        error = err
    seconds = time.perf_counter() - start
    epochs = counter.batches / max(1, len(train_loader))
    value = trainer.callback_metrics.get("val_loss")
    final = float(value) if value is not None else math.nan
    model.eval()
    with torch.no_grad():
        x, y = test.tensors
        accuracy = float((model(x).argmax(-1) == y).float().mean()) * 100
    return epochs, seconds, final, accuracy, error, counter.curve


Policy = Callable[[dict[str, Any], int], TrialResult]


def ours(study: Study, data: Any, max_epochs: int, number_offset: int) -> Policy:
    def run(config: dict[str, Any], number: int) -> TrialResult:
        trial = study.ask(params=config)
        callback = AutoTuneCallback(trial, monitor="val_loss", mode="min")
        epochs, secs, final, acc, err, curve = train_one(
            config, number_offset + number, data, max_epochs, [callback]
        )
        if err is not None:
            raise err
        pruned = trial.prune_reason is not None
        if pruned:
            study.tell(trial, state=TrialState.PRUNED, reason=trial.prune_reason)
        else:
            study.tell(trial, final)
        return TrialResult(number, epochs, secs, pruned, final, None if pruned else acc, curve)

    return run


def no_pruning(data: Any, max_epochs: int, number_offset: int) -> Policy:
    def run(config: dict[str, Any], number: int) -> TrialResult:
        epochs, secs, final, acc, err, curve = train_one(
            config, number_offset + number, data, max_epochs, []
        )
        if err is not None:
            raise err
        return TrialResult(number, epochs, secs, False, final, acc, curve)

    return run


def optuna_policy(pruner: Any, data: Any, max_epochs: int, number_offset: int) -> Policy:
    import optuna
    from optuna_integration import PyTorchLightningPruningCallback

    study = optuna.create_study(direction="minimize", pruner=pruner)

    def run(config: dict[str, Any], number: int) -> TrialResult:
        trial = study.ask()
        params = {
            "lr": trial.suggest_float("lr", 1e-5, 10.0, log=True),
            "hidden": trial.suggest_int("hidden", 8, 128, log=True),
            "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd"]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "momentum": trial.suggest_float("momentum", 0.0, 0.95),
        }
        del params  # the enqueued config below is what runs; suggest_* only registers it
        callback = PyTorchLightningPruningCallback(trial, monitor="val_loss")
        epochs, secs, final, acc, err, curve = train_one(
            config, number_offset + number, data, max_epochs, [callback]
        )
        if isinstance(err, optuna.TrialPruned):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return TrialResult(number, epochs, secs, True, final, None, curve)
        if err is not None:
            raise err
        study.tell(
            trial,
            final if math.isfinite(final) else None,
            state=None if math.isfinite(final) else optuna.trial.TrialState.FAIL,
        )
        return TrialResult(number, epochs, secs, False, final, acc, curve)

    def run_enqueued(config: dict[str, Any], number: int) -> TrialResult:
        study.enqueue_trial(config)
        return run(config, number)

    return run_enqueued


def policies(data: Any, max_epochs: int, offset: int) -> dict[str, Policy]:
    import optuna

    steps_per_epoch = math.ceil(len(data[0]) / BATCH_SIZE)

    def study(pruner: Pruner) -> Study:
        return create_study(
            space=SPACE, storage=InMemoryStorage(), direction="minimize", pruner=pruner, seed=0
        )

    ours_pruners: dict[str, Pruner] = {
        "ours: MedianPruner": MedianPruner(n_startup_trials=5),
        "ours: PercentilePruner(25)": PercentilePruner(25.0, n_startup_trials=5),
        "ours: SuccessiveHalvingPruner": SuccessiveHalvingPruner(
            min_resource=steps_per_epoch, reduction_factor=3
        ),
        "ours: HyperbandPruner": HyperbandPruner(
            min_resource=steps_per_epoch,
            max_resource=steps_per_epoch * max_epochs,
            reduction_factor=3,
        ),
        "ours: DivergencePruner": DivergencePruner(
            growth_factor=3.0, n_warmup_steps=steps_per_epoch
        ),
        "ours: AdaptiveThresholdPruner": AdaptiveThresholdPruner(),  # defaults
        "ours: Divergence + Adaptive": AnyPruner(
            [
                DivergencePruner(growth_factor=3.0, n_warmup_steps=steps_per_epoch),
                AdaptiveThresholdPruner(),
            ]
        ),
    }
    out: dict[str, Policy] = {"no pruning": no_pruning(data, max_epochs, offset)}
    for name, pruner in ours_pruners.items():
        out[name] = ours(study(pruner), data, max_epochs, offset)
    out["optuna: MedianPruner"] = optuna_policy(
        optuna.pruners.MedianPruner(), data, max_epochs, offset
    )
    out["optuna: HyperbandPruner"] = optuna_policy(
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3),
        data,
        max_epochs,
        offset,
    )
    return out


def run_sequence(seed: int, n_trials: int, max_epochs: int) -> dict[str, PolicyRun]:
    data = digits_datasets(seed=0)
    configs = make_configs(seed, n_trials)
    offset = 1000 * seed
    runners = policies(data, max_epochs, offset)
    runs = {name: PolicyRun(name) for name in runners}
    train_one(configs[0], 0, data, 1, [])  # warm-up, so the first timed trial pays no import cost
    for number, config in enumerate(configs):
        for name, runner in runners.items():
            runs[name].trials.append(runner(config, number))
        print(f"  seed {seed} trial {number + 1}/{n_trials} done", flush=True)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="development only: small and fast")
    parser.add_argument("--seeds", type=int, default=None, help="number of config sequences")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    n_seq = args.seeds or (1 if args.quick else 3)
    n_trials = args.trials or (12 if args.quick else 30)
    max_epochs = args.epochs or (8 if args.quick else 20)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    all_runs = []
    for seed in range(n_seq):
        print(f"sequence seed {seed}: {n_trials} trials x {max_epochs} epochs", flush=True)
        all_runs.append(run_sequence(seed, n_trials, max_epochs))
        write(all_runs, args.quick, started, n_trials, max_epochs, RESULTS)


if __name__ == "__main__":
    main()
