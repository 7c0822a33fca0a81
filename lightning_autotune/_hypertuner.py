"""`HyperTuner`: the API of the AutoML article, on top of `fit`.

It wraps a plain `nn.Module` class and a loss into a LightningModule, so that the article's code
runs with only its import line changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lightning_autotune._fit import DEFAULT_STORAGE, fit
from lightning_autotune._validation import check_int
from lightning_autotune._wrapped import WrappedModule
from lightning_autotune.callbacks import SCHEDULE_PARAMS
from lightning_autotune.constraints import ParameterRule
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.study import Executor, Study
from lightning_autotune.transfer import PretrainedMixin, is_transfer_param
from lightning_autotune.trial import Direction

__all__ = ["TRAINING_PARAMS", "HyperTuner", "article_metrics"]

# Search-space names that configure training rather than the model's constructor.
TRAINING_PARAMS = (
    "learning_rate", "lr", "batch_size", "optimizer", "momentum", "weight_decay", *SCHEDULE_PARAMS,
)  # fmt: skip
_METRICS = ("accuracy", "loss")


class HyperTuner(PretrainedMixin):
    """Tune a plain PyTorch model class with Bayesian optimization, as in the AutoML article.

    Parameters of the search space whose names are arguments of `model_class.__init__` go to the
    model; `learning_rate` (or `lr`), `batch_size`, `optimizer` ('adam', 'adamw', 'sgd',
    'rmsprop'), `momentum` and `weight_decay` configure training, and the schedule names of
    `callbacks.SCHEDULE_PARAMS` (e.g. `switch_at`, `dropout_start`) add in-run schedules. Any
    other name is refused before the first trial runs.

    Args:
        model_class: An `nn.Module` class; called with the model parameters of each trial.
        criterion: The loss, e.g. `nn.CrossEntropyLoss()`.
        metric: 'accuracy' (classification) or 'loss', measured on `val_data`.
        direction: 'maximize' or 'minimize'.
        search_space: The space (dict format or `SearchSpace`); or call `set_search_space`.
        schedule_params: Whether schedule names in the space (`switch_at`, `dropout_start`, ...)
            add their callbacks to each trial (see `LightningObjective`).

    Example:
        >>> tuner = HyperTuner(nn.Linear, nn.MSELoss(), metric="loss", direction="minimize")
        >>> tuner.set_search_strategy(method="random")
    """

    def __init__(
        self,
        model_class: type[nn.Module],
        criterion: nn.Module,
        metric: str = "accuracy",
        direction: str = "maximize",
        search_space: SearchSpace | Mapping[str, Any] | None = None,
        *,
        schedule_params: bool = True,
    ) -> None:
        if not (inspect.isclass(model_class) and issubclass(model_class, nn.Module)):
            raise ConfigError(f"model_class must be an nn.Module class, got {model_class!r}")
        if metric not in _METRICS:
            raise ConfigError(f"metric must be one of {list(_METRICS)}, got {metric!r}")
        self.model_class = model_class
        self.criterion = criterion
        self.metric = metric
        self.direction = Direction.parse(direction)
        self.space: SearchSpace | None = None
        self.sampler: Sampler | None = None
        self.study: Study | None = None
        self.executor: Executor | None = None
        self._constraints: list[str] = []
        self._rules: list[ParameterRule] = []
        self._objective: Callable[[dict[str, float]], Any] | None = None
        self._measure_latency = True
        self._seed: int | None = None
        self.schedule_params = schedule_params
        if search_space is not None:
            self.set_search_space(search_space)

    def set_search_space(self, search_space: SearchSpace | Mapping[str, Any]) -> HyperTuner:
        """Set the search space (the article's dict format or a `SearchSpace`)."""
        space = SearchSpace.from_dict(search_space)
        if self._constraints or self._rules:
            space = SearchSpace(
                dict(space),
                constraints=[*space.constraints, *self._constraints],
                rules=[*space.rules, *self._rules],
            )
        model_args = set(inspect.signature(self.model_class).parameters)
        training = self._training_names()
        names = [n for n in space.names if not is_transfer_param(n)]  # see set_pretrained
        unknown = [n for n in names if n not in model_args and n not in training]
        if unknown and not _accepts_kwargs(self.model_class):
            raise ConfigError(
                f"search space parameter(s) {unknown} are neither arguments of "
                f"{self.model_class.__name__}({', '.join(sorted(model_args))}) nor training "
                f"parameters {list(training)}; rename them or add them to the model"
            )
        self.space = space
        return self

    def add_constraint(self, condition: str, action: str | None = None) -> HyperTuner:
        """Add a rule (with `action`) or a feasibility constraint (without) to the search space.

        Args:
            condition: An expression over parameter names, e.g. 'batch_size > 64' or
                'hidden_size >= 4 * embedding_dim'. Parsed with a whitelist, never evaluated
                with `eval` (see docs/constraints.md).
            action: What to do when `condition` holds, e.g. 'scale learning_rate by 0.5' or the
                article's 'increase_learning_rate_by_0.5x' (learning_rate x 1.5). Without an
                action, every proposed configuration must satisfy `condition`.

        Raises:
            ConstraintError: The expression or action is malformed or names unknown parameters.
        """
        if action is None:
            self._constraints.append(condition)
        else:
            self._rules.append(ParameterRule(condition, action))
        if self.space is not None:
            self.set_search_space(self.space)
        return self

    def set_objective(
        self,
        func: Callable[[dict[str, float]], Any],
        direction: str = "maximize",
        *,
        measure_latency: bool = True,
    ) -> HyperTuner:
        """Score each trial with `func(metrics)` instead of the single `metric`.

        `metrics` holds what the trial logged last (`val_loss`, `val_accuracy`, ...), the
        article's names `accuracy` and `loss` for the validation ones, `training_time_s` and,
        with `measure_latency`, `inference_time` (seconds: median forward time of one validation
        batch) and `latency_ms` / `latency_p90_ms` (median and 90th percentile, milliseconds).
        A key that is not there fails the trial with a `KeyError` listing the keys that are.
        `func` returns a number or a dict with a 'composite_score' entry, as in the article.

        Example:
            >>> tuner.set_objective(  # doctest: +SKIP
            ...     lambda metrics: metrics["accuracy"] - 0.1 * metrics["inference_time"],
            ...     direction="maximize",
            ... )
        """
        if not callable(func):
            raise ConfigError(f"set_objective needs a function of the metrics, got {func!r}")
        self._objective = func
        self.direction = Direction.parse(direction)
        self._measure_latency = measure_latency
        return self

    def set_search_strategy(
        self,
        method: str = "bayesian",
        n_initial_points: int | None = None,
        acq_func: str = "auto",
        kappa: float = 2.0,
        seed: int | None = None,
    ) -> HyperTuner:
        """Choose how configurations are proposed: a name of `registry.SAMPLERS`.

        Args:
            method: 'bayesian' (BoTorch GP, the default), 'random', 'sobol', ...
            n_initial_points: With 'bayesian': Sobol points before the GP takes over.
            acq_func: With 'bayesian': the acquisition ('auto', 'EI', 'UCB', ...), as `fit` and
                the sweep use it.
            kappa: With 'bayesian' and 'UCB': the exploration weight.
            seed: Seeds the sampler and each trial (None: the study's own seed).

        Raises:
            ConfigError: An unknown method; the message lists the known ones.
        """
        from lightning_autotune.registry import make_sampler

        options: dict[str, Any] = {}
        if str(method).lower() == "bayesian":
            options = {"n_initial_points": n_initial_points, "acq_func": acq_func, "kappa": kappa}
        if seed is not None and str(method).lower() in ("bayesian", "sobol"):
            options["seed"] = seed
        try:
            self.sampler = make_sampler(method, **options)
        except ConfigError as err:
            raise ConfigError(f"method: {err}") from None
        self._seed = seed
        return self

    def set_distributed(
        self,
        n_workers: int = 8,
        resource_type: str = "GPU",
        memory_limit: int | str | None = None,
        *,
        devices: Sequence[int | str] | None = None,
        threads_per_trial: int = 1,
    ) -> HyperTuner:
        """Run `n_workers` trials at once, each in its own process with one device.

        Needs a URL store (the default SQLite file is one). See `ProcessExecutor`.

        Args:
            n_workers: Trials at once.
            resource_type: 'GPU' (one GPU per trial, through CUDA_VISIBLE_DEVICES) or 'CPU'.
            memory_limit: Per trial, e.g. '16GB' or '512MB'; a trial that exceeds it ends
                FAILED with kind OOM and its configuration is not tried again.
            devices: GPU ids to use (default: all visible).
            threads_per_trial: CPU threads of each trial.

        Raises:
            ConfigError: A bad argument ('16 gigs'), or 'GPU' on a machine without a GPU.

        Example:
            >>> tuner = HyperTuner(nn.Linear, nn.MSELoss(), metric="loss", direction="minimize")
            >>> _ = tuner.set_distributed(n_workers=2, resource_type="CPU", memory_limit="2GB")
        """
        from lightning_autotune.study import ProcessExecutor

        self.executor = ProcessExecutor(
            n_workers,
            resource_type,
            memory_limit,
            devices=devices,
            threads_per_trial=threads_per_trial,
        )
        return self

    def optimize(
        self,
        train_data: Dataset,
        val_data: Dataset,
        max_trials: int = 50,
        time_budget: float | str | None = "24:00:00",
        *,
        max_epochs: int = 10,
        storage: str | None = DEFAULT_STORAGE,
        study_name: str | None = None,
        trainer_kwargs: Mapping[str, Any] | None = None,
        quiet: bool = True,
        progress: bool | Any = True,
    ) -> dict[str, Any]:
        """Run the search on torch Datasets and return the best configuration.

        The study is kept in `self.study`, in `storage` (a SQLite file by default). Its name
        is `study_name`, or one derived from the model class, the space and the direction, so
        running the same script again continues the same study.

        Args:
            train_data: Training dataset of (input, target) pairs.
            val_data: Validation dataset.
            max_trials: Total trials of the study.
            time_budget: Seconds or 'HH:MM:SS'; a trial cut off by it is recorded PRUNED.
            max_epochs: Epochs per trial.
            storage: Store URL (None: in memory).
            study_name: Study to create or continue.
            trainer_kwargs: Overrides of the trials' `Trainer` arguments.
            quiet: Silence Lightning's per-trial banners (False shows them).
            progress: As for `fit`.

        Raises:
            ConfigError: No search space, or a bad argument (before any study is created).
        """
        if self.space is None:
            raise ConfigError("no search space: call set_search_space(...) before optimize")
        check_int(max_epochs, "max_epochs")
        space = self.space
        # Locals, not `self`: with several workers `build` travels to trial processes.
        model_class, criterion = self.model_class, self.criterion
        model_args = set(inspect.signature(model_class).parameters)
        training = self._training_names()

        def build(params: dict[str, Any]) -> pl.LightningModule:
            params = {k: v for k, v in params.items() if not is_transfer_param(k)}
            model_params = {
                k: v
                for k, v in params.items()
                if k in model_args or (k not in training and _accepts_kwargs(model_class))
            }
            return WrappedModule(
                model_class(**model_params),
                criterion,
                train_data,
                val_data,
                lr=float(params.get("learning_rate", params.get("lr", 1e-3))),
                batch_size=int(params.get("batch_size", 32)),
                optimizer=str(params.get("optimizer", "adam")),
                momentum=float(params.get("momentum", 0.0)),
                weight_decay=float(params.get("weight_decay", 0.0)),
            )

        monitor = "val_accuracy" if self.metric == "accuracy" else "val_loss"
        if self._objective is not None:
            monitor = "val_loss"  # what trials report while they run; the score decides
        score = None if self._objective is None else self._make_score(val_data)
        self.study = fit(
            build,
            space,
            monitor=monitor,
            mode=self.direction.value,
            max_trials=max_trials,
            time_budget=time_budget,
            trainer_kwargs={"max_epochs": max_epochs, **(trainer_kwargs or {})},
            storage=storage,
            study_name=study_name or self.default_study_name(),
            sampler=self.sampler,
            seed=self._seed,
            executor=self.executor,
            score=score,
            schedule_params=self.schedule_params,
            quiet=quiet,
            progress=progress,
            transfer=self.pretrained,
        )
        return self.study.best_params

    def _training_names(self) -> tuple[str, ...]:
        """Names that configure training; schedule names only while they add callbacks."""
        if self.schedule_params:
            return TRAINING_PARAMS
        return tuple(n for n in TRAINING_PARAMS if n not in SCHEDULE_PARAMS)

    def default_study_name(self) -> str:
        """'<ModelClass>-<hash>': stable for one model class, space, metric and direction."""
        if self.space is None:
            raise ConfigError("no search space: call set_search_space(...) first")
        key = json.dumps(
            [self.space.to_dict(), self.metric, self.direction.value, self._objective is None],
            sort_keys=True,
            default=repr,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        return f"{self.model_class.__name__}-{digest}"

    def _make_score(self, val_data: Dataset) -> Callable[[Any, dict[str, float]], float]:
        objective = self._objective
        assert objective is not None
        measure = self._measure_latency

        def score(module: Any, metrics: dict[str, float]) -> float:
            if measure:
                from lightning_autotune.profiling import measure_latency

                x, _ = next(iter(DataLoader(val_data, batch_size=module.batch_size)))
                latency = measure_latency(module, x)
                metrics = {
                    **metrics,
                    **latency.as_metrics(),
                    "inference_time": latency.median_ms / 1000.0,
                }
            result = objective(article_metrics(metrics))
            if isinstance(result, Mapping):
                if "composite_score" not in result:
                    raise ConfigError(
                        "the objective function returned a dict without 'composite_score': "
                        f"{sorted(result)}; return a number or {{'composite_score': ...}}"
                    )
                result = result["composite_score"]
            return float(result)

        return score


class _Metrics(dict):
    """A trial's metrics; a missing key's error lists the keys there are."""

    def __missing__(self, key: Any) -> Any:
        raise KeyError(f"{key!r} is not among this trial's metrics {sorted(self)}")


def article_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics under the package's names and the article's: `accuracy` and `loss` are the
    validation ones, `inference_time` is seconds per forward pass of one validation batch."""
    out = _Metrics(metrics)
    for short in _METRICS:
        if f"val_{short}" in out:
            out.setdefault(short, out[f"val_{short}"])
    return out


def _accepts_kwargs(cls: type) -> bool:
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()
    )
