"""`TaskDescriptor`: what a study tuned, in a few numbers that compare across studies."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from lightning_autotune.exceptions import ConfigError

__all__ = ["DESCRIPTOR_VERSION", "DataFeatures", "ModelFeatures", "TaskDescriptor"]

DESCRIPTOR_VERSION = 1
"""Layout version of the descriptor JSON; a descriptor written by a newer one is refused."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class DataFeatures:
    """Meta-features of the training data, from its size and a bounded sample (never the data).

    Attributes:
        n_samples: Training examples (None: the dataset has no length).
        input_shape: Shape of one input.
        n_classes: Distinct integer targets seen in the sample (None: not a classification).
        class_balance: Normalized entropy of the sampled class frequencies (1: balanced).
        input_median: Median of the sampled input values.
        input_iqr: Interquartile range of the sampled input values.
        zero_fraction: Share of the sampled input values that are exactly zero.
        sample_size: Examples the statistics were computed on.
    """

    n_samples: int | None
    input_shape: tuple[int, ...]
    n_classes: int | None = None
    class_balance: float | None = None
    input_median: float | None = None
    input_iqr: float | None = None
    zero_fraction: float | None = None
    sample_size: int = 0


@dataclass(frozen=True)
class ModelFeatures:
    """The model a study trained: its class and its size.

    Attributes:
        model_class: Qualified class name.
        n_params: Number of parameters of the model built from one configuration.
    """

    model_class: str
    n_params: int


@dataclass(frozen=True)
class TaskDescriptor:
    """What one study tuned: the data, the model, the objective, the space and where it ran.

    Attributes:
        study: The study's name.
        space: Its search space (dict format).
        directions: Its objective directions ('minimize' / 'maximize').
        objective: The name of what it optimized (e.g. 'val_loss'), if known.
        data: Meta-features of the training data, if known.
        model: The model's class and size, if known.
        hardware: Device name, count and memory, if recorded.
        versions: Versions of the packages that ran it.
        tags: User tags.
    """

    study: str
    space: Mapping[str, Any]
    directions: tuple[str, ...]
    objective: str | None = None
    data: DataFeatures | None = None
    model: ModelFeatures | None = None
    hardware: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    versions: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def stored(self) -> dict[str, Any]:
        """The JSON-ready part the knowledge base stores (the space and directions live with
        the study itself)."""
        return {
            "version": DESCRIPTOR_VERSION,
            "objective": self.objective,
            "data": None if self.data is None else asdict(self.data),
            "model": None if self.model is None else asdict(self.model),
            "hardware": dict(self.hardware),
            "versions": dict(self.versions),
            "tags": dict(self.tags),
        }

    @classmethod
    def from_stored(
        cls,
        study: str,
        space: Mapping[str, Any],
        directions: tuple[str, ...],
        text: str | None,
    ) -> TaskDescriptor:
        """Rebuild a descriptor from the stored JSON (None: a study with none recorded).

        Raises:
            ConfigError: The JSON is malformed or written by a newer descriptor layout.
        """
        if text is None:
            return cls(study=study, space=space, directions=directions)
        try:
            raw = json.loads(text)
            version = int(raw.get("version", 0))
        except (ValueError, TypeError, AttributeError) as err:
            raise ConfigError(
                f"the task descriptor of study {study!r} is not valid JSON ({err}); record it "
                "again with KnowledgeBase.record"
            ) from None
        if version > DESCRIPTOR_VERSION:
            raise ConfigError(
                f"the task descriptor of study {study!r} has layout version {version}, newer "
                f"than this release reads ({DESCRIPTOR_VERSION}); upgrade lightning_autotune"
            )
        data = raw.get("data")
        model = raw.get("model")
        return cls(
            study=study,
            space=space,
            directions=directions,
            objective=raw.get("objective"),
            data=None
            if data is None
            else DataFeatures(**{**data, "input_shape": tuple(data.get("input_shape", ()))}),
            model=None if model is None else ModelFeatures(**model),
            hardware=MappingProxyType(dict(raw.get("hardware") or {})),
            versions=MappingProxyType(dict(raw.get("versions") or {})),
            tags=MappingProxyType(dict(raw.get("tags") or {})),
        )

    def distance(self, other: TaskDescriptor) -> float:
        """How unlike `other` this task is (0: alike; inf: no parameter in common).

        A sum of terms, each in [0, 1]: the share of parameter names not shared, different
        directions, a different objective name or model class, differing tags, and for the
        features both tasks have, a squashed difference of the log sizes, class counts,
        balance and input statistics.
        """
        a, b = set(self.space), set(other.space)
        if not a & b:
            return math.inf
        d = 1.0 - len(a & b) / len(a | b)
        d += float(self.directions != other.directions)
        if self.objective and other.objective:
            d += float(self.objective != other.objective)
        if self.model is not None and other.model is not None:
            d += float(self.model.model_class != other.model.model_class)
            d += _squash(_log_ratio(self.model.n_params, other.model.n_params))
        if self.data is not None and other.data is not None:
            d += _data_distance(self.data, other.data)
        ta, tb = set(_pairs(self.tags)), set(_pairs(other.tags))
        if ta | tb:
            d += 1.0 - len(ta & tb) / len(ta | tb)
        return d


def _pairs(tags: Mapping[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v, sort_keys=True)}" for k, v in tags.items()]


def _squash(x: float) -> float:
    return 1.0 - math.exp(-abs(x))


def _log_ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or a <= 0 or b <= 0:
        return 0.0
    return math.log(a / b)


def _data_distance(a: DataFeatures, b: DataFeatures) -> float:
    d = _squash(_log_ratio(a.n_samples, b.n_samples))
    d += _squash(_log_ratio(math.prod(a.input_shape or (1,)), math.prod(b.input_shape or (1,))))
    if (a.n_classes is None) != (b.n_classes is None):
        d += 1.0
    elif a.n_classes is not None and b.n_classes is not None:
        d += _squash(_log_ratio(a.n_classes, b.n_classes))
        d += abs((a.class_balance or 0.0) - (b.class_balance or 0.0))
    for x, y in ((a.input_median, b.input_median), (a.input_iqr, b.input_iqr)):
        if x is not None and y is not None:
            d += _squash((x - y) / (abs(x) + abs(y) + 1e-12))
    return d
