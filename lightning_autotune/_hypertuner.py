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
from torch.utils.data import Dataset

from lightning_autotune._fit import DEFAULT_STORAGE, fit
from lightning_autotune._metrics_by_name import BUILTIN_METRICS, resolve_metric
from lightning_autotune._tuner_settings import RunSettingsMixin
from lightning_autotune._tuner_support import (
    PrunerSpec,
    TrialBuild,
    accepts_kwargs,
    article_metrics,
    choose_monitor,
    default_early_stopping,
    make_score,
    metric_direction,
    parse_early_stopping,
    sampler_for,
)
from lightning_autotune._validation import check_int
from lightning_autotune.callbacks import SCHEDULE_PARAMS
from lightning_autotune.constraints import ParameterRule
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.knowledge import WarmStartMixin
from lightning_autotune.population import population_for
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.stages import Stage
from lightning_autotune.study import Executor, Study
from lightning_autotune.transfer import PretrainedMixin, is_transfer_param
from lightning_autotune.trial import Direction

__all__ = ["BUILTIN_METRICS", "TRAINING_PARAMS", "HyperTuner", "article_metrics"]

_UNSET: Any = object()

# Search-space names that configure training rather than the model's constructor.
TRAINING_PARAMS = (
    "learning_rate", "lr", "batch_size", "optimizer", "momentum", "weight_decay", *SCHEDULE_PARAMS,
)  # fmt: skip


