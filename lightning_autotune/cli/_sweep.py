"""LightningCLI-driven sweeps: an `autotune:` section in the user's own LightningCLI YAML.

Each trial is built through `LightningCLI(run=False)`, so the model, datamodule and trainer
arguments behave exactly as they do for `python train.py fit --config cfg.yaml`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lightning_autotune._time import parse_duration
from lightning_autotune.exceptions import ConfigError, TrialPruned
from lightning_autotune.pruners import MedianPruner, NopPruner, Pruner
from lightning_autotune.samplers import RandomSampler, Sampler, SobolSampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import Trial

__all__ = ["SweepConfig", "flatten_keys", "run_sweep"]

_SWEEP_KEYS = {
    "space", "max_trials", "time_budget", "storage", "study_name", "monitor", "mode",
    "sampler", "pruner", "seed", "best_config",
}  # fmt: skip
_SAMPLERS = ("bayesian", "random", "sobol")
_PRUNERS = ("none", "median")


@dataclass(frozen=True)
class SweepConfig:
    """The `autotune:` section of a LightningCLI YAML, checked.

    Attributes:
        space: Search space over dotted LightningCLI keys (e.g. `model.init_args.lr`).
        max_trials: Number of trials (None: until `time_budget`).
        time_budget: Seconds for the sweep, or None.
        storage: Store URL (default `sqlite:///autotune.db`).
        study_name: Study to create or continue.
        monitor, mode: The logged metric to optimize and its direction.
        sampler: 'bayesian' (default), 'random' or 'sobol', with options.
        pruner: 'none' (default) or 'median', with options.
        seed: Seed of the sampler and of each trial.
        best_config: Where to write the best configuration as plain LightningCLI YAML.
    """

    space: SearchSpace
    max_trials: int | None = 20
    time_budget: float | None = None
    storage: str = "sqlite:///autotune.db"
    study_name: str | None = None
    monitor: str = "val_loss"
    mode: str = "min"
    sampler: Mapping[str, Any] = field(default_factory=lambda: {"method": "bayesian"})
    pruner: Mapping[str, Any] = field(default_factory=lambda: {"type": "none"})
    seed: int | None = None
    best_config: str = "best.yaml"

    @classmethod
    def from_dict(cls, section: Any) -> SweepConfig:
        """Check and convert the raw `autotune:` mapping.

        Raises:
            ConfigError: An unknown key, a missing space, or a bad value; the message names it.
        """
        if not isinstance(section, Mapping):
            raise ConfigError(f"the autotune: section must be a mapping, got {section!r}")
        unknown = sorted(set(section) - _SWEEP_KEYS)
        if unknown:
            raise ConfigError(
                f"autotune: unknown key(s) {unknown}; allowed keys are {sorted(_SWEEP_KEYS)}"
            )
        if "space" not in section:
            raise ConfigError("autotune: needs a 'space' mapping dotted config keys to params")
        sampler = _named(section.get("sampler", "bayesian"), "method", _SAMPLERS, "sampler")
        pruner = _named(section.get("pruner", "none"), "type", _PRUNERS, "pruner")
        return cls(
            space=SearchSpace.from_dict(section["space"]),
            max_trials=section.get("max_trials", 20),
            time_budget=parse_duration(section.get("time_budget"), "autotune.time_budget"),
            storage=str(section.get("storage", "sqlite:///autotune.db")),
            study_name=section.get("study_name"),
            monitor=str(section.get("monitor", "val_loss")),
            mode=str(section.get("mode", "min")),
            sampler=sampler,
            pruner=pruner,
            seed=section.get("seed"),
            best_config=str(section.get("best_config", "best.yaml")),
        )

    def make_sampler(self) -> Sampler:
        """The sampler the section asks for."""
        options = {k: v for k, v in self.sampler.items() if k != "method"}
        method = self.sampler["method"]
        if method == "random":
            return RandomSampler()
        if self.seed is not None:
            # the sweep's seed also scrambles the Sobol sequence, unless the section sets one
            options.setdefault("seed", self.seed)
        if method == "sobol":
            return SobolSampler(**options)
        from lightning_autotune.samplers import BoTorchSampler

        return BoTorchSampler(**options)

    def make_pruner(self) -> Pruner:
        """The pruner the section asks for."""
        options = {k: v for k, v in self.pruner.items() if k != "type"}
        return MedianPruner(**options) if self.pruner["type"] == "median" else NopPruner()


def _named(value: Any, key: str, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    spec = {key: value} if isinstance(value, str) else dict(value or {})
    if spec.get(key) not in allowed:
        raise ConfigError(
            f"autotune.{what}: {key} must be one of {list(allowed)}, got {spec.get(key)!r}"
        )
    return spec


def flatten_keys(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested config: {'model': {'lr': 1}} -> {'model.lr': 1}."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        out[dotted] = value
        if isinstance(value, Mapping):
            out.update(flatten_keys(value, dotted + "."))
    return out


def apply_params(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with each dotted key of `params` set."""
    config = copy.deepcopy(dict(base))
    for dotted, value in params.items():
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def run_sweep(
    config: Mapping[str, Any],
    make_cli: Callable[[dict[str, Any]], Any],
    *,
    config_dir: Path | None = None,
) -> Study:
    """Run the sweep described by `config['autotune']` over the rest of `config`.

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
    probe = _check_keys(sweep.space, base, make_cli)
    _check_values(sweep.space, base, make_cli, probe)

    study = create_study(
        sweep.study_name, sweep.space, sweep.storage, sweep.mode,
        sampler=sweep.make_sampler(), pruner=sweep.make_pruner(), seed=sweep.seed,
    )  # fmt: skip

    def objective(trial: Trial) -> float:
        from lightning_autotune.callbacks import AutoTuneCallback

        cli = make_cli(_trial_config(base, trial, study.name))
        for logger in cli.trainer.loggers:
            logger.log_hyperparams({**trial.params, "trial_number": trial.number})
        reporter = AutoTuneCallback(trial, monitor=sweep.monitor)
        cli.trainer.callbacks.append(reporter)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        if reporter.pruned:
            raise TrialPruned(trial.prune_reason or "pruned")
        if reporter.last_value is None:
            raise ConfigError(f"trial {trial.number}: no validation ran; {sweep.monitor!r} unset")
        return reporter.last_value

    study.optimize(objective, n_trials=sweep.max_trials, timeout=sweep.time_budget, progress=True)
    if any(t.values for t in study.get_trials()):
        target = Path(sweep.best_config)
        if not target.is_absolute() and config_dir is not None:
            target = config_dir / target
        target.write_text(yaml.safe_dump(apply_params(base, study.best_params), sort_keys=False))
    return study


def _trial_config(base: Mapping[str, Any], trial: Trial, study_name: str) -> dict[str, Any]:
    """The trial's config, with its logs in a folder of its own (`<root>/<study>/trial_<n>`)."""
    config = apply_params(base, trial.params)
    trainer = config.setdefault("trainer", {})
    root = trainer.get("default_root_dir") or "."
    version = f"trial_{trial.number}"
    trainer["default_root_dir"] = str(Path(root) / study_name / version)
    loggers = trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if isinstance(logger, dict) and "class_path" in logger:
            init_args = logger.setdefault("init_args", {})
            init_args.setdefault("name", study_name)
            init_args["version"] = version
    return config


