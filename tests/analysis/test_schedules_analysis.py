"""Population schedules in the analysis: read back from a stored population, drawn, reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_autotune._lineage import BoundaryResult, CopyReason, Lineage, Segment
from lightning_autotune.analysis import (
    ExploitEvent,
    plot_population_schedules,
    population_schedules,
    write_report,
)
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.study import create_study, load_study

pytest.importorskip("matplotlib")

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 1.0, "scale": "log"},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    "hidden": {"type": "integer", "min": 4, "max": 16},
}
A = {"lr": 0.1, "optimizer": "adam", "hidden": 8}
B = {"lr": 0.01, "optimizer": "adam", "hidden": 8}
A2 = {"lr": 0.12, "optimizer": "sgd", "hidden": 8}
# Member 0 leads; member 1 copies it at boundary 1 (epoch 2) and explores to A2; member 2
# diverges at boundary 2 and copies member 1 (so member 1's copy is in its schedule too).
LINEAGES = (
    Lineage(0, (Segment(0, A),), (BoundaryResult(1, 0.5), BoundaryResult(2, 0.3))),
    Lineage(
        1,
        (Segment(0, A), Segment(2, A2, 0, CopyReason.UNDERPERFORMING)),
        (BoundaryResult(1, 0.9), BoundaryResult(2, 0.2)),
        ((1, 0, CopyReason.UNDERPERFORMING),),
    ),
    Lineage(
        2,
        (
            Segment(0, A),
            Segment(2, A2, 0, CopyReason.UNDERPERFORMING),
            Segment(4, {**A2, "lr": 0.2}, 1, CopyReason.DIVERGED),
        ),
        (BoundaryResult(1, 0.6), BoundaryResult(2, float("nan")), BoundaryResult(3, 0.4)),
        ((2, 1, CopyReason.DIVERGED),),
    ),
)


def _stored_population(tmp_path: Path) -> str:
    """A SQLite store holding a finished population of three members (interval 2)."""
    url = f"sqlite:///{tmp_path / 'pop.db'}"
    study = create_study("pop", SPACE, url, seed=0)
    study.storage.set_study_attr(study.study_id, "population", {"interval": 2})
    for lineage, first in zip(LINEAGES, (A, B, A), strict=True):
        trial = study.ask(dict(first))
        trial.set_user_attr("population", lineage.encode())
        study.tell(trial, lineage.results[-1].value)
    return url


def test_schedules_are_read_back_from_the_stored_lineage(tmp_path: Path) -> None:
    study = load_study("pop", _stored_population(tmp_path))
    schedules = population_schedules(study)
    assert sorted(schedules) == [0, 1, 2]
    two = schedules[2]
    assert two.starts == (0, 2, 4)
    assert two.values("lr") == [0.1, 0.12, 0.2]
    assert two.values("optimizer") == ["adam", "sgd", "sgd"]
    assert two.end_epoch == 6  # three boundaries of two epochs
    assert two.events == (
        ExploitEvent(2, 0, CopyReason.UNDERPERFORMING),
        ExploitEvent(4, 1, CopyReason.DIVERGED),
    )
    assert schedules[0].events == () and schedules[0].end_epoch == 4
    # With interval 1 the last boundary (3) ends before the last segment: it gets one epoch.
    assert population_schedules(study.trials, interval=1)[2].end_epoch == 5


def test_the_plot_has_a_panel_per_changing_hyperparameter(tmp_path: Path) -> None:
    study = load_study("pop", _stored_population(tmp_path))
    fig = plot_population_schedules(study, path=tmp_path / "schedules.png")
    assert [ax.get_ylabel() for ax in fig.axes] == ["lr", "optimizer"]  # hidden never changes
    lr_axis = fig.axes[0]
    assert lr_axis.get_yscale() == "log"
    assert len(lr_axis.get_lines()) == 3  # one step line per member
    assert len(lr_axis.collections) == 3  # member 1's copy, member 2's two copies
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["adam", "sgd"]
    assert (tmp_path / "schedules.png").stat().st_size > 0
    with pytest.raises(ConfigError, match=r"params=\['momentum'\] are not in any member"):
        plot_population_schedules(study, params=["momentum"])


def test_the_report_shows_the_schedules_of_a_population_only(tmp_path: Path) -> None:
    study = load_study("pop", _stored_population(tmp_path))
    text = write_report(study, tmp_path / "r.html", sensitivity=False).read_text()
    assert "<h2>Population schedules</h2>" in text
    plain = create_study("plain", SPACE, f"sqlite:///{tmp_path / 'plain.db'}", seed=0)
    trial = plain.ask()
    plain.tell(trial, 1.0)
    with pytest.raises(ConfigError, match="study 'plain' has no population member"):
        plot_population_schedules(plain)
    assert (
        "Population schedules"
        not in write_report(plain, tmp_path / "p.html", sensitivity=False).read_text()
    )
