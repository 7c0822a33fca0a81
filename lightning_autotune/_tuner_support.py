"""The parts of `HyperTuner` that are not its public methods: early stopping, the sampler a
method name stands for, and the article's metric names for `set_objective`."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.utils.data import DataLoader, Dataset

from lightning_autotune._metrics_by_name import MetricChoice
from lightning_autotune._wrapped import WrappedModule
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.metrics import CompositeMetric
from lightning_autotune.pruners import AdaptiveThresholdPruner, NopPruner, Pruner
from lightning_autotune.registry import SAMPLERS, make_pruner, make_sampler
from lightning_autotune.samplers import Sampler, SamplerWarning
from lightning_autotune.transfer import is_transfer_param
from lightning_autotune.trial import Direction

__all__ = [
    "EarlyStopping",
    "TrialBuild",
    "accepts_kwargs",
    "article_metrics",
    "make_score",
    "metric_direction",
    "parse_early_stopping",
    "sampler_for",
]

ARTICLE_NAMES = ("accuracy", "loss")

PrunerSpec = bool | str | Pruner | Mapping[str, Any] | None


@dataclass(frozen=True)
class EarlyStopping:
    """How `HyperTuner` stops trials early.

    Attributes:
        pruner: The study's pruner (`NopPruner` when early stopping is off).
        monitor: What trials report while they run (None: the tuner's metric, or `val_loss`).
    """

    pruner: Pruner
    monitor: str | CompositeMetric | None = None

    @property
    def enabled(self) -> bool:
        """False when early stopping is off."""
        return not isinstance(self.pruner, NopPruner)


def parse_early_stopping(
    pruner: PrunerSpec, monitor: str | CompositeMetric | None = None, **options: Any
) -> EarlyStopping:
    """`EarlyStopping` from `set_early_stopping`'s arguments.

    Args:
        pruner: True (the benchmark-backed `AdaptiveThresholdPruner`), False / None / 'none'
            (off), a name of `registry.PRUNERS`, a `{'type': name, ...}` mapping or a `Pruner`.
        monitor: A logged metric's name or a `CompositeMetric`.
        options: Options of the named pruner.

    Raises:
        ConfigError: An unknown name (the registry's message), options with an instance, or a
            bad monitor.
    """
    if monitor is not None and not isinstance(monitor, (str, CompositeMetric)):
        raise ConfigError(
            f"set_early_stopping: monitor must be a logged metric's name or a CompositeMetric, "
            f"got {monitor!r}"
        )
    if pruner is True:
        pruner = "adaptive_threshold"
    if pruner is False or pruner is None:
        pruner = "none"
    if isinstance(pruner, Pruner):
        if options:
            raise ConfigError(
                f"set_early_stopping: options {sorted(options)} go with a pruner's name, not "
                f"with the instance {pruner!r}; build the instance with them instead"
            )
        return EarlyStopping(pruner, monitor)
    if not isinstance(pruner, (str, Mapping)):
        raise ConfigError(
            "set_early_stopping: pruner must be True/False, a name of registry.PRUNERS, a "
            f"mapping {{'type': name, ...}} or a Pruner, got {pruner!r}"
        )
    return EarlyStopping(make_pruner(pruner, **options), monitor)


def default_early_stopping() -> EarlyStopping:
    """On, with `AdaptiveThresholdPruner` at its defaults (the pruner docs/results.md backs)."""
    return EarlyStopping(AdaptiveThresholdPruner())


def sampler_for(
    method: str,
    *,
    n_initial_points: int | None,
    acq_func: str,
    kappa: float | None,
    seed: int | None,
    **extra: Any,
) -> Sampler:
    """The sampler `set_search_strategy(method=...)` names, with the options it takes.

    `extra` holds options particular to one sampler (the multi-fidelity sampler's `fidelity`).

    Raises:
        ConfigError: An unknown method or an option the sampler does not take.
    """
    key = str(method).strip().lower().replace("-", "_")
    cls = SAMPLERS.get(key)
    options: dict[str, Any] = {}
    if key == "bayesian":
        options = {"acq_func": acq_func, "kappa": 2.0 if kappa is None else kappa}
        if kappa is not None and str(acq_func).upper() != "UCB":
            warnings.warn(
                f"set_search_strategy: kappa={kappa} has no effect with acq_func={acq_func!r}; "
                "only the 'UCB' acquisition uses kappa (pass acq_func='UCB' or drop kappa)",
                SamplerWarning,
                stacklevel=3,
            )
    if cls is not None and n_initial_points is not None:
        options["n_initial_points"] = n_initial_points
    if seed is not None:
        options["seed"] = seed
    options.update(extra)
    try:
        return make_sampler(method, **options)
    except ConfigError as err:
        raise ConfigError(f"method: {err}") from None


class _Metrics(dict):
    """A trial's metrics; a missing key's error lists the keys there are."""

    def __missing__(self, key: Any) -> Any:
        raise KeyError(f"{key!r} is not among this trial's metrics {sorted(self)}")


def article_metrics(
    metrics: Mapping[str, float], names: tuple[str, ...] = ARTICLE_NAMES
) -> dict[str, float]:
    """The metrics under the package's names and the article's: `accuracy` and `loss` (and
    the tuner's `metric`) are the validation ones, `inference_time` is seconds per forward pass
    of one validation batch."""
    out = _Metrics(metrics)
    for short in names:
        if f"val_{short}" in out:
            out.setdefault(short, out[f"val_{short}"])
    return out


def make_score(
    objective: Callable[[dict[str, float]], Any] | None,
    val_data: Dataset,
    *,
    measure_latency: bool,
    metric_key: str,
    names: tuple[str, ...],
) -> Callable[[Any, dict[str, float]], float]:
    """`score(module, metrics)` for `LightningObjective`: the user's objective of the article's
    metrics, or (without one) the logged `metric_key`, so that a trial's value is the tuner's
    metric whatever its early-stopping monitor reports."""

    def score(module: Any, metrics: dict[str, float]) -> float:
        if objective is None:
            return float(_Metrics(metrics)[metric_key])
        if measure_latency:
            from lightning_autotune.profiling import measure_latency as measure

            x, _ = next(iter(DataLoader(val_data, batch_size=module.batch_size)))
            latency = measure(module, x)
            metrics = {
                **metrics,
                **latency.as_metrics(),
                "inference_time": latency.median_ms / 1000.0,
            }
        result = objective(article_metrics(metrics, names))
        if isinstance(result, Mapping):
            if "composite_score" not in result:
                raise ConfigError(
                    "the objective function returned a dict without 'composite_score': "
                    f"{sorted(result)}; return a number or {{'composite_score': ...}}"
                )
            result = result["composite_score"]
        return float(result)

    return score


def choose_monitor(
    early: EarlyStopping, metric_key: str, metric_direction: Direction, direction: Direction
) -> tuple[str | CompositeMetric, Pruner]:
    """What trials report while they run, and the pruner that reads it.

    Reports go in the study's `direction`, since pruners compare them with it: the given
    monitor (a `CompositeMetric` is lower-is-better, so it needs 'minimize'), else the tuner's
    metric when its own direction is the study's, else `val_loss` for a study that minimizes.
    With none of these, early stopping is turned off with a warning.

    Raises:
        ConfigError: A `CompositeMetric` monitor on a study that maximizes.
    """
    if isinstance(early.monitor, CompositeMetric):
        if direction is not Direction.MINIMIZE:
            raise ConfigError(
                f"set_early_stopping: monitor=CompositeMetric({early.monitor.name!r}) is "
                f"lower-is-better, but the tuner's direction is {direction.value!r}; early "
                "stopping compares reports in the tuner's direction, so use it with "
                "direction='minimize' (e.g. metric='loss'), or monitor a metric to maximize"
            )
        return early.monitor, early.pruner
    if early.monitor is not None:
        return early.monitor, early.pruner
    if metric_direction is direction:
        return metric_key, early.pruner
    if direction is Direction.MINIMIZE:
        return "val_loss", early.pruner
    if early.enabled:
        warnings.warn(
            "early stopping is off for this run: the tuner maximizes, and none of "
            f"{list(dict.fromkeys((metric_key, 'val_loss')))} is a metric to maximize; pass "
            "set_early_stopping(monitor=<a logged metric to maximize>) to turn it on",
            UserWarning,
            stacklevel=3,
        )
    return "val_loss", NopPruner()


@dataclass(frozen=True)
class TrialBuild:
    """`build(params)` of a `HyperTuner` trial: the model from its constructor's parameters,
    wrapped with the loss and the data. A picklable object, since with several workers it
    travels to trial processes."""

    model_class: type[nn.Module]
    criterion: nn.Module
    train_data: Dataset
    val_data: Dataset
    training: tuple[str, ...]
    metric: MetricChoice | None = None

    def __call__(self, params: dict[str, Any]) -> Any:
        import lightning.pytorch as pl

        params = {k: v for k, v in params.items() if not is_transfer_param(k)}
        model_args = set(inspect.signature(self.model_class).parameters)
        loose = accepts_kwargs(self.model_class)
        batch_size = int(params.get("batch_size", 32))
        if issubclass(self.model_class, pl.LightningModule):
            # It trains, validates and logs itself; it gets every parameter it takes.
            module = self.model_class(
                **{k: v for k, v in params.items() if k in model_args or loose}
            )
            return (
                module,
                DataLoader(self.train_data, batch_size=batch_size, shuffle=True),
                DataLoader(self.val_data, batch_size=max(batch_size, 256)),
            )
        model_params = {
            k: v for k, v in params.items() if k in model_args or (k not in self.training and loose)
        }
        return WrappedModule(
            self.model_class(**model_params),
            self.criterion,
            self.train_data,
            self.val_data,
            lr=float(params.get("learning_rate", params.get("lr", 1e-3))),
            batch_size=batch_size,
            optimizer=str(params.get("optimizer", "adam")),
            momentum=float(params.get("momentum", 0.0)),
            weight_decay=float(params.get("weight_decay", 0.0)),
            metric=self.metric,
        )


def accepts_kwargs(cls: type) -> bool:
    """Whether `cls(...)` takes `**kwargs`."""
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()
    )


def metric_direction(choice: MetricChoice, direction: str | None) -> Direction:
    """The tuner's direction: `direction`, checked against the metric's own, or inferred.

    Raises:
        ConfigError: A direction against the metric's own, or none for a metric whose
            direction only the model knows.
    """
    own = choice.higher_is_better
    if direction is None:
        if own is None:
            raise ConfigError(
                f"metric={choice.name!r} is logged by the model, so its direction is not known "
                "here; pass direction='maximize' or direction='minimize'"
            )
        return Direction.MAXIMIZE if own else Direction.MINIMIZE
    parsed = Direction.parse(direction)
    if own is not None and (parsed is Direction.MAXIMIZE) is not own:
        better = "higher" if own else "lower"
        raise ConfigError(
            f"direction={direction!r} goes against metric={choice.name!r}, for which {better} "
            f"is better; pass direction={'maximize' if own else 'minimize'!r} (or leave it out), "
            "or score trials with set_objective(...) to optimize something else"
        )
    return parsed
