"""Plot axes name the objective's metric where the study knows it, 'objective' otherwise."""

from __future__ import annotations

import pytest

from lightning_autotune import InMemoryStorage, RandomSampler, create_study
from lightning_autotune.analysis import (
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_pareto_front,
)
from lightning_autotune.study import Study

pytest.importorskip("matplotlib")

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


def _study(direction: str = "minimize", metrics: dict[str, float] | None = None) -> Study:
    study = create_study(None, SPACE, InMemoryStorage(), direction, sampler=RandomSampler(), seed=0)
    for _ in range(4):
        trial = study.ask()
        x = trial.params["x"]
        trial.report(0, x, None if metrics is None else {**metrics, "val_acc": x})
        study.tell(trial, x)
    return study


def test_the_metric_reported_as_the_objective_names_the_axes() -> None:
    study = _study("maximize", metrics={"val_loss": 0.7, "lr-Adam": 0.01})
    assert plot_optimization_history(study).axes[0].get_ylabel() == "val_acc (maximize)"
    assert plot_intermediate_values(study).axes[0].get_ylabel() == "val_acc (reported)"
    ticks = [t.get_text() for t in plot_parallel_coordinate(study).axes[0].get_xticklabels()]
    assert ticks == ["x", "val_acc"]


def test_a_stored_name_wins() -> None:
    study = _study("maximize", metrics={})
    study.storage.set_study_attr(study.study_id, "objective_names", ["accuracy"])
    assert plot_optimization_history(study).axes[0].get_ylabel() == "accuracy (maximize)"
    study.storage.set_study_attr(study.study_id, "objective_names", ["a", "b"])  # wrong length
    study.storage.set_study_attr(study.study_id, "monitor", "val_f1")
    assert plot_optimization_history(study).axes[0].get_ylabel() == "val_f1 (maximize)"


def test_objective_when_nothing_is_known() -> None:
    assert plot_optimization_history(_study()).axes[0].get_ylabel() == "objective (minimize)"
    # Two metrics equal to the objective at every step: no guess.
    twin = create_study("twin", SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=0)
    trial = twin.ask()
    trial.report(0, 0.5, {"a": 0.5, "b": 0.5})
    twin.tell(trial, 0.5)
    assert plot_optimization_history(twin).axes[0].get_ylabel() == "objective (minimize)"


def test_pareto_plot_uses_the_studys_objective_names() -> None:
    study = create_study(
        "mo", SPACE, InMemoryStorage(), directions=["maximize", "minimize"], seed=0,
        sampler=RandomSampler(),
    )  # fmt: skip
    study.storage.set_study_attr(study.study_id, "objective_names", ["accuracy", "latency_ms"])
    for _ in range(4):
        trial = study.ask()
        study.tell(trial, [trial.params["x"], 1 - trial.params["x"]])
    ax = plot_pareto_front(study)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("accuracy (maximize)", "latency_ms (minimize)")
    bare = plot_pareto_front(study.trials, study.directions)
    assert bare.get_xlabel() == "objective 0 (maximize)"
