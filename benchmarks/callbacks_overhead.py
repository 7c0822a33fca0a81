"""How much the schedule callbacks add to the time of a training step (target: under 2%).

Each configuration trains the same model (`--model mlp|cnn`) on the same random data for the same
number of steps, and the schedules are chosen so the work per step stays the same (the batch size
schedule keeps the size, the switch goes from Adam to a fresh Adam, dropout stays on), so any
difference is the callbacks' own cost. Configurations run interleaved in rotating order, `--rounds`
times, in one process; the first epoch of every run is a warm-up and is not timed. Reported: the
median seconds per step of each configuration, and the median over rounds of (configuration /
baseline) from the same round. Per run, the time of a step is the median interval between
consecutive batch starts. Because a difference of step times on a shared machine is noisy at the 2%
level, the script also clocks the time spent inside the callbacks' own hooks: the hooks called
every step (summed per step after the first epoch; median and mean over steps, and as a share of
the baseline step: the direct measure of the overhead; the mean also carries the stalls other
processes cause) and the hooks called once per epoch or per run (per epoch, first-call costs and
the first epoch's per-step hooks included).

Run: `PYTHONPATH=. python benchmarks/callbacks_overhead.py [--rounds 7] [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_autotune.callbacks import (
    AdaptiveGradientClipping,
    DropoutSchedule,
    DynamicBatchSize,
    OptimizerSwitch,
    StepDecay,
)

BATCH = 128


class Net(pl.LightningModule):
    """'mlp': 256-width-width-10 (parameter-bound: the worst case for per-parameter work);
    'cnn': two 3x3 conv layers on 1x28x28 inputs, then a linear head (compute-bound)."""

    def __init__(self, n: int, width: int, model: str = "mlp") -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        if model == "mlp":
            x = torch.randn(n, 256, generator=g)
            self.net = nn.Sequential(
                nn.Linear(256, width),
                nn.ReLU(),
                nn.Dropout(0.2),
                nn.Linear(width, width),
                nn.ReLU(),
                nn.Linear(width, 10),
            )
        else:
            x = torch.randn(n, 1, 28, 28, generator=g)
            self.net = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Dropout(0.2),
                nn.Linear(32 * 7 * 7, 10),
            )
        self.data = TensorDataset(x, x.flatten(1)[:, :10].argmax(-1))
        self.batch_size = BATCH

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=self.batch_size, shuffle=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class HookClock:
    """Wraps the hooks of some callbacks and clocks the time spent inside them.

    This measures the callbacks' own cost directly, unlike a difference of two step times, which
    is noisy at the 2% level on a shared machine. The time in per-step hooks is summed per step
    (`StepTimer` closes each step); like the step time, it is kept after the first epoch only,
    so one-time costs (first calls, allocations) land in the per-epoch figure instead.
    """

    def __init__(self, callbacks: list[pl.Callback]) -> None:
        self.per_step: list[float] = []  # seconds in per-step hooks, one entry per timed step
        self.other_seconds = 0.0  # hooks called once per epoch or per run, and the first epoch
        self._open = 0.0
        for cb in callbacks:
            for name in _HOOKS:
                if getattr(type(cb), name) is not getattr(pl.Callback, name):
                    setattr(cb, name, self._timed(getattr(cb, name), name in _STEP_HOOKS))

    def close_step(self, timed: bool) -> None:
        if timed:
            self.per_step.append(self._open)
        self._open = 0.0

    def _timed(self, hook: Any, per_step: bool) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return hook(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                if per_step and args[0].current_epoch > 0:
                    self._open += elapsed
                else:
                    self.other_seconds += elapsed

        return timed


class StepTimer(pl.Callback):
    """First in the callback list: the intervals between consecutive batch starts (one whole
    step, every hook included) after the first epoch; also closes each step of a `HookClock`.
    Medians resist the spikes that other processes on a shared machine cause."""

    def __init__(self, clock: HookClock) -> None:
        self.clock = clock
        self.intervals: list[float] = []
        self._last: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = None

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        now = time.perf_counter()
        timed = self._last is not None and trainer.current_epoch > 0
        if timed:
            assert self._last is not None
            self.intervals.append(now - self._last)
        self.clock.close_step(timed)
        self._last = now


_HOOKS = (
    "setup",
    "on_fit_start",
    "on_train_epoch_start",
    "on_train_batch_end",
    "on_before_optimizer_step",
    "on_train_epoch_end",
)

_STEP_HOOKS = ("on_train_batch_end", "on_before_optimizer_step")


def configs() -> dict[str, list[pl.Callback] | None]:
    """Name -> a factory's result (fresh callbacks per run)."""
    return {
        "baseline": [],
        "DynamicBatchSize": [DynamicBatchSize({0: BATCH, 0.5: BATCH})],
        "OptimizerSwitch": [OptimizerSwitch(at=1, optimizer="adam")],
        "DropoutSchedule": [DropoutSchedule(StepDecay(0.3, 0.05))],
        "AdaptiveGradientClipping": [AdaptiveGradientClipping(clip_factor=0.1)],
        "all four": [
            DynamicBatchSize({0: BATCH, 0.5: BATCH}),
            OptimizerSwitch(at=1, optimizer="adam"),
            DropoutSchedule(StepDecay(0.3, 0.05)),
            AdaptiveGradientClipping(clip_factor=0.1),
        ],
    }


