from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import check_png

pytest.importorskip("matplotlib")

from lightning_autotune import InMemoryStorage, create_study
from lightning_autotune.analysis import (
    plot_intermediate_values,
    plot_local_sensitivity,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
    save_png,
)
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.trial import TrialState

PLOTS = [
    plot_optimization_history,
    plot_intermediate_values,
    plot_parallel_coordinate,
    plot_slice,
]


@pytest.mark.parametrize("plot", PLOTS, ids=lambda f: f.__name__)
def test_each_plot_is_written_as_a_non_blank_png(mixed_study, tmp_path, plot):
    fig = plot(mixed_study, path=tmp_path / "out" / "plot.png")
    width, height = (round(v * 100) for v in fig.get_size_inches())
    check_png(tmp_path / "out" / "plot.png", width, height)


def test_importance_and_sensitivity_plots_are_non_blank(linear_result, tmp_path):
    fig = plot_param_importances(linear_result.importances, path=tmp_path / "imp.png")
    check_png(tmp_path / "imp.png", *(round(v * 100) for v in fig.get_size_inches()))
    fig = plot_local_sensitivity(linear_result)
    save_png(fig, tmp_path / "local.png", dpi=50)
    check_png(tmp_path / "local.png", *(round(v * 50) for v in fig.get_size_inches()))


def test_importance_plot_accepts_a_study(mixed_study, tmp_path):
    fig = plot_param_importances(mixed_study, n_samples=64, path=tmp_path / "imp.png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(mixed_study.space.names)


def test_history_marks_pruned_trials_and_best_so_far(mixed_study):
    ax = plot_optimization_history(mixed_study).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["complete", "pruned (last value)", "best so far"]
    best_line = ax.lines[0].get_ydata()
    assert np.all(np.diff(best_line) <= 0)  # minimize: never gets worse
    assert best_line[-1] == pytest.approx(mixed_study.best_value)


def test_intermediate_curves_draw_pruned_trials_dashed(mixed_study):
    ax = plot_intermediate_values(mixed_study).axes[0]
    styles = {line.get_linestyle() for line in ax.lines}
    assert styles == {"-", "--"}
    n_pruned = len(mixed_study.get_trials([TrialState.PRUNED]))
    assert sum(line.get_linestyle() == "--" for line in ax.lines) == n_pruned


def test_parallel_coordinate_leaves_gaps_for_inactive_params(mixed_study):
    ax = plot_parallel_coordinate(mixed_study).axes[0]
    complete = mixed_study.get_trials([TrialState.COMPLETE])
    with_gap = sum(np.isnan(line.get_ydata()).any() for line in ax.lines)
    assert with_gap == sum(t.params["optimizer"] == "adam" for t in complete)
    tick_labels = [t.get_text() for t in ax.get_xticklabels()]
    assert tick_labels == ["lr", "layers", "optimizer", "momentum", "val_loss"]


def test_plots_accept_trial_records_and_directions(mixed_study, tmp_path):
    records = mixed_study.trials
    fig = plot_slice(records, directions=["maximize"], params=["lr", "optimizer"])
    assert len([ax for ax in fig.axes if ax.axison]) == 2
    fig = plot_parallel_coordinate(records, space=mixed_study.space, path=tmp_path / "p.png")
    check_png(tmp_path / "p.png", *(round(v * 100) for v in fig.get_size_inches()))


def test_plots_of_a_study_without_results_still_render(tmp_path):
    study = create_study("empty", {"x": {"type": "continuous", "min": 0, "max": 1}})
    study.ask()
    for plot in PLOTS:
        plot(study, path=tmp_path / f"{plot.__name__}.png")
        assert (tmp_path / f"{plot.__name__}.png").stat().st_size > 0


def test_unknown_param_and_objective_are_refused(mixed_study):
    with pytest.raises(ConfigError, match=r"params: \['nope'\] are not in the search space"):
        plot_slice(mixed_study, params=["nope"])
    with pytest.raises(ConfigError, match=r"objective must be an index in \[0, 0\].*got 2"):
        plot_optimization_history(mixed_study, objective=2)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    study = create_study("s", {"x": {"type": "continuous", "min": 0, "max": 1}}, InMemoryStorage())
    with pytest.raises(ImportError, match=r"pip install lightning-autotune\[plot\]"):
        plot_optimization_history(study)
