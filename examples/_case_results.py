"""The case-study protocol and the results files that the two case-study examples write.

A case defines its configurations as parameter dicts (the names `schedule_callbacks` reads turn
schedules on); this module retrains each with several seeds, builds the ablation (the best
configuration with one schedule removed) and writes `results.json` and the `results.md` table
that docs/schedules.md includes.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_autotune.callbacks import schedule_callbacks

# Each schedule and the parameters that turn it on; removing them removes the schedule.
SCHEDULES: dict[str, tuple[str, ...]] = {
    "optimizer switch": ("switch_at", "switch_lr_scale", "switch_to"),
    "batch-size ramp": ("batch_size_ramp_at", "batch_size_factor", "batch_size_lr_scaling"),
    "dropout decay": ("dropout_start", "dropout_decay", "dropout_every"),
    "adaptive clipping": ("agc_clip_factor",),
}


@dataclass
class Row:
    """One configuration of the final table and its retrained runs.

    Attributes:
        name: The row label.
        kind: 'baseline', 'arm' or 'ablation'.
        params: The configuration retrained.
        metric: Test metric of each retrain seed.
        seconds: Wall-clock seconds of `trainer.fit` of each seed.
        collapsed: Per seed, whether the run ended at chance level (metric below the case's floor).
        search_seconds: Wall-clock seconds of the search that chose `params` (0: no search).
        search_trials: Trials of that search.
    """

    name: str
    kind: str
    params: dict[str, Any]
    metric: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    collapsed: list[bool] = field(default_factory=list)
    search_seconds: float = 0.0
    search_trials: int = 0


def trainer_kwargs(epochs: int) -> dict[str, Any]:
    """The Trainer of every run of a case: CPU, `epochs` epochs, loaders rebuilt every epoch
    (the batch-size schedules need it), no logger, checkpoint or progress output."""
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


class Curve(pl.Callback):
    """Records the logged `metric` after every epoch's validation run (the plateau check's
    curve); the sanity check's run is not an epoch and is skipped."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.values: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.values.append(float(trainer.callback_metrics[self.metric]))


def plateau_epoch(curve: list[float], tol: float) -> int:
    """The first epoch (1-based) whose validation score is within `tol` of the curve's best.

    Raises:
        ValueError: An empty curve or a negative `tol`.
    """
    if not curve:
        raise ValueError("plateau_epoch needs a validation curve of at least one epoch, got []")
    if tol < 0:
        raise ValueError(f"plateau tolerance must be >= 0, got {tol}; pass e.g. 0.01")
    best = max(curve)
    return next(i + 1 for i, v in enumerate(curve) if v >= best - tol)


def active_schedules(params: dict[str, Any]) -> list[str]:
    """Names of the schedules in `SCHEDULES` that `params` turns on."""
    found = []
    for name, keys in SCHEDULES.items():
        kept = {k: v for k, v in params.items() if k not in keys}
        if len(schedule_callbacks(kept)) < len(schedule_callbacks(params)):
            found.append(name)
    return found


def ablations(
    best: Row, keep: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None
) -> list[Row]:
    """One row per active schedule of `best`: its configuration with that schedule removed.

    Args:
        best: The configuration to ablate.
        keep: Schedule name -> the constant parameters that stand in for it once removed, read
            from `best.params` (e.g. the dropout schedule's start value as a fixed dropout);
            a schedule not named here leaves the model's default.
    """
    keep = keep or {}
    rows = []
    active = active_schedules(best.params)
    every: dict[str, Any] = {}
    for name in active:
        params = {k: v for k, v in best.params.items() if k not in SCHEDULES[name]}
        kept = keep[name](best.params) if name in keep else {}
        every.update(kept)
        rows.append(Row(f"{best.name} without {name}", "ablation", {**params, **kept}))
    if len(active) > 1:
        names = {k for keys in SCHEDULES.values() for k in keys}
        params = {k: v for k, v in best.params.items() if k not in names}
        rows.append(Row(f"{best.name} without any schedule", "ablation", {**params, **every}))
    return rows


