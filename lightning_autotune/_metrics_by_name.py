"""Validation metrics by name for `HyperTuner(metric=...)`: torchmetrics built lazily from the
first validation batch, updated every batch and computed once over the whole validation set."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

import torch

from lightning_autotune.exceptions import ConfigError

__all__ = ["BUILTIN_METRICS", "MetricChoice", "MetricFamily", "resolve_metric"]


class MetricFamily(Enum):
    """What a built-in metric needs to know about the task."""

    LOSS = "loss"
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class _Builtin:
    family: MetricFamily
    factory: str  # the torchmetrics class name
    higher_is_better: bool


BUILTIN_METRICS: Mapping[str, _Builtin] = MappingProxyType(
    {
        "loss": _Builtin(MetricFamily.LOSS, "", False),
        "accuracy": _Builtin(MetricFamily.CLASSIFICATION, "Accuracy", True),
        "f1": _Builtin(MetricFamily.CLASSIFICATION, "F1Score", True),
        "auroc": _Builtin(MetricFamily.CLASSIFICATION, "AUROC", True),
        "precision": _Builtin(MetricFamily.CLASSIFICATION, "Precision", True),
        "recall": _Builtin(MetricFamily.CLASSIFICATION, "Recall", True),
        "mse": _Builtin(MetricFamily.REGRESSION, "MeanSquaredError", False),
        "mae": _Builtin(MetricFamily.REGRESSION, "MeanAbsoluteError", False),
        "r2": _Builtin(MetricFamily.REGRESSION, "R2Score", True),
    }
)
"""`metric=` names a plain `nn.Module` model can use, with whether higher is better."""


@dataclass(frozen=True)
class MetricChoice:
    """The tuner's validation metric, resolved from `metric=` before any trial runs.

    Attributes:
        name: The name the user gave ('accuracy', 'val_myscore', or the instance's class).
        log_key: The logged name the trial reads, e.g. 'val_accuracy'.
        higher_is_better: Whether to maximize it; None when only the model knows (a metric
            the model logs itself).
        builtin: The built-in it is, if any.
        instance: A `torchmetrics.Metric` the user gave; each trial updates its own copy.
        kwargs: `metric_kwargs`: arguments of the torchmetrics class (`task`, `num_classes`,
            `average`, ...) and `ignore_index`, the label value that counts nowhere.
    """

    name: str
    log_key: str
    higher_is_better: bool | None
    builtin: _Builtin | None = None
    instance: Any = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def computed_here(self) -> bool:
        """Whether the wrapping module computes it (False: the model or the loss logs it)."""
        return self.instance is not None or (
            self.builtin is not None and self.builtin.family is not MetricFamily.LOSS
        )

    def make(self, out: torch.Tensor, y: torch.Tensor) -> Any:
        """A fresh torchmetrics metric for this validation run, from its first batch.

        Args:
            out: The model's output on the first batch (`N x C`, `N x T x C`, `N` or `N x 1`).
            y: Its labels.

        Raises:
            ConfigError: `task` / `num_classes` cannot be told from the data.
        """
        if self.instance is not None:
            return copy.deepcopy(self.instance)
        import torchmetrics

        assert self.builtin is not None
        cls = getattr(torchmetrics, self.builtin.factory)
        kwargs = {k: v for k, v in self.kwargs.items() if k != "ignore_index"}
        if self.builtin.family is MetricFamily.CLASSIFICATION and "task" not in kwargs:
            kwargs.update(self._infer_task(out, y))
        return cls(**kwargs)

    def _infer_task(self, out: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
        width = out.shape[-1] if out.ndim >= 2 else 1
        integer_labels = not torch.is_floating_point(y)
        if integer_labels and out.ndim >= 2 and width >= 2 and out.shape[:-1] == y.shape:
            return {"task": "multiclass", "num_classes": int(width)}
        if out.shape == y.shape or (out.ndim == 2 and width == 1 and out.shape[0] == y.numel()):
            labels = y[y != self.kwargs.get("ignore_index", -100)]
            if labels.numel() and bool(((labels == 0) | (labels == 1)).all()) and width == 1:
                return {"task": "binary"}
        raise ConfigError(
            f"metric={self.name!r}: cannot tell the task from the first validation batch "
            f"(output shape {tuple(out.shape)}, labels shape {tuple(y.shape)}, dtype {y.dtype}); "
            "pass metric_kwargs={'task': 'multiclass' | 'binary' | 'multilabel', "
            "'num_classes': ...} (or 'num_labels' for multilabel)"
        )

    def prepare(
        self, out: torch.Tensor, y: torch.Tensor, ignore_index: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(preds, target)` for `update`: sequences flattened, ignored labels dropped."""
        if out.ndim >= 3 and out.shape[:-1] == y.shape:
            out, y = out.reshape(-1, out.shape[-1]), y.reshape(-1)
        if out.ndim == 2 and out.shape[-1] == 1 and y.ndim == 1:
            out = out.squeeze(-1)
        classification = self.builtin is not None and self.builtin.family is (
            MetricFamily.CLASSIFICATION
        )
        if classification and torch.is_floating_point(y) and bool((y == y.round()).all()):
            y = y.long()  # 0/1 float targets of BCE losses: torchmetrics wants integer labels
        ignore = self.kwargs.get("ignore_index", ignore_index)
        if ignore is not None and not torch.is_floating_point(y):
            keep = y != ignore
            out, y = out[keep], y[keep]
        return out, y


def resolve_metric(
    metric: str | Any, metric_kwargs: Mapping[str, Any] | None, *, model_logs: bool
) -> MetricChoice:
    """`MetricChoice` for `HyperTuner(metric=..., metric_kwargs=...)`.

    Args:
        metric: A name of `BUILTIN_METRICS`, a `torchmetrics.Metric`, or (with `model_logs`) a
            name the model logs itself, e.g. 'val_myscore'.
        metric_kwargs: Arguments of the torchmetrics class, and `ignore_index`.
        model_logs: Whether the model is a LightningModule that logs its own metrics.

    Raises:
        ConfigError: An unknown name; the message lists the names there are.
    """
    kwargs = dict(metric_kwargs or {})
    if not isinstance(metric, str):
        higher = getattr(metric, "higher_is_better", None)
        if not (hasattr(metric, "update") and hasattr(metric, "compute")):
            raise ConfigError(
                f"metric must be a name of {sorted(BUILTIN_METRICS)} or a torchmetrics.Metric, "
                f"got {metric!r}"
            )
        name = type(metric).__name__
        return MetricChoice(name, f"val_{name}", higher, instance=metric, kwargs=kwargs)
    key = metric.strip().lower()
    key = key.removeprefix("val_") if key.removeprefix("val_") in BUILTIN_METRICS else key
    if key in BUILTIN_METRICS:
        builtin = BUILTIN_METRICS[key]
        return MetricChoice(key, f"val_{key}", builtin.higher_is_better, builtin, kwargs=kwargs)
    if model_logs:
        return MetricChoice(metric, metric, None, kwargs=kwargs)
    raise ConfigError(
        f"metric must be one of {sorted(BUILTIN_METRICS)} or a torchmetrics.Metric, got "
        f"{metric!r}; a metric the model logs itself (e.g. 'val_myscore') needs a "
        "LightningModule model_class that logs it"
    )
