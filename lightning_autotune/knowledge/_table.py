"""Read and write task descriptors in a store.

A SQL store keeps them in its `task_descriptors` table (one row per study, removed with the
study). The in-memory store has no tables of its own for them: there a descriptor is the study
attribute `TASK_ATTR`, which lives and dies with the study the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, delete, insert, select

from lightning_autotune.knowledge._descriptor import TaskDescriptor
from lightning_autotune.storage import SQLStorage, Storage, StudyInfo
from lightning_autotune.storage._schema import dump_json, task_descriptors

__all__ = ["TASK_ATTR", "load_descriptors", "save_descriptor"]

TASK_ATTR = "task_descriptor"
"""Study attribute holding the descriptor JSON in stores without the table."""


def save_descriptor(storage: Storage, info: StudyInfo, descriptor: TaskDescriptor) -> None:
    """Store `descriptor` as the study's (replacing any earlier one).

    Raises:
        ConfigError: A tag or feature is not JSON-serializable (names the field).
    """
    text = dump_json(descriptor.stored(), f"task descriptor of study {info.name!r}")
    if not isinstance(storage, SQLStorage):
        storage.set_study_attr(info.study_id, TASK_ATTR, text)
        return

    def body(conn: Connection) -> None:
        conn.execute(delete(task_descriptors).where(task_descriptors.c.study_id == info.study_id))
        conn.execute(
            insert(task_descriptors).values(
                study_id=info.study_id, descriptor=text, updated_at=datetime.now(timezone.utc)
            )
        )

    storage._db.write("record a task descriptor", body)


def load_descriptors(storage: Storage) -> list[TaskDescriptor]:
    """Every study's descriptor, by study id (a study without one gets a bare descriptor).

    Raises:
        ConfigError: A stored descriptor is malformed or of a newer layout.
    """
    infos = storage.list_studies()
    if isinstance(storage, SQLStorage):
        query = select(task_descriptors.c.study_id, task_descriptors.c.descriptor)
        texts = dict(storage._db.read("read task descriptors", lambda c: c.execute(query).all()))
    else:
        texts = {i.study_id: i.user_attrs.get(TASK_ATTR) for i in infos}
    return [
        TaskDescriptor.from_stored(
            i.name, i.space, tuple(d.value for d in i.directions), texts.get(i.study_id)
        )
        for i in infos
    ]
