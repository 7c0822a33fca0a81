from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.metrics import (
    SAMPLES_PER_SEC,
    SECONDS_PER_EPOCH,
    CompositeMetric,
    MetricTerm,
)
from lightning_autotune.trial import Direction


def test_weighted_sum_lower_is_better():
    metric = CompositeMetric(
        (
            MetricTerm("val_loss"),
            MetricTerm(SAMPLES_PER_SEC, weight=0.5, direction="max", scale=1000.0),
        )
    )
    assert metric.direction is Direction.MINIMIZE
    assert metric.compute({"val_loss": 0.4, SAMPLES_PER_SEC: 2000.0}) == pytest.approx(-0.6)
    # Faster training at the same loss is better (lower).
    slow = metric.compute({"val_loss": 0.4, SAMPLES_PER_SEC: 500.0})
    assert slow > metric.compute({"val_loss": 0.4, SAMPLES_PER_SEC: 2000.0})


def test_of_accepts_bare_names_and_extra_logged_metrics_are_ignored():
    metric = CompositeMetric.of("val_loss", MetricTerm(SECONDS_PER_EPOCH, weight=0.01))
    assert metric.names == ("val_loss", SECONDS_PER_EPOCH)
    assert metric.compute({"val_loss": 1.0, SECONDS_PER_EPOCH: 10.0, "lr": 3.0}) == 1.1


def test_missing_metric_lists_what_was_logged():
    metric = CompositeMetric.of("val_loss", "val_time")
    with pytest.raises(MetricNotFoundError, match=r"\['val_time'\] were not logged; logged were "):
        metric.compute({"val_loss": 1.0, "train_loss": 2.0})
    with pytest.raises(MetricNotFoundError, match=r"logged were \['\(nothing\)'\]"):
        metric.compute({})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "oops"])
def test_non_finite_is_worst_never_raises(bad):
    metric = CompositeMetric.of("val_loss", MetricTerm("acc", direction="max"))
    assert metric.compute({"val_loss": bad, "acc": 0.9}) == math.inf
    assert metric.compute({"val_loss": 0.1, "acc": bad}) == math.inf


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MetricTerm(""), r"name must be a non-empty string"),
        (lambda: MetricTerm("a", weight=-1), r"'a': weight must be a finite number >= 0, got -1"),
        (lambda: MetricTerm("a", scale=0), r"'a': scale must be a finite number > 0, got 0"),
        (lambda: MetricTerm("a", direction="up"), r"direction must be 'minimize' or 'maximize'"),
        (lambda: CompositeMetric(()), r"terms must hold at least one MetricTerm"),
        (lambda: CompositeMetric(("a",)), r"terms\[0\] must be a MetricTerm.*MetricTerm\('a'\)"),
        (lambda: CompositeMetric.of("a", "a"), r"metric 'a' appears twice"),
    ],
)
def test_bad_input_is_named(build, match):
    with pytest.raises(ConfigError, match=match):
        build()


def test_frozen():
    metric = CompositeMetric.of("val_loss")
    with pytest.raises(AttributeError):
        metric.name = "x"  # type: ignore[misc]


@given(
    loss=st.floats(-1e6, 1e6),
    speed=st.floats(0, 1e6),
    w=st.floats(0, 10),
)
def test_property_monotone_in_each_term(loss, speed, w):
    metric = CompositeMetric((MetricTerm("l"), MetricTerm("s", w, "max", 100.0)))
    base = metric.compute({"l": loss, "s": speed})
    assert math.isfinite(base)
    assert metric.compute({"l": loss + 1.0, "s": speed}) >= base
    assert metric.compute({"l": loss, "s": speed + 1.0}) <= base
