"""The population-based-training and transfer arms of the case studies, and merging arms run on
their own into a stored run.

A population's best member is replayed from scratch in each retrain: its schedule (segments of
hyperparameters by start epoch) is stored in the row's params under `POPULATION_KEY`, so the
row stays plain JSON and `replay_setup` rebuilds the callback from it.

`--only pbt,transfer` runs just those arms and merges their rows into the results.json that a
full run wrote, after checking that the stored run used the same protocol (`check_protocol`):
the same data, splits, epochs, trials and retrain seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _case_results import Row, Sweep, write

import lightning_autotune as la
from lightning_autotune._lineage import Segment, lineages
from lightning_autotune.population import PopulationBasedTraining, PopulationSchedule, replay
from lightning_autotune.storage import InMemoryStorage

POPULATION_KEY = "population_schedule"
ARMS = ("pbt", "transfer")
NOT_RUN_LABELS = {
    "pbt": "population-based training arm",
    "transfer": "transfer from a related task arm",
}


# A population switches to SGD with momentum 0.9 (its SGD when the space has no `momentum`),
# the optimizer the case models call 'momentum'; their 'sgd' is the article's plain SGD.
POPULATION_OPTIMIZERS = {"sgd": "momentum"}


def model_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A population member's params in the case models' terms (its optimizer names mapped)."""
    out = dict(params)
    if "optimizer" in out:
        out["optimizer"] = POPULATION_OPTIMIZERS.get(out["optimizer"], out["optimizer"])
    return out


class ProtocolMismatch(ValueError):
    """A merge was refused: the stored run used another protocol than this one."""


