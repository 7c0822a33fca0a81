"""LightningCLI-driven sweeps: an `autotune:` section in the user's own LightningCLI YAML.

Each trial is built through `LightningCLI(run=False)`, so the model, datamodule and trainer
arguments behave exactly as they do for `python train.py fit --config cfg.yaml`, and it is
trained by the same `LightningObjective` as `fit`'s trials (schedules, time budget, quiet runs).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lightning_autotune._fit import announce, record_objective_name
from lightning_autotune._trial_run import quiet_lightning
from lightning_autotune.cli._sweep_config import (
    RUNS_DIR,
    SweepConfig,
    apply_params,
    flatten_keys,
    resolve_keys,
)
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import BuiltTrial, LightningObjective, TrialBuilder
from lightning_autotune.space import SearchSpace
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import Trial

__all__ = ["RUNS_DIR", "SweepConfig", "apply_params", "flatten_keys", "run_sweep"]

MakeCLI = Callable[[dict[str, Any]], Any]


def run_sweep(
    config: Mapping[str, Any],
    make_cli: MakeCLI,
    *,
    config_dir: Path | None = None,
) -> Study:
    """Run the sweep described by `config['autotune']` over the rest of `config`.

    Each trial runs in `autotune_runs/<study>/trial_<n>` (or `<trainer.default_root_dir>/
    <study>/trial_<n>` when the config sets one); its checkpoints there are deleted when it
    ends unless `keep_checkpoints: true`.

    Args:
        config: The whole YAML mapping (LightningCLI sections plus `autotune:`).
        make_cli: Builds `LightningCLI(..., run=False, args=trial_config)` for one trial config.
        config_dir: Folder that relative paths (`best_config`) are resolved against.

    Returns:
        The study. The best configuration is written to `best_config` as LightningCLI YAML.

    Raises:
        ConfigError: The space names a key that is not in the LightningCLI config, or a value
            that LightningCLI rejects; raised before any trial runs.
    """
    if "autotune" not in config:
        raise ConfigError("the config has no autotune: section; add one with at least a space")
    sweep = SweepConfig.from_dict(config["autotune"])
    base = {k: v for k, v in config.items() if k != "autotune"}
    # Reserved schedule names become callbacks of each trial, not LightningCLI arguments.
    schedules = LightningObjective.schedule_names(sweep.space) if sweep.schedule_params else ()
    cli_names = tuple(n for n in sweep.space.names if n not in schedules)
    with quiet_lightning(sweep.quiet):  # every probe builds a Trainer, which would announce itself
        full = _full_config(base, make_cli)
        keys = _check_keys(cli_names, full)
        _check_values(sweep.space, cli_names, base, make_cli, full, keys)

    if sweep.stages is not None:
        study = _run_staged(sweep, base, make_cli, keys, full)
    else:
        study = _run_single(sweep, base, make_cli, keys)
    if any(t.values for t in study.get_trials()):
        target = Path(sweep.best_config)
        if not target.is_absolute() and config_dir is not None:
            target = config_dir / target
        best_params = study.best_params
        cli_params = {k: v for k, v in best_params.items() if k not in schedules}
        best = apply_params(base, cli_params, keys)
        target.write_text(yaml.safe_dump(best, sort_keys=False))
        if schedules:
            left_out = {k: best_params[k] for k in schedules if k in best_params}
            print(
                f"{target} holds no schedule parameters; the best trial also used {left_out} "
                "(lightning_autotune.callbacks.schedule_callbacks builds their callbacks)"
            )
    return study


def _run_single(
    sweep: SweepConfig, base: Mapping[str, Any], make_cli: MakeCLI, keys: Mapping[str, str]
) -> Study:
    """One study (or one population) over the whole space."""
    study = create_study(
        sweep.study_name, sweep.space, sweep.storage, sweep.mode,
        sampler=sweep.make_sampler(), pruner=sweep.make_pruner(), seed=sweep.seed,
    )  # fmt: skip
    objective = LightningObjective(
        _CLIBuild(base, make_cli, keys, study.name, sweep.quiet),
        monitor=sweep.monitor,
        seed=sweep.seed,
        keep_checkpoints=sweep.keep_checkpoints,
        deadline=None if sweep.time_budget is None else time.time() + sweep.time_budget,
        schedule_params=sweep.schedule_params,
        quiet=sweep.quiet,
    )
    record_objective_name(study, objective)
    announce(study, objective)
    if sweep.population is not None:
        from lightning_autotune.population import run_population

        run_population(
            study, objective, sweep.population, checkpoint_dir="autotune_checkpoints",
            timeout=sweep.time_budget, progress=True,
        )  # fmt: skip
    else:
        study.optimize(
            objective, max_trials=sweep.max_trials, timeout=sweep.time_budget, progress=True
        )
    return study


def _run_staged(
    sweep: SweepConfig,
    base: Mapping[str, Any],
    make_cli: MakeCLI,
    keys: Mapping[str, str],
    full: Mapping[str, Any],
) -> Study:
    """The `stages:` plan: each stage its own study `<study_name>.stageN` (docs/stages.md)."""
    from lightning_autotune.stages import Stage, check_stages, run_stages, stage_study_name
    from lightning_autotune.stages._plan import parent_name, stage_objective
    from lightning_autotune.storage import get_storage
    from lightning_autotune.trial import Direction

    stages = sweep.stages or ()
    final = full.get("trainer.max_epochs")
    final = 1000 if final in (None, -1) else int(final)  # Lightning's default when left out
    try:
        check_stages(stages, sweep.space.names, final)
    except ConfigError as err:
        raise ConfigError(f"autotune.stages: {err}") from None
    store = get_storage(sweep.storage)
    parent = parent_name(store, sweep.study_name)
    deadline = None if sweep.time_budget is None else time.time() + sweep.time_budget

    def objective(stage: Stage) -> Callable[[Trial], float]:
        index = next(i for i, s in enumerate(stages, start=1) if s is stage)
        # the CLI's trainer section wins over the objective's Trainer arguments, so a
        # stage's epochs go into the config each trial is built from
        config = copy.deepcopy(dict(base))
        if stage.max_epochs is not None:
            config.setdefault("trainer", {})["max_epochs"] = stage.max_epochs
        whole = LightningObjective(
            _CLIBuild(config, make_cli, keys, stage_study_name(parent, index), sweep.quiet),
            monitor=sweep.monitor, seed=sweep.seed, keep_checkpoints=sweep.keep_checkpoints,
            deadline=deadline, schedule_params=sweep.schedule_params, quiet=sweep.quiet,
        )  # fmt: skip
        return stage_objective(whole, stage)

    print(f"lightning_autotune: staged sweep {parent!r} in {sweep.storage}", flush=True)
    return run_stages(
        stages, objective, sweep.space, storage=store, study_name=parent,
        direction=Direction.parse(sweep.mode, "autotune.mode"), sampler=sweep.make_sampler(),
        pruner=sweep.make_pruner(), seed=sweep.seed, deadline=deadline,
        announce=lambda line: print(line, flush=True), objective_name=sweep.monitor,
        final_epochs=final, progress=True,
    )  # fmt: skip


@dataclass(frozen=True)
class _CLIBuild(TrialBuilder):
    """`build(params)` of a sweep: the trial's LightningCLI objects and Trainer arguments."""

    base: Mapping[str, Any]
    make_cli: MakeCLI
    keys: Mapping[str, str]
    study_name: str
    quiet: bool

    def build_trial(self, trial: Trial) -> BuiltTrial:
        params, number = dict(trial.params), trial.number
        cli_params = {k: v for k, v in params.items() if k in self.keys}
        cli = self.make_cli(self.trial_config(cli_params, number))
        trainer_kwargs = dict(_namespace_to_dict(cli.config_init.get("trainer", {})))
        # The loggers the CLI's Trainer made (its default ones included), so nothing is
        # created twice; they get the trial's parameters.
        trainer_kwargs["logger"] = list(cli.trainer.loggers) or False
        for logger in cli.trainer.loggers:
            logger.log_hyperparams({**params, "trial_number": number})
        data = {} if cli.datamodule is None else {"datamodule": cli.datamodule}
        return BuiltTrial(cli.model, data, trainer_kwargs, type(cli.trainer))

    def trial_config(self, params: Mapping[str, Any], number: int) -> dict[str, Any]:
        """The trial's config: its params set, its run folder and its logger version its own."""
        config = apply_params(self.base, params, self.keys)
        trainer = config.setdefault("trainer", {})
        root = trainer.get("default_root_dir") or RUNS_DIR
        version = f"trial_{number}"
        trainer["default_root_dir"] = str(Path(root) / self.study_name / version)
        if self.quiet:
            trainer.setdefault("enable_progress_bar", False)
            trainer.setdefault("enable_model_summary", False)
        loggers = trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if isinstance(logger, dict) and "class_path" in logger:
                init_args = logger.setdefault("init_args", {})
                init_args.setdefault("name", self.study_name)
                init_args["version"] = version
        return config


