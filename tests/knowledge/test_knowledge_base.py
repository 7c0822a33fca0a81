"""KnowledgeBase: descriptors in the store, similar tasks, zero-shot portfolios."""

from __future__ import annotations

import sqlite3

import pytest
import torch
from sqlalchemy import create_engine, inspect, text
from torch.utils.data import DataLoader, TensorDataset

from lightning_autotune.exceptions import ConfigError, StorageError, StudyNotFoundError
from lightning_autotune.knowledge import (
    KnowledgeBase,
    TaskDescriptor,
    describe_data,
    describe_model,
)
from lightning_autotune.knowledge._table import TASK_ATTR
from lightning_autotune.storage import InMemoryStorage, SQLStorage
from lightning_autotune.storage._schema import SCHEMA_VERSION
from lightning_autotune.study import create_study
from lightning_autotune.testing import TinyClassifier

SPACE = {
    "x": {"type": "continuous", "min": 0.0, "max": 1.0},
    "y": {"type": "continuous", "min": 0.0, "max": 1.0},
}


def _study(store, name, space=SPACE, n=6, centre=0.3):
    study = create_study(name, space, store, seed=0)
    for i in range(n):
        x = i / max(n - 1, 1)
        study.tell(study.ask({"x": x, "y": 0.5}), (x - centre) ** 2)
    return study


def test_describe_data_reads_size_shape_and_classes_not_the_data():
    x = torch.arange(40, dtype=torch.float32).reshape(10, 4)
    y = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    features = describe_data(DataLoader(TensorDataset(x, y), batch_size=4))
    assert features.n_samples == 10
    assert features.input_shape == (4,)
    assert features.n_classes == 2 and features.class_balance == pytest.approx(1.0)
    assert features.input_median == pytest.approx(19.5)
    model = describe_model(TinyClassifier(n_features=4, n_classes=2, hidden=3))
    assert model.model_class.endswith("TinyClassifier") and model.n_params == 4 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_a_recorded_descriptor_reads_back(kind, tmp_path):
    store = SQLStorage(f"sqlite:///{tmp_path / 'kb.db'}") if kind == "sql" else InMemoryStorage()
    _study(store, "a")
    kb = KnowledgeBase(store)
    features = describe_data(TensorDataset(torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)))
    kb.record("a", objective="val_loss", data=features, tags={"dataset": "digits"})
    back = kb.task("a")
    assert back.data == features and back.objective == "val_loss"
    assert dict(back.tags) == {"dataset": "digits"} and back.directions == ("minimize",)
    assert "torch" in back.versions and "device" in back.hardware


def test_a_descriptor_of_a_newer_layout_is_refused(tmp_path):
    store = InMemoryStorage()
    info = _study(store, "a")
    store.set_study_attr(info.study_id, TASK_ATTR, '{"version": 99}')
    with pytest.raises(ConfigError, match=r"layout version 99, newer than this release reads"):
        KnowledgeBase(store).tasks()


def test_a_store_of_schema_version_2_gains_the_descriptor_table(tmp_path):
    path = tmp_path / "v2.db"
    SQLStorage(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE task_descriptors")
        conn.execute("UPDATE schema_version SET version = 2")
    conn.close()
    store = SQLStorage(f"sqlite:///{path}")
    _study(store, "a")
    KnowledgeBase(store).record("a", tags={"k": 1})
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        assert "task_descriptors" in inspect(c).get_table_names()
        assert c.execute(text("SELECT version FROM schema_version")).scalar() == SCHEMA_VERSION
    engine.dispose()


def test_a_knowledge_base_of_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    SQLStorage(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    conn.close()
    with pytest.raises(StorageError, match=r"schema version \[999\].*Open it with the"):
        KnowledgeBase(f"sqlite:///{path}")


def test_similar_orders_by_distance_and_skips_unrelated_spaces():
    store = InMemoryStorage()
    kb = KnowledgeBase(store)
    for name, tags in (("a", {"data": "digits"}), ("b", {"data": "wine"}), ("c", {})):
        _study(store, name)
        kb.record(name, tags=tags)
    _study(store, "other", space={"lr": {"type": "continuous", "min": 0.1, "max": 1.0}}, n=0)
    task = KnowledgeBase.describe("new", SPACE, tags={"data": "digits"})
    assert [s.study for s in kb.similar(task)] == ["a", "b", "c"]
    assert [s.study for s in kb.similar("a", k=1)] == ["b"]
    with pytest.raises(
        StudyNotFoundError, match=r"no study named 'nope'.*\['a', 'b', 'c', 'other'\]"
    ):
        kb.task("nope")


def test_suggest_returns_configurations_of_the_new_space():
    store = InMemoryStorage()
    _study(store, "a", centre=0.2)
    _study(store, "b", centre=0.8)
    space = {**SPACE, "z": {"type": "integer", "min": 1, "max": 5}}
    portfolio = KnowledgeBase(store).suggest(KnowledgeBase.describe("new", space), n=2)
    assert sorted(round(c["x"], 1) for c in portfolio) == [0.2, 0.8]
    assert all(c["z"] == 3 for c in portfolio)


def test_distance_is_infinite_without_shared_parameters():
    a = TaskDescriptor("a", SPACE, ("minimize",))
    b = TaskDescriptor("b", {"lr": {}}, ("minimize",))
    assert a.distance(b) == float("inf") and a.distance(a) == 0.0
