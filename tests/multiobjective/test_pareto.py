from __future__ import annotations

import numpy as np
import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.multiobjective import hypervolume, nondominated_mask, pareto_front
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialRecord, TrialState

# (accuracy: maximize, latency_ms: minimize); hand-made so the front is known.
POINTS = {
    0: (0.90, 10.0),  # front
    1: (0.95, 20.0),  # front
    2: (0.85, 12.0),  # dominated by 0
    3: (0.97, 40.0),  # front
    4: (0.95, 25.0),  # dominated by 1
    5: (0.90, 10.0),  # duplicate of 0: also on the front
    6: (0.80, 5.0),  # front
    7: (0.96, 40.0),  # dominated by 3
}
FRONT = [0, 1, 3, 5, 6]
DIRS = (Direction.MAXIMIZE, Direction.MINIMIZE)


def _records() -> list[TrialRecord]:
    out = [TrialRecord(i, i, TrialState.COMPLETE, {"x": 0.0}, values=v) for i, v in POINTS.items()]
    # Neither a pruned nor a failed trial is ever on the front, whatever its values.
    out.append(TrialRecord(8, 8, TrialState.PRUNED, {"x": 0.0}, values=(0.99, 1.0)))
    out.append(TrialRecord(9, 9, TrialState.FAILED, {"x": 0.0}))
    return out


def test_pareto_front_hand_made() -> None:
    assert [r.number for r in pareto_front(_records(), DIRS)] == FRONT
    assert [r.number for r in pareto_front(_records(), ["maximize", "minimize"])] == FRONT


def test_pareto_front_directions_matter() -> None:
    # Minimizing both: only the cheapest-and-worst point (6) is left.
    assert [r.number for r in pareto_front(_records(), ["minimize", "minimize"])] == [6]
    assert pareto_front([], DIRS) == []


def test_pareto_front_value_count_checked() -> None:
    bad = [TrialRecord(0, 0, TrialState.COMPLETE, {}, values=(1.0,))]
    with pytest.raises(ConfigError, match="has 1 values but the study has 2 directions"):
        pareto_front(bad, DIRS)


def test_nondominated_mask_nan_rows_excluded() -> None:
    Y = np.array([[1.0, 1.0], [np.nan, 0.0], [2.0, 0.5]])
    assert nondominated_mask(Y).tolist() == [True, False, True]


def test_hypervolume_2d_by_hand() -> None:
    # Staircase of (1, 3), (2, 2), (3, 1) under reference (4, 4): 3 + 2 + 1 = 6.
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)
    # Dominated and out-of-reference points add nothing.
    assert hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4]) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), [4, 4]) == 0.0


def test_hypervolume_directions() -> None:
    values = [[v[0], v[1]] for v in POINTS.values()]
    hv = hypervolume(values, [0.0, 50.0], directions=DIRS)
    flipped = hypervolume([[-a, b] for a, b in values], [0.0, 50.0])
    assert hv == pytest.approx(flipped) and hv > 0


def test_hypervolume_3d_cube_and_box() -> None:
    assert hypervolume([[0, 0, 0]], [1, 2, 3]) == pytest.approx(6.0)
    # Two boxes of volume 1*1*2 and 2*1*1 sharing a 1*1*1 corner: 2 + 2 - 1.
    assert hypervolume([[1, 1, 0], [0, 1, 1]], [2, 2, 2]) == pytest.approx(3.0)


def test_hypervolume_matches_botorch() -> None:
    torch = pytest.importorskip("torch")
    hv_mod = pytest.importorskip("botorch.utils.multi_objective.hypervolume")
    rng = np.random.default_rng(0)
    for m in (2, 3, 4):
        Y = rng.random((25, m))
        ref = np.full(m, 1.1)
        theirs = hv_mod.Hypervolume(torch.tensor(-ref)).compute(
            torch.tensor(-Y[nondominated_mask(Y)])
        )
        assert hypervolume(Y, ref) == pytest.approx(float(theirs))


def test_hypervolume_bad_reference() -> None:
    with pytest.raises(ConfigError, match="one reference value per objective"):
        hypervolume([[1.0, 2.0]], [3.0])


def test_study_best_trials() -> None:
    study = create_study(space=SearchSpace({"x": Float(0, 1)}), directions=DIRS)
    for _, v in sorted(POINTS.items()):
        study.tell(study.ask(), list(v))
    assert [t.number for t in study.best_trials] == FRONT
    single = create_study(space=SearchSpace({"x": Float(0, 1)}))
    assert single.best_trials == []
    for v in (3.0, 1.0, 1.0, 2.0):
        single.tell(single.ask(), v)
    assert [t.number for t in single.best_trials] == [1, 2]


def test_plot_pareto_front() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from lightning_autotune.analysis import plot_pareto_front

    ax = plot_pareto_front(_records(), DIRS, names=("accuracy", "latency_ms"))
    assert ax.get_xlabel() == "accuracy (maximize)"
    assert len(ax.collections) == 2  # all trials, front points
    with pytest.raises(ConfigError, match="exactly two directions"):
        plot_pareto_front(_records(), ["minimize"])
