"""`CompositeMetric`: several logged metrics combined into one lower-is-better scalar."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.trial import Direction

__all__ = ["SAMPLES_PER_SEC", "SECONDS_PER_EPOCH", "CompositeMetric", "MetricTerm"]

SAMPLES_PER_SEC = "autotune/samples_per_sec"
"""Training throughput measured by `AutoTuneCallback` (samples per second of training time)."""

SECONDS_PER_EPOCH = "autotune/seconds_per_epoch"
"""Seconds of training time per epoch measured by `AutoTuneCallback` (validation excluded)."""


@dataclass(frozen=True)
class MetricTerm:
    """One term of a `CompositeMetric`: `weight * sign(direction) * value / scale`.

    Attributes:
        name: The logged metric name, e.g. 'val_loss' or `SAMPLES_PER_SEC`.
        weight: Non-negative importance of the term.
        direction: Whether the metric is better low (MINIMIZE) or high (MAXIMIZE); 'min'/'max'
            strings are accepted.
        scale: A positive reference value in the metric's own units: the term counts
            `value / scale`, so a term worth "one unit" at its reference value weighs as much as
            another at its own. Use it to put seconds and losses on one footing.

    Raises:
        ConfigError: Empty name, negative or non-finite weight, or non-positive scale.

    Example:
        >>> MetricTerm("val_loss").contribution(0.5)
        0.5
        >>> MetricTerm(SAMPLES_PER_SEC, weight=0.1, direction="max", scale=1000).contribution(2000)
        -0.2
    """

    name: str
    weight: float = 1.0
    direction: Direction = Direction.MINIMIZE
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"MetricTerm: name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "direction", Direction.parse(self.direction, "direction"))
        weight = check_number(self.weight, f"MetricTerm {self.name!r}: weight", low=0.0)
        scale = check_number(
            self.scale, f"MetricTerm {self.name!r}: scale", low=0.0, strict_low=True
        )
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "scale", scale)

    def contribution(self, value: float) -> float:
        """This term's share of the composite for `value` (+inf if `value` is not finite)."""
        if not math.isfinite(value):
            return math.inf
        return self.weight * self.direction.sign * value / self.scale


@dataclass(frozen=True)
class CompositeMetric:
    """Many logged metrics combined into one scalar that is always lower-is-better.

    `compute(logged) = sum(weight_i * sign_i * logged[name_i] / scale_i)` with `sign = +1` for a
    metric to minimize and `-1` for one to maximize. Terms are combined on raw values divided by
    a reference `scale` the user gives, nothing is estimated from data, so the same logged values
    always give the same composite (this keeps pruning decisions pure). If any term's value is NaN
    or infinite the composite is +inf, the worst value, and nothing raises.

    Attributes:
        terms: The terms, at least one, with distinct names.
        name: Label under which the composite is reported.

    Raises:
        ConfigError: No terms, a term that is not a `MetricTerm`, or a name used twice.

    Example:
        >>> metric = CompositeMetric(
        ...     (MetricTerm("val_loss"), MetricTerm(SECONDS_PER_EPOCH, weight=0.01))
        ... )
        >>> metric.compute({"val_loss": 0.3, SECONDS_PER_EPOCH: 20.0, "lr": 0.1})
        0.5
        >>> metric.direction
        <Direction.MINIMIZE: 'minimize'>
    """

    terms: tuple[MetricTerm, ...]
    name: str = "composite"
    direction: Direction = field(default=Direction.MINIMIZE, init=False)

    def __post_init__(self) -> None:
        terms = tuple(self.terms) if isinstance(self.terms, Iterable) else ()
        if not terms:
            raise ConfigError(
                "CompositeMetric: terms must hold at least one MetricTerm, got none; "
                "pass e.g. (MetricTerm('val_loss'),)"
            )
        seen: set[str] = set()
        for i, term in enumerate(terms):
            if not isinstance(term, MetricTerm):
                raise ConfigError(
                    f"CompositeMetric: terms[{i}] must be a MetricTerm, got {term!r}; "
                    f"wrap it as MetricTerm({term!r})"
                )
            if term.name in seen:
                raise ConfigError(
                    f"CompositeMetric: metric {term.name!r} appears twice in terms; "
                    "merge the two into one term"
                )
            seen.add(term.name)
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(
                f"CompositeMetric: name must be a non-empty string, got {self.name!r}"
            )
        object.__setattr__(self, "terms", terms)

    @classmethod
    def of(cls, *terms: MetricTerm | str, name: str = "composite") -> CompositeMetric:
        """Build from terms, where a bare string is a weight-1 metric to minimize.

        Example:
            >>> CompositeMetric.of("val_loss", MetricTerm("train_time", 0.5)).names
            ('val_loss', 'train_time')
        """
        return cls(tuple(MetricTerm(t) if isinstance(t, str) else t for t in terms), name)

    @property
    def names(self) -> tuple[str, ...]:
        """The metric names the composite reads, in term order."""
        return tuple(t.name for t in self.terms)

    def missing(self, logged: Mapping[str, object]) -> tuple[str, ...]:
        """The names of terms absent from `logged`."""
        return tuple(n for n in self.names if n not in logged)

    def compute(self, logged: Mapping[str, float]) -> float:
        """The composite value for one set of logged metrics (lower is better).

        Args:
            logged: Metric name -> value; extra names are ignored.

        Returns:
            The weighted sum, or +inf when any term is NaN or infinite.

        Raises:
            MetricNotFoundError: A term's metric is missing; the message lists what was logged.
        """
        absent = self.missing(logged)
        if absent:
            raise MetricNotFoundError(
                f"CompositeMetric {self.name!r}: metric(s) {list(absent)} were not logged; "
                f"logged were {sorted(logged) or ['(nothing)']}. Log them with self.log(...) or "
                "change the terms to logged names"
            )
        total = 0.0
        for term in self.terms:
            try:
                value = float(logged[term.name])
            except (TypeError, ValueError):
                return math.inf
            part = term.contribution(value)
            if not math.isfinite(part):
                return math.inf
            total += part
        return total if math.isfinite(total) else math.inf