def retrain_all(
    rows: list[Row],
    seeds: int,
    retrain: Callable[[dict[str, Any], int], tuple[float, float]],
    *,
    floor: float,
) -> None:
    """Fill every row's runs (`floor`: below it a run counts as collapsed); seeds outermost."""
    for seed in range(seeds):
        for row in rows:
            metric, seconds = retrain(row.params, seed)
            row.metric.append(metric)
            row.seconds.append(seconds)
            row.collapsed.append(metric < floor)
            print(f"seed {seed} {row.name}: {metric:.3f} in {seconds:.1f} s", flush=True)


def mean_std(values: list[float], fmt: str) -> str:
    """`mean ± std` (std 0 for one value), each formatted with `fmt`."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{fmt}} ± {std:{fmt}}"


def table(rows: list[Row], metric_label: str) -> list[str]:
    """The markdown table of the final results."""
    lines = [
        f"| configuration | {metric_label} | collapsed seeds | training time per run (s) "
        "| search compute (s, trials) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        search = f"{row.search_seconds:.0f} ({row.search_trials})" if row.search_trials else "-"
        lines.append(
            f"| {row.name} | {mean_std(row.metric, '.3f')} | {sum(row.collapsed)}/"
            f"{len(row.collapsed)} | {mean_std(row.seconds, '.1f')} | {search} |"
        )
    return lines


def write(
    out: Path,
    payload: dict[str, Any],
    rows: list[Row],
    *,
    metric_label: str,
    preamble: list[str],
    not_run: dict[str, str],
    sweep: Sweep | None = None,
    notes: list[str] | None = None,
) -> None:
    """Write `out`/results.json and `out`/results.md (preamble, table, notes on the arms as
    list items, arms not run, sweep)."""
    out.mkdir(parents=True, exist_ok=True)
    notes = notes or []
    data = {**payload, "notes": notes, "not_run": not_run, "rows": [asdict(r) for r in rows]}
    if sweep is not None:
        data["sweep"] = asdict(sweep)
    (out / "results.json").write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    lines = [*preamble, "", *table(rows, metric_label), ""]
    lines += [f"- {note}" for note in notes]
    lines += [f"- {name}: not run ({why})." for name, why in not_run.items()]
    if sweep is not None:
        lines += ["", *sweep_lines(sweep)]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print(f"results written to {out}/results.json and {out}/results.md")


@dataclass
class Sweep:
    """One parameter varied around a configuration, and the searches' trials over it.

    Attributes:
        param: The parameter varied.
        label: How the sweep's table names it.
        metric_label: The score reported (a validation score: the test set is for the table).
        around: The configuration the sweep varies, by name.
        runs: Parameter value (as text) -> score of each seed.
        trials: (parameter value, validation score) of every finished search trial.
    """

    param: str
    label: str
    metric_label: str
    around: str
    runs: dict[str, list[float]] = field(default_factory=dict)
    trials: list[tuple[float, float]] = field(default_factory=list)


def sweep_lines(sweep: Sweep, top: int = 5) -> list[str]:
    """The markdown of `sweep`: its table, then the `top` search trials by score."""
    lines = [
        f"Sweep of the {sweep.label} around {sweep.around} ({sweep.metric_label}, "
        f"{len(next(iter(sweep.runs.values()), []))} seeds each):",
        "",
        f"| {sweep.label} | {sweep.metric_label} |",
        "|---|---|",
    ]
    lines += [f"| {value} | {mean_std(scores, '.3f')} |" for value, scores in sweep.runs.items()]
    best = sorted(sweep.trials, key=lambda t: -t[1])[:top]
    if best:
        listed = ", ".join(f"{v:.2f} ({s:.3f})" for v, s in best)
        lines += ["", f"The {len(best)} best search trials' {sweep.label} (score): {listed}."]
    return lines


def _plain(value: Any) -> str:
    return str(value)