def run_once(
    callbacks: list[pl.Callback], epochs: int, n: int, width: int, model: str
) -> tuple[float, float, float, float]:
    """Median seconds per step; median and mean seconds in per-step hooks per step; seconds in
    other hooks per epoch."""
    clock = HookClock(callbacks)
    timer = StepTimer(clock)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        reload_dataloaders_every_n_epochs=1,
        limit_val_batches=0,
        callbacks=[timer, *callbacks],
    )
    pl.seed_everything(0, verbose=False)
    trainer.fit(Net(n, width, model))
    return (
        statistics.median(timer.intervals),
        statistics.median(clock.per_step),
        statistics.mean(clock.per_step),
        clock.other_seconds / epochs,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--quick", action="store_true", help="3 rounds, for development only")
    parser.add_argument(
        "--out", default=None, help="default benchmarks/results/callbacks_<model>/results.md"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    rounds = 3 if args.quick else args.rounds
    n = BATCH * 20
    names = list(configs())
    times: dict[str, list[float]] = {name: [] for name in names}
    hooks: dict[str, list[float]] = {name: [] for name in names}
    hooks_mean: dict[str, list[float]] = {name: [] for name in names}
    per_epoch: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            cbs = configs()[name]
            assert cbs is not None
            step, hook, hook_mean, other = run_once(cbs, args.epochs, n, args.width, args.model)
            times[name].append(step)
            hooks[name].append(hook)
            hooks_mean[name].append(hook_mean)
            per_epoch[name].append(other)
    base = times["baseline"]
    model_text = (
        f"MLP 256-{args.width}-{args.width}-10" if args.model == "mlp" else "CNN conv16-conv32-fc"
    )
    lines = [
        f"# Schedule callback overhead ({'QUICK, development only' if args.quick else 'full'})",
        "",
        f"Command: `PYTHONPATH=. python benchmarks/callbacks_overhead.py --model {args.model} "
        f"--rounds {rounds}`; {platform.machine()}, {os.cpu_count()} cores (shared), 1 torch "
        f"thread, {model_text}, batch {BATCH}, Adam, {args.epochs - 1} timed epochs x 20 steps "
        f"per run, {rounds} interleaved rounds. Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| configuration | median ms / step | median ratio to baseline | IQR of ratio | "
        "ms / step in per-step hooks, median (mean) | as % of the baseline step, median (mean) | "
        "ms / epoch in other hooks |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        ratios = [t / b for t, b in zip(times[name], base, strict=True)]
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        lines.append(
            f"| {name} | {1000 * statistics.median(times[name]):.2f} | "
            f"{statistics.median(ratios):.3f} | {q[0]:.3f} - {q[2]:.3f} | "
            f"{1000 * statistics.median(hooks[name]):.3f} "
            f"({1000 * statistics.median(hooks_mean[name]):.3f}) | "
            f"{100 * statistics.median(hooks[name]) / statistics.median(base):.2f}% "
            f"({100 * statistics.median(hooks_mean[name]) / statistics.median(base):.2f}%) | "
            f"{1000 * statistics.median(per_epoch[name]):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out or f"benchmarks/results/callbacks_{args.model}/results.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