def population_interval(epochs: int) -> int:
    """Epochs between two boundaries: a quarter of the run (at least 1), so four exploits."""
    return max(1, epochs // 4)


def population_arm(
    build: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    *,
    monitor: str,
    members: int,
    trainer_kwargs: dict[str, Any],
    name: str,
) -> tuple[Row, int]:
    """Population-based training over `space` (`members` members, each for the trainer's
    epochs); the best member's schedule as a row, replayed by `replay_setup` when retrained,
    and the number of copies (exploits) the members made.

    `build` receives the members' params as `model_params` maps them. The members train side by
    side, one process each, on a throwaway SQLite store, so that at every boundary a member can
    copy from any other (members run one after another copy only from those already past it).
    """
    epochs = int(trainer_kwargs["max_epochs"])
    population = PopulationBasedTraining(
        population_size=members, interval=population_interval(epochs), quantile=0.25, seed=0
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="case-pbt-") as checkpoints:
        study = la.fit(
            lambda p: build(model_params(p)),
            dict(space),
            monitor=monitor,
            mode="max",
            population=population,
            trainer_kwargs=trainer_kwargs,
            storage=f"sqlite:///{Path(checkpoints) / 'population.db'}",
            seed=0,
            checkpoint_dir=checkpoints,
            progress=False,
        )
    seconds = time.perf_counter() - started
    params = replayed_params(study)
    copies = sum(len(lineage.copies) for lineage in lineages(study.trials).values())
    print(f"{name}: {len(study.trials)} members, {copies} copies in {seconds:.0f} s, best {params}")
    row = Row(name, "arm", params, search_seconds=seconds, search_trials=len(study.trials))
    return row, copies


def transfer_arm(
    source: Callable[[dict[str, Any]], Any],
    target: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    *,
    fixed: Mapping[str, Any],
    monitor: str,
    trials: int,
    trainer_kwargs: dict[str, Any],
    name: str,
) -> tuple[Row, float]:
    """A study on the source task, then the target's search warm-started from it.

    Returns:
        The target search's best configuration as a row (its compute without the source's),
        and the source study's wall-clock seconds.
    """
    store = InMemoryStorage()
    common: dict[str, Any] = {
        "monitor": monitor,
        "mode": "max",
        "max_trials": trials,
        "trainer_kwargs": trainer_kwargs,
        "storage": store,
        "seed": 0,
        "progress": False,
    }
    started = time.perf_counter()
    la.fit(source, dict(space), study_name="source", **common)
    source_seconds = time.perf_counter() - started
    started = time.perf_counter()
    study = la.fit(target, dict(space), study_name="target", warm_start="source", **common)
    seconds = time.perf_counter() - started
    best = {**fixed, **study.best_params}
    print(f"{name}: source {source_seconds:.0f} s, target {seconds:.0f} s, best {best}")
    row = Row(name, "arm", best, search_seconds=seconds, search_trials=len(study.trials))
    return row, source_seconds


def replayed_params(study: Any) -> dict[str, Any]:
    """The best member's schedule as a JSON-able params dict (`POPULATION_KEY` -> segments)."""
    schedule = replay(study)[0]
    assert isinstance(schedule, PopulationSchedule)
    segments = [
        {"start_epoch": int(s.start_epoch), "params": {k: _plain(v) for k, v in s.params.items()}}
        for s in schedule.segments
    ]
    return {POPULATION_KEY: segments}


def replay_setup(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The params to build the model with and the callbacks that replay a stored schedule.

    A row without a schedule is returned as it is, with no callback.
    """
    segments = params.get(POPULATION_KEY)
    if segments is None:
        return dict(params), []
    schedule = PopulationSchedule(
        [Segment(int(s["start_epoch"]), dict(s["params"])) for s in segments]
    )
    return model_params(schedule.initial_params), [schedule]


def parse_only(text: str | None) -> list[str]:
    """The arms named by `--only` ('pbt,transfer'); [] when the flag is not given.

    Raises:
        ValueError: An unknown arm.
    """
    if not text:
        return []
    arms = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in arms if a not in ARMS]
    if bad or not arms:
        raise ValueError(
            f"--only: unknown arm(s) {bad or [text]}; choose from {', '.join(ARMS)} "
            "(comma-separated, e.g. --only pbt,transfer)"
        )
    return arms


def stored_args(stored: Mapping[str, Any], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The arguments of the command that wrote `stored`, parsed by the script's own parser."""
    words = shlex.split(str(stored.get("command", "")))
    scripts = [i for i, w in enumerate(words) if w.endswith(".py")]
    if not scripts:
        raise ProtocolMismatch(
            f"the stored results have no command that names a script (command="
            f"{stored.get('command')!r}); rerun the full study instead of merging into them"
        )
    return vars(parser.parse_args(words[scripts[0] + 1 :]))


def check_protocol(
    stored: Mapping[str, Any],
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    keys: Iterable[str],
) -> int:
    """Refuse to merge into a run of another protocol; return the stored epoch budget.

    Args:
        stored: The stored results.json.
        parser: The script's parser (it reads the stored command).
        args: This run's arguments.
        keys: The arguments that fix the protocol (data, splits, trials, seeds, epoch budget).

    Raises:
        ProtocolMismatch: A key differs, or `--epochs` differs from the stored budget.
    """
    old = stored_args(stored, parser)
    new = vars(args)
    differ = [
        f"{k} (stored {old.get(k)!r}, this run {new.get(k)!r})"
        for k in keys
        if old.get(k) != new.get(k)
    ]
    epochs = int(stored["epochs"])
    if args.epochs is not None and args.epochs != epochs:
        differ.append(f"epochs (stored budget {epochs}, this run {args.epochs})")
    if differ:
        raise ProtocolMismatch(
            "--only: the stored run used another protocol, so its rows and these arms' would "
            f"not compare: {'; '.join(differ)}. Rerun with the stored run's flags "
            f"(command: {stored.get('command')}) or run the full study."
        )
    return epochs


def load_stored(out: Path) -> dict[str, Any]:
    """The results.json under `out` that `--only` merges into.

    Raises:
        ProtocolMismatch: There is none.
    """
    path = out / "results.json"
    if not path.is_file():
        raise ProtocolMismatch(
            f"--only merges into a stored run, but {path} does not exist; run the full study "
            "first (without --only) or point --out at the stored run's folder"
        )
    return json.loads(path.read_text())


def merged(
    stored: Mapping[str, Any], rows: list[Row], arms: Iterable[str]
) -> tuple[list[Row], dict[str, str]]:
    """The stored rows with `rows` added (a stored row of the same name replaced in its place),
    and the stored not-run labels without those of `arms`."""
    new = {r.name: r for r in rows}
    out = [new.pop(r["name"], None) or Row(**r) for r in stored["rows"]]
    labels = {NOT_RUN_LABELS[a] for a in arms}
    not_run = {k: v for k, v in stored.get("not_run", {}).items() if k not in labels}
    return out + list(new.values()), not_run


def write_merged(
    out: Path,
    stored: Mapping[str, Any],
    rows: list[Row],
    arms: list[str],
    notes: list[str],
    *,
    added: str,
    not_run_drop: Iterable[str] = (),
) -> None:
    """Write the stored run under `out` again with `rows` merged in (see `merged`).

    Args:
        out: The stored run's folder.
        stored: Its results.json.
        rows: The new arms' rows, retrained.
        arms: The arms run (their not-run labels go).
        notes: A note on each new arm (replacing a stored note on the same arm).
        added: A note saying which command added them, when and at what load.
        not_run_drop: Other not-run labels that no longer hold.
    """
    all_rows, not_run = merged(stored, rows, arms)
    for label in not_run_drop:
        not_run.pop(label, None)
    sweep = None
    if "sweep" in stored:
        sweep = Sweep(**stored["sweep"])
        sweep.trials = [(float(v), float(s)) for v, s in sweep.trials]
    skip = ("rows", "not_run", "notes", "sweep")
    write(
        out,
        {k: v for k, v in stored.items() if k not in skip},
        all_rows,
        metric_label=str(stored["metric_label"]),
        preamble=stored_preamble(out),
        not_run=not_run,
        sweep=sweep,
        notes=[*merged_notes(list(stored.get("notes", [])), notes), added],
    )


def merged_notes(stored: list[str], new: list[str]) -> list[str]:
    """The stored notes, less those a new note replaces (same text before its first ':')."""
    heads = {n.split(":", 1)[0] for n in new}
    return [n for n in stored if n.split(":", 1)[0] not in heads] + new


def stored_preamble(out: Path) -> list[str]:
    """The preamble of the stored results.md: its lines before the table."""
    lines = (out / "results.md").read_text().splitlines()
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("|"))][:-1]


def added_note(command: str, arms: list[str], seconds: float, epochs: int, seeds: int) -> str:
    """The note saying which command added `arms` to a stored run, when, and at what load."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Added arms ({', '.join(arms)}): by `{command}` ({stamp}, {seconds:.0f} s, "
        f"{load_note()} at the end; same splits, {epochs} epochs, retrain seeds 0-{seeds - 1})."
    )


def load_note() -> str:
    """The machine's load averages (1, 5, 15 min), for the results file."""
    one, five, fifteen = os.getloadavg()
    return f"machine load {one:.1f} / {five:.1f} / {fifteen:.1f}"


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value
