"""Upgrades of stores written with an older schema version, applied in place when they are opened.

Each step is one function from version N to N + 1, run inside the transaction (and, on
PostgreSQL, the advisory lock) that opens the store, so a store is upgraded exactly once even
when several processes open it at the same moment, and a failed upgrade leaves it as it was.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import Connection, select, text, update

from lightning_autotune.storage._schema import (
    SCHEMA_VERSION,
    schema_version,
    task_descriptors,
    trials,
)
from lightning_autotune.trial import FailureKind

__all__ = ["OLDEST_UPGRADABLE", "upgrade_schema"]

log = logging.getLogger("lightning_autotune")

OLDEST_UPGRADABLE = 1
"""The oldest schema version `upgrade_schema` can bring up to `SCHEMA_VERSION`."""

_CHUNK = 500  # ids per UPDATE ... WHERE id IN (...), well under every driver's parameter limit


def _v1_to_v2(conn: Connection) -> None:
    """Add `trials.kind` and fill it from the reasons that version 1 wrote."""
    conn.execute(text("ALTER TABLE trials ADD COLUMN kind VARCHAR(32)"))
    finished = conn.execute(
        select(trials.c.id, trials.c.state, trials.c.reason).where(
            trials.c.state.in_(["FAILED", "PRUNED"])
        )
    ).all()
    by_kind: dict[FailureKind, list[int]] = defaultdict(list)
    for trial_id, state, reason in finished:
        kind = FailureKind.from_reason(state, reason)
        if kind is not None:
            by_kind[kind].append(trial_id)
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            conn.execute(update(trials).where(trials.c.id.in_(chunk)).values(kind=kind.value))


def _v2_to_v3(conn: Connection) -> None:
    """Add the `task_descriptors` table (empty: older studies have no descriptor)."""
    task_descriptors.create(conn, checkfirst=True)


def _v3_to_v4(conn: Connection) -> None:
    """Add the index `ix_trials_study_id` (the incremental reads' lookup of new trials)."""
    next(i for i in trials.indexes if i.name == "ix_trials_study_id").create(conn, checkfirst=True)


_STEPS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def upgrade_schema(conn: Connection, found: int, where: str) -> None:
    """Upgrade a store of schema version `found` to `SCHEMA_VERSION`, step by step.

    Args:
        conn: A connection inside the write transaction that opens the store.
        found: The store's schema version, from OLDEST_UPGRADABLE to SCHEMA_VERSION - 1.
        where: The store's URL, password hidden, for the log line.
    """
    for version in range(found, SCHEMA_VERSION):
        _STEPS[version](conn)
    conn.execute(update(schema_version).values(version=SCHEMA_VERSION))
    log.info("upgraded the store %s from schema version %d to %d", where, found, SCHEMA_VERSION)