def _full_config(base: Mapping[str, Any], make_cli: MakeCLI) -> dict[str, Any]:
    """The complete LightningCLI config (defaults included) as dotted keys."""
    try:
        cli = make_cli(copy.deepcopy(dict(base)))
    except (SystemExit, Exception) as err:
        raise ConfigError(
            f"the LightningCLI config does not parse without the sweep: {err}"
        ) from None
    return flatten_keys(_namespace_to_dict(cli.config))


def _check_keys(names: tuple[str, ...], full: Mapping[str, Any]) -> dict[str, str]:
    """Every dotted key must name an argument of the LightningCLI config."""
    keys = resolve_keys(names, full)
    for key in names:
        if key not in keys:
            near = sorted(k for k in full if k.split(".")[-1] == key.split(".")[-1])
            hint = f" (did you mean {near}?)" if near else ""
            valid = sorted(k for k in full if not isinstance(full[k], Mapping))
            raise ConfigError(
                f"autotune.space: key {key!r} is not in the LightningCLI config{hint}; valid "
                f"keys are {valid}"
            )
    return keys


def _check_values(
    space: SearchSpace,
    names: tuple[str, ...],
    base: Mapping[str, Any],
    make_cli: MakeCLI,
    full: Mapping[str, Any],
    keys: Mapping[str, str],
) -> None:
    """Each parameter's extreme values must be accepted by LightningCLI's type checks."""
    for key in names:
        for value in _probe_values(space, key):
            try:
                make_cli(apply_params(base, {key: value}, keys))
            except (SystemExit, Exception) as err:
                raise ConfigError(
                    f"autotune.space: LightningCLI rejects {key}={value!r} (current value "
                    f"{full[keys[key]]!r}): {err}"
                ) from None


def _probe_values(space: SearchSpace, key: str) -> list[Any]:
    param = space[key].to_dict()
    if "values" in param:
        return list(param["values"])
    if "mapping" in param:
        return sorted({v for vs in param["mapping"].values() for v in vs}, key=repr)
    return [param["min"], param["max"]]


def _namespace_to_dict(ns: Any) -> dict[str, Any]:
    return ns.as_dict() if hasattr(ns, "as_dict") else dict(ns)