def _check_keys(
    space: SearchSpace, base: Mapping[str, Any], make_cli: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    """Every dotted key of the space must exist in the full LightningCLI config."""
    try:
        cli = make_cli(copy.deepcopy(dict(base)))
    except (SystemExit, Exception) as err:
        raise ConfigError(
            f"the LightningCLI config does not parse without the sweep: {err}"
        ) from None
    full = flatten_keys(_namespace_to_dict(cli.config))
    for key in space.names:
        if key not in full:
            near = sorted(k for k in full if k.split(".")[-1] == key.split(".")[-1])
            hint = f" (did you mean {near}?)" if near else ""
            valid = sorted(k for k in full if not isinstance(full[k], Mapping))
            raise ConfigError(
                f"autotune.space: key {key!r} is not in the LightningCLI config{hint}; valid "
                f"keys are {valid}"
            )
    return full


def _check_values(
    space: SearchSpace,
    base: Mapping[str, Any],
    make_cli: Callable[[dict[str, Any]], Any],
    full: Mapping[str, Any],
) -> None:
    """Each parameter's extreme values must be accepted by LightningCLI's type checks."""
    for key in space.names:
        for value in _probe_values(space, key):
            try:
                make_cli(apply_params(base, {key: value}))
            except (SystemExit, Exception) as err:
                raise ConfigError(
                    f"autotune.space: LightningCLI rejects {key}={value!r} (current value "
                    f"{full[key]!r}): {err}"
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
