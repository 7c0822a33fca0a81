"""The tabular benchmark: loader, nearest-configuration lookup, objective, and the builder."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from benchmarks import tabular_build
from benchmarks._tabular import DATA, TabularProblem, load_table, table_names
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState

SPACE = SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 3), "opt": Categorical(("a", "b"))})
CONFIGS = [
    {"x": 0.1, "n": 1, "opt": "a"},
    {"x": 0.9, "n": 3, "opt": "a"},
    {"x": 0.5, "n": 2, "opt": "b"},
    {"x": 0.45, "n": 2, "opt": "a"},
]
# row i's loss falls from 2 + i to 1 + i / 4 over 4 epochs: row 0 is the best, row 3 the worst
CURVES = np.array([np.linspace(2 + i, 1 + i / 4, 4) for i in range(4)])


def _write(root, n_manifest=4, n_rows=4):
    manifest = {
        "space": SPACE.to_dict(),
        "configs": CONFIGS[:n_manifest],
        "n_configs": n_manifest,
        "datasets": {"toy": {}},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    np.savez(
        root / "toy.npz",
        unit=SPACE.encode(CONFIGS)[:n_rows],
        val_loss=CURVES[:n_rows].astype(np.float16),
        val_acc=np.full((n_rows, 4), 0.5, dtype=np.float16),
        seconds=np.full((n_rows, 4), 0.01, dtype=np.float16),
        test_acc=np.arange(n_rows, dtype=np.float32) / 10,
    )
    return root


@pytest.fixture
def problem(tmp_path):
    return TabularProblem(load_table("toy", _write(tmp_path)))


def test_every_table_configuration_is_its_own_nearest(problem):
    assert [problem.nearest(c) for c in CONFIGS] == [0, 1, 2, 3]


def test_a_suggestion_maps_to_the_nearest_row_with_the_same_categorical_values(problem):
    # numerically closest to row 2 (x=0.5, n=2, "b"), but "a" rows only are eligible
    assert problem.nearest({"x": 0.52, "n": 2, "opt": "a"}) == 3
    assert problem.nearest({"x": 0.2, "n": 1, "opt": "b"}) == 2
    assert problem.nearest({"x": 0.8, "n": 3, "opt": "a"}) == 1


def test_evaluate_reads_the_curve_at_an_epoch_and_regret_is_from_the_best_final_loss(problem):
    c = {"x": 0.88, "n": 3, "opt": "a"}
    assert problem.evaluate(c) == pytest.approx(1.25, abs=1e-3)
    assert problem.evaluate(c, epoch=1) == pytest.approx(3.0)
    assert problem.table.best == pytest.approx(1.0)
    assert problem.regret(problem.evaluate(c)) == pytest.approx(0.25, abs=1e-3)
    assert problem.test_acc(c) == pytest.approx(0.1)


def test_an_epoch_outside_the_table_is_refused(problem):
    with pytest.raises(ValueError, match=r"epoch=5 is outside 1\.\.4"):
        problem.evaluate(CONFIGS[0], epoch=5)
    with pytest.raises(ValueError, match=r"epoch=0 is outside 1\.\.4"):
        problem.evaluate(CONFIGS[0], epoch=0)


def test_an_unknown_table_name_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match=r"name='cifar' has no table .*\['toy'\]"):
        load_table("cifar", _write(tmp_path))


def test_rows_beyond_the_manifest_of_a_stopped_build_are_dropped(tmp_path):
    table = load_table("toy", _write(tmp_path, n_manifest=3, n_rows=4))
    assert len(table.configs) == len(table.curves) == len(table.test_acc) == 3


def test_rows_keeps_a_prefix_of_the_configurations_and_refuses_zero(tmp_path):
    table = load_table("toy", _write(tmp_path), rows=2)
    assert table.configs == CONFIGS[:2] and len(table.curves) == 2
    with pytest.raises(ValueError, match=r"rows=0 must be a positive count"):
        load_table("toy", tmp_path, rows=0)


def test_a_table_with_missing_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unit has 3 rows, but there are 4 configs"):
        load_table("toy", _write(tmp_path, n_manifest=4, n_rows=3))


def test_the_objective_reports_every_epoch_and_a_pruned_trial_counts_its_epochs(problem):
    study = create_study(
        "tab",
        problem.space,
        InMemoryStorage(),
        "minimize",
        pruner=MedianPruner(n_startup_trials=1),
        seed=0,
    )
    for c in (CONFIGS[0], CONFIGS[3]):  # the best row, then the worst: pruned after epoch 1
        study.enqueue(c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(problem.objective(), n_trials=2)
    first, second = study.trials
    assert first.state is TrialState.COMPLETE
    assert first.value == pytest.approx(1.0)
    assert dict(first.intermediate) == pytest.approx(
        {e + 1: v for e, v in enumerate(CURVES[0])}, abs=1e-3
    )
    assert second.state is TrialState.PRUNED
    assert list(second.intermediate) == [1]
    assert problem.epochs_spent == 4 + 1


def test_the_builder_writes_tables_the_loader_reads(tmp_path):
    tabular_build.build(["wine"], n_configs=2, epochs=1, out=tmp_path, chunk=1)
    table = load_table("wine", tmp_path)
    assert table.curves.shape == (2, 1)
    assert table.space == tabular_build.SPACE
    assert np.all(np.isfinite(table.curves)) and np.all(table.curves <= tabular_build.LOSS_CAP)
    assert np.all((table.test_acc >= 0) & (table.test_acc <= 1))
    assert [TabularProblem(table).nearest(c) for c in table.configs] == [0, 1]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["n_configs"] == 2 and manifest["epochs"] == 1
    assert manifest["datasets"]["wine"]["n_train"] == 106


def test_the_split_is_stratified_and_standardised_on_the_training_part():
    x, y = tabular_build.DATASETS["wine"]()
    s = tabular_build.split(x, y)
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == len(y)
    assert np.allclose(s.x_train.mean(0), 0.0, atol=1e-5)
    train_share = np.bincount(s.y_train) / len(s.y_train)
    assert np.allclose(train_share, np.bincount(s.y_test) / len(s.y_test), atol=0.05)


@pytest.mark.skipif(not (DATA / "manifest.json").exists(), reason="tables not built")
def test_the_committed_tables_load_with_one_row_per_configuration():
    for name in table_names():
        table = load_table(name)
        assert table.curves.shape == (len(table.configs), table.epochs)
        assert TabularProblem(table).nearest(table.configs[-1]) == len(table.configs) - 1
