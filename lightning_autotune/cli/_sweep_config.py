"""The `autotune:` section of a sweep YAML, and the dotted keys it names."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lightning_autotune._time import parse_duration
from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population import PB2, PopulationBasedTraining
from lightning_autotune.pruners import Pruner
from lightning_autotune.registry import PRUNERS, SAMPLERS, make_pruner, make_sampler
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.stages import Stage

__all__ = ["RUNS_DIR", "SweepConfig", "apply_params", "flatten_keys", "resolve_keys"]

RUNS_DIR = "autotune_runs"
"""Where a sweep's trials run (`autotune_runs/<study>/trial_<n>`) unless the config sets
`trainer.default_root_dir`."""

_SWEEP_KEYS = {
    "space", "max_trials", "time_budget", "storage", "study_name", "monitor", "mode",
    "sampler", "pruner", "seed", "best_config", "keep_checkpoints", "quiet", "schedule_params",
    "population", "stages",
}  # fmt: skip
_DEPRECATED_KEYS = {"n_trials": "max_trials", "timeout": "time_budget"}


@dataclass(frozen=True)
class SweepConfig:
    """The `autotune:` section of a LightningCLI YAML, checked.

    Attributes:
        space: Search space over dotted LightningCLI keys (`model.lr`; in `class_path` configs
            `model.lr` and `model.init_args.lr` both name the same argument).
        max_trials: Number of trials (None: until `time_budget`).
        time_budget: Seconds for the sweep, or None; a trial cut off by it is PRUNED.
        storage: Store URL (default `sqlite:///autotune.db`).
        study_name: Study to create or continue.
        monitor, mode: The logged metric to optimize and its direction.
        sampler: A name of `registry.SAMPLERS` ('bayesian' by default), with options:
            `sampler: random`, `sampler: {method: bayesian, n_initial_points: 5}` or
            `sampler: {method: cmaes, restart_strategy: bipop}`.
        pruner: A name of `registry.PRUNERS` ('none' by default), with options:
            `pruner: {type: hyperband, min_resource: 3}`.
        seed: Seed of the sampler and of each trial.
        best_config: Where to write the best configuration as plain LightningCLI YAML.
        keep_checkpoints: Keep the checkpoints each trial writes under its run folder
            (default False: deleted when the trial ends).
        quiet: Silence Lightning's banners, progress bars and model summaries in trials
            (default True; a value the config's `trainer:` section sets explicitly wins).
        schedule_params: Whether reserved schedule names in the space add their callbacks.
        population: Population Based Training instead of a search:
            `population: {method: pbt, population_size: 4, interval: 2}` (or `pb2`; the other
            keys are `PopulationBasedTraining`'s). The first members are drawn at random.
        stages: A staged plan instead of one search (docs/stages.md): a list of mappings
            with `Stage`'s fields, e.g. `- {trials: 8, data_fraction: 0.25, max_epochs: 1,
            narrow: {top_k: 3, margin: 0.1}}` then `- {trials: 4}`; `narrow: null` keeps the
            space, `screen: true` makes a screening stage. `max_trials` is then unused.
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
    keep_checkpoints: bool = False
    quiet: bool = True
    schedule_params: bool = True
    population: PopulationBasedTraining | None = None
    stages: tuple[Stage, ...] | None = None

    @classmethod
    def from_dict(cls, section: Any) -> SweepConfig:
        """Check and convert the raw `autotune:` mapping.

        Raises:
            ConfigError: An unknown key, a missing space, or a bad value; the message names it.
        """
        if not isinstance(section, Mapping):
            raise ConfigError(f"the autotune: section must be a mapping, got {section!r}")
        section = dict(section)
        for old, new in _DEPRECATED_KEYS.items():
            if old in section:
                warnings.warn(
                    f"autotune.{old} is deprecated; write autotune.{new}",
                    DeprecationWarning,
                    stacklevel=2,
                )
                section.setdefault(new, section.pop(old))
        unknown = sorted(set(section) - _SWEEP_KEYS)
        if unknown:
            raise ConfigError(
                f"autotune: unknown key(s) {unknown}; allowed keys are {sorted(_SWEEP_KEYS)}"
            )
        if "space" not in section:
            raise ConfigError("autotune: needs a 'space' mapping dotted config keys to params")
        population = _population(section.get("population"))
        stages = parse_stages(section.get("stages"))
        if stages is not None and population is not None:
            raise ConfigError(
                "autotune: give stages or population, not both: a population trains every "
                "member at full fidelity for the whole run"
            )
        default_sampler = "bayesian" if population is None else "random"
        sampler = _named(section.get("sampler", default_sampler), "method", SAMPLERS, "sampler")
        pruner = _named(section.get("pruner", "none"), "type", PRUNERS, "pruner")
        max_trials = section.get("max_trials", 20)
        if max_trials is not None:
            check_int(max_trials, "autotune.max_trials", hint="or leave it out for 20")
        seed = section.get("seed")
        if seed is not None:
            check_int(seed, "autotune.seed", low=0)
        config = cls(
            space=SearchSpace.from_dict(section["space"]),
            max_trials=max_trials,
            time_budget=parse_duration(section.get("time_budget"), "autotune.time_budget"),
            storage=str(section.get("storage", "sqlite:///autotune.db")),
            study_name=section.get("study_name"),
            monitor=str(section.get("monitor", "val_loss")),
            mode=str(section.get("mode", "min")),
            sampler=sampler,
            pruner=pruner,
            seed=seed,
            best_config=str(section.get("best_config", "best.yaml")),
            keep_checkpoints=_flag(section, "keep_checkpoints", False),
            quiet=_flag(section, "quiet", True),
            schedule_params=_flag(section, "schedule_params", True),
            population=population,
            stages=stages,
        )
        config.make_pruner()  # bad pruner options fail here, before any study exists
        return config

    def make_sampler(self) -> Sampler:
        """The sampler the section asks for (the sweep's seed reaches it through the study)."""
        options = {k: v for k, v in self.sampler.items() if k != "method"}
        return make_sampler(self.sampler["method"], **options)

    def make_pruner(self) -> Pruner:
        """The pruner the section asks for."""
        return make_pruner(self.pruner)


def _named(value: Any, key: str, table: Mapping[str, Any], what: str) -> dict[str, Any]:
    spec = {key: value} if isinstance(value, str) else dict(value or {})
    name = spec.get(key)
    if not isinstance(name, str) or name.lower().replace("-", "_") not in table:
        raise ConfigError(
            f"autotune.{what}: {key} must be one of {sorted(table)}, got {spec.get(key)!r}"
        )
    return spec


def _population(spec: Any) -> PopulationBasedTraining | None:
    """`population: {method: pbt | pb2, population_size: 4, interval: 2, ...}`, or None."""
    if spec is None:
        return None
    spec = {"method": spec} if isinstance(spec, str) else dict(spec)
    method = str(spec.pop("method", "pbt")).lower()
    if method not in ("pbt", "pb2", "population"):
        raise ConfigError(f"autotune.population.method must be 'pbt' or 'pb2', got {method!r}")
    cls = PB2 if method == "pb2" else PopulationBasedTraining
    try:
        return cls(**spec)
    except TypeError:
        allowed = sorted(f.name for f in fields(cls))
        raise ConfigError(
            f"autotune.population: unknown key(s) {sorted(set(spec) - set(allowed))}; allowed "
            f"keys are {['method', *allowed]}"
        ) from None


_STAGE_KEYS = tuple(f.name for f in fields(Stage))


def parse_stages(spec: Any) -> tuple[Stage, ...] | None:
    """`stages:` of the autotune section as `Stage`s (None when the section has none).

    Each item is a mapping of `Stage`'s fields; `narrow` is a mapping of `Narrowing`'s fields
    or null. Whether the plan fits the space and the epochs is checked by `check_stages`.

    Raises:
        ConfigError: Naming the stage (from 1) and the key, the value and the fix.
    """
    from lightning_autotune.stages import Narrowing

    if spec is None:
        return None
    if not isinstance(spec, list) or not spec:
        raise ConfigError(
            f"autotune.stages must be a non-empty list of stages, got {spec!r}; e.g. "
            "[{trials: 8, data_fraction: 0.25}, {trials: 4}]"
        )
    plan = []
    for i, item in enumerate(spec, start=1):
        where = f"autotune.stages[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be a mapping of {list(_STAGE_KEYS)}, got {item!r}")
        item = dict(item)
        unknown = sorted(set(item) - set(_STAGE_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {unknown}; allowed keys are {list(_STAGE_KEYS)}"
            )
        if "narrow" in item and item["narrow"] is not None:
            narrow = item["narrow"]
            allowed = [f.name for f in fields(Narrowing)]
            if not isinstance(narrow, Mapping) or set(narrow) - set(allowed):
                raise ConfigError(
                    f"{where}.narrow must be null or a mapping of {allowed}, got {narrow!r}"
                )
            try:
                item["narrow"] = Narrowing(**narrow)
            except ConfigError as err:
                raise ConfigError(f"{where}.narrow: {err}") from None
        if not isinstance(item.get("params", {}), Mapping):
            raise ConfigError(
                f"{where}.params must map parameters of the space to fixed values, got "
                f"{item['params']!r}"
            )
        plan.append(Stage(**item))
    return tuple(plan)


def _flag(section: Mapping[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"autotune.{key} must be true or false, got {value!r}")
    return value


def flatten_keys(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested config: {'model': {'lr': 1}} -> {'model.lr': 1}."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        out[dotted] = value
        if isinstance(value, Mapping):
            out.update(flatten_keys(value, dotted + "."))
    return out


def resolve_keys(names: tuple[str, ...], full: Mapping[str, Any]) -> dict[str, str]:
    """Map each space key to the config key it sets.

    A key of the full config maps to itself; in a `class_path` section, `model.lr` maps to
    `model.init_args.lr`, as LightningCLI itself accepts both on its command line. Keys that
    match nothing are left out.
    """
    out: dict[str, str] = {}
    for name in names:
        if name in full:
            out[name] = name
            continue
        parts = name.split(".")
        for i in range(1, len(parts)):
            head = ".".join(parts[:i])
            candidate = ".".join([head, "init_args", *parts[i:]])
            if f"{head}.class_path" in full and candidate in full:
                out[name] = candidate
                break
    return out


def apply_params(
    base: Mapping[str, Any], params: Mapping[str, Any], keys: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A deep copy of `base` with each dotted key of `params` (through `keys`) set."""
    config = copy.deepcopy(dict(base))
    for name, value in params.items():
        node = config
        *parents, leaf = (keys or {}).get(name, name).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config
