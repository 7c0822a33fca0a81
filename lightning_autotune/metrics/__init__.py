"""Metrics: many logged metrics combined into one lower-is-better scalar."""

from lightning_autotune.metrics._composite import (
    SAMPLES_PER_SEC,
    SECONDS_PER_EPOCH,
    CompositeMetric,
    MetricTerm,
)

__all__ = ["SAMPLES_PER_SEC", "SECONDS_PER_EPOCH", "CompositeMetric", "MetricTerm"]