class HyperTuner(PretrainedMixin, WarmStartMixin, RunSettingsMixin):
    """Tune a plain PyTorch model class with Bayesian optimization, as in the AutoML article.

    Parameters of the search space whose names are arguments of `model_class.__init__` go to the
    model; `learning_rate` (or `lr`), `batch_size`, `optimizer` ('adam', 'adamw', 'sgd',
    'rmsprop'), `momentum` and `weight_decay` configure training, and the schedule names of
    `callbacks.SCHEDULE_PARAMS` (e.g. `switch_at`, `dropout_start`) add in-run schedules. Any
    other name is refused before the first trial runs.

    Args:
        model_class: An `nn.Module` class; called with the model parameters of each trial.
        criterion: The loss, e.g. `nn.CrossEntropyLoss()`.
        metric: What a trial scores on `val_data`: a name of `BUILTIN_METRICS` ('accuracy',
            'f1', 'auroc', 'precision', 'recall', 'mse', 'mae', 'r2', 'loss'), a
            `torchmetrics.Metric`, or, for a LightningModule `model_class`, any name the model
            logs (e.g. 'val_myscore'). Computed over the whole validation set.
        direction: 'maximize' or 'minimize'; None infers it from `metric` (accuracy, f1,
            auroc, precision, recall, r2 maximize; loss, mse, mae minimize). A direction
            against the metric's own is refused.
        metric_kwargs: Arguments of the metric's torchmetrics class. `task` and `num_classes`
            are inferred from the first validation batch (output width, label dtype) where
            unambiguous; `ignore_index` (default: the loss's) marks labels that count nowhere.
        search_space: The space (dict format or `SearchSpace`); or call `set_search_space`.
        schedule_params: Whether schedule names in the space (`switch_at`, `dropout_start`, ...)
            add their callbacks to each trial (see `LightningObjective`).

    Example:
        >>> tuner = HyperTuner(nn.Linear, nn.MSELoss(), metric="loss", direction="minimize")
        >>> _ = tuner.set_search_strategy(method="random")
    """

    def __init__(
        self,
        model_class: type[nn.Module],
        criterion: nn.Module,
        metric: str | Any = "accuracy",
        direction: str | None = None,
        search_space: SearchSpace | Mapping[str, Any] | None = None,
        *,
        metric_kwargs: Mapping[str, Any] | None = None,
        schedule_params: bool = True,
    ) -> None:
        if not (inspect.isclass(model_class) and issubclass(model_class, nn.Module)):
            raise ConfigError(f"model_class must be an nn.Module class, got {model_class!r}")
        self.metric_choice = resolve_metric(
            metric, metric_kwargs, model_logs=issubclass(model_class, pl.LightningModule)
        )
        self.model_class = model_class
        self.criterion = criterion
        self.metric = self.metric_choice.name
        self.direction = metric_direction(self.metric_choice, direction)
        self.space: SearchSpace | None = None
        self.sampler: Sampler | None = None
        self.study: Study | None = None
        self.executor: Executor | None = None
        self.population: Any = None
        self._constraints: list[str] = []
        self._rules: list[ParameterRule] = []
        self._objective: Callable[[dict[str, float]], Any] | None = None
        self._measure_latency = True
        self._seed: int | None = None
        self.early_stopping = default_early_stopping()
        self.schedule_params = schedule_params
        self.stages: tuple[Stage, ...] | None = None
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
        if unknown and not accepts_kwargs(self.model_class):
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
        kappa: float | None = None,
        seed: int | None = None,
        population: Any = None,
        **options: Any,
    ) -> HyperTuner:
        """Choose how configurations are proposed: a name of `registry.SAMPLERS` (as for
        `fit(sampler=...)`, the CLI and the sweep YAML's `sampler:`).

        Args:
            method: 'bayesian' (BoTorch GP, the default), 'random', 'sobol', 'multiobjective',
                'cmaes' (`CmaEsSampler`), 'nsga2' (`NSGA2Sampler`), 'evolutionary' (CMA-ES
                for one objective, NSGA-II for several; see docs/evolutionary.md),
                'multifidelity' (give `fidelity=`; docs/stages.md); 'population' / 'pbt' /
                'pb2': Population Based Training (docs/population.md).
            n_initial_points: With the BoTorch samplers: space-filling points before the GP
                (the evolutionary samplers do not take it).
            acq_func: With 'bayesian': the acquisition ('auto', 'EI', 'NEI', 'UCB'), as `fit`
                and the sweep use it.
            kappa: With 'bayesian' and 'UCB': the exploration weight (default 2.0). Given with
                another acquisition, which does not use it, it warns (`SamplerWarning`).
            seed: Seeds the sampler and each trial (None: the study's own seed).
            population: With a population method: `PopulationBasedTraining` or `PB2` settings.
            **options: Options of one sampler, by name (`fidelity=` for 'multifidelity').

        Raises:
            ConfigError: An unknown method (the message lists the known ones), or an option
                the method's sampler does not take or needs.
        """
        self.population, method = population_for(method, population, seed)
        self.sampler = sampler_for(
            method,
            n_initial_points=n_initial_points,
            acq_func=acq_func,
            kappa=kappa,
            seed=seed,
            **options,
        )
        self._seed = seed
        return self

    def set_stages(self, stages: Sequence[Stage] | None) -> HyperTuner:
        """Run `optimize` as a staged plan (`stages.Stage`s; docs/stages.md), as
        `fit(stages=...)` does; `optimize`'s `max_trials` is then unused. None: one stage."""
        self.stages = None if stages is None else tuple(stages)
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
        pruner: PrunerSpec = _UNSET,
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
            pruner: Early stopping for this call, as `set_early_stopping`'s `pruner` (None or
                'none': off); default: what `set_early_stopping` set.

        Raises:
            ConfigError: No search space, or a bad argument (before any study is created).
        """
        if self.space is None:
            raise ConfigError("no search space: call set_search_space(...) before optimize")
        check_int(max_epochs, "max_epochs")
        early = self.early_stopping
        if pruner is not _UNSET:
            early = parse_early_stopping(pruner, early.monitor)
        space = self.space
        names = self._training_names()
        build = TrialBuild(
            self.model_class, self.criterion, train_data, val_data, names, self.metric_choice
        )
        metric_key = self.metric_choice.log_key
        own = self.metric_choice.higher_is_better
        natural = self.direction if own is None else Direction.parse("max" if own else "min")
        monitor, study_pruner = choose_monitor(early, metric_key, natural, self.direction)
        score = None
        if self._objective is not None or monitor != metric_key:
            score = make_score(
                self._objective,
                val_data,
                measure_latency=self._measure_latency,
                metric_key=metric_key,
                names=(*dict.fromkeys(("accuracy", "loss", self.metric)),),
            )
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
            pruner=study_pruner,
            seed=self._seed,
            executor=self.executor,
            score=score,
            schedule_params=self.schedule_params,
            quiet=quiet,
            progress=progress,
            transfer=self.pretrained,
            stages=self.stages,
            population=self.population,
            warm_start=self.warm_start,
            warm_start_mode=self.warm_start_mode,
            task_tags=self.task_tags,
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
