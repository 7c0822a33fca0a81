"""The SQL schema of a trial store, and how a storage URL becomes a configured SQLAlchemy engine.

Tables (every JSON column is plain text written by `json.dumps`; no pickles anywhere):

- `schema_version`: one row, the layout version of this file; checked when a store is opened.
- `studies`: name (unique), search space, directions, user attributes, creation time.
- `trials`: one row per trial; `(study_id, number)` is unique; indexed by `(study_id, state)`
  and `(study_id, id)`. `kind` is the `FailureKind` value
  of a FAILED or PRUNED trial (NULL otherwise), beside its free-text `reason`. Final values are
  a JSON list in which NaN and infinities are spelled as the strings 'NaN', 'Infinity' and
  '-Infinity'.
- `task_descriptors`: at most one row per study, what it tuned (`knowledge.TaskDescriptor`):
  the meta-features of its data and model, hardware, versions and tags as JSON text.
- `trial_intermediate`: the objective reported at each step; `trial_metrics`: every other metric
  reported at each step. Both hold floats in REAL columns; NULL stands for NaN, which SQLite
  cannot store in a REAL column.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.storage._netfs import refuse_network_sqlite, sqlite_file

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_URLS",
    "decode_float",
    "decode_values",
    "dump_json",
    "encode_float",
    "encode_values",
    "mask_url",
    "metadata",
    "parse_url",
    "schema_version",
    "studies",
    "task_descriptors",
    "trial_intermediate",
    "trial_metrics",
    "trials",
]

SCHEMA_VERSION = 4
"""Bump whenever a table, column or index changes, and teach `upgrade_schema` to bring older
stores up.

Version 2 added `trials.kind` (a `FailureKind` value beside the reason); version 3 the
`task_descriptors` table; version 4 the index `ix_trials_study_id`.
"""

SUPPORTED_URLS = (
    "'sqlite:///path/to/file.db' (a file)",
    "'sqlite://' (in memory)",
    "'postgresql://user:password@host:5432/dbname'",
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
)

studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(512), nullable=False, unique=True),
    Column("space", Text, nullable=False),
    Column("directions", Text, nullable=False),
    Column("user_attrs", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

trials = Table(
    "trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "study_id",
        Integer,
        ForeignKey("studies.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("params", Text, nullable=False),
    Column("values", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("kind", String(32), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("worker", String(256), nullable=True),
    Column("retry_of", Integer, nullable=True),
    Column("user_attrs", Text, nullable=False),
    UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    Index("ix_trials_study_state", "study_id", "state"),
    # The trials of one study created after a given id: what each incremental read fetches
    # (`TrialCache`). Without it SQLite walks every trial of the study to find the new ones.
    Index("ix_trials_study_id", "study_id", "id"),
    sqlite_autoincrement=True,
)

task_descriptors = Table(
    "task_descriptors",
    metadata,
    Column(
        "study_id",
        Integer,
        ForeignKey("studies.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("descriptor", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

trial_intermediate = Table(
    "trial_intermediate",
    metadata,
    Column(
        "trial_id",
        Integer,
        ForeignKey("trials.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("value", Float, nullable=True),
)

trial_metrics = Table(
    "trial_metrics",
    metadata,
    Column(
        "trial_id",
        Integer,
        ForeignKey("trials.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("name", String(256), primary_key=True),
    Column("value", Float, nullable=True),
)


# Values -----------------------------------------------------------------------------------------
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _jsonable(obj: Any) -> Any:
    """`json.dumps` fallback: numpy scalars become Python numbers; anything else is refused."""
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(obj).__name__} {obj!r} is not JSON-serializable")


def dump_json(value: Any, field: str) -> str:
    """Strict JSON text for a column (NaN refused: standard JSON has no NaN).

    Raises:
        ConfigError: `value` is not JSON-serializable; names the field and the value.
    """
    try:
        return json.dumps(value, allow_nan=False, default=_jsonable)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"{field} must be JSON-serializable (str, int, float, bool, None, list, dict; no "
            f"NaN), got {value!r}: {err}. Convert it to one of those types first."
        ) from None


def encode_values(values: tuple[float, ...] | None) -> str | None:
    """Final values as JSON text, non-finite floats spelled as strings."""
    if values is None:
        return None
    return json.dumps([v if math.isfinite(v) else repr_special(v) for v in values])


def repr_special(value: float) -> str:
    """'NaN', 'Infinity' or '-Infinity' for a non-finite float."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_values(text: str | None) -> tuple[float, ...] | None:
    """Inverse of `encode_values`."""
    if text is None:
        return None
    return tuple(_SPECIAL[v] if isinstance(v, str) else float(v) for v in json.loads(text))


def encode_float(value: float) -> float | None:
    """A float for a REAL column: NaN becomes NULL (SQLite would do so silently anyway)."""
    return None if math.isnan(value) else value


def decode_float(value: float | None) -> float:
    """Inverse of `encode_float`."""
    return math.nan if value is None else float(value)


# URLs -------------------------------------------------------------------------------------------
def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by '***', safe for messages and logs."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return "<unparsable storage URL>"
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str) -> URL:
    """Check a storage URL and pick the driver: bare `postgresql://` uses psycopg 3.

    Raises:
        ConfigError: Not a URL, or a database this package does not support.
        StorageError: A SQLite file whose folder does not exist.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"storage must be a database URL, got {url!r}; supported: "
            f"{', '.join(SUPPORTED_URLS)}. For a file next to your script use "
            "'sqlite:///autotune.db'."
        )
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ConfigError(f"storage URL {mask_url(url)!r} cannot be parsed: {err}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql":
        return parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    if backend != "sqlite":
        raise ConfigError(
            f"storage URL scheme {parsed.drivername!r} is not supported (in "
            f"{mask_url(parsed)!r}); supported: {', '.join(SUPPORTED_URLS)}"
        )
    database = parsed.database
    path = sqlite_file(parsed)
    if path is not None and database and not database.startswith("file:"):
        folder = path.parent
        if not folder.is_dir():
            raise StorageError(
                f"cannot create the SQLite store {database!r}: its folder {str(folder)!r} does "
                f"not exist. Create it first (mkdir -p {folder}) or choose another path."
            )
        _check_sqlite_file(path)
    if path is not None:
        refuse_network_sqlite(path)
    return parsed


def _check_sqlite_file(path: Path) -> None:
    """Say what SQLite would otherwise hide: an empty store file, or a folder it cannot write.

    Raises:
        StorageError: The file exists but its folder is not writable (SQLite writes its journal
            beside the file, and reports that only as 'readonly database').
    """
    if not path.is_file():
        return
    if path.stat().st_size == 0:
        warnings.warn(
            f"the SQLite store {str(path)!r} is an empty file (0 bytes): it is started afresh "
            "as a new store. If it held studies, it lost its data; restore it from a backup "
            "before running anything on it.",
            UserWarning,
            stacklevel=4,
        )
    folder = path.parent
    if os.access(path, os.W_OK) and not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"cannot open the SQLite store {str(path)!r}: its folder {str(folder)!r} is not "
            "writable, and SQLite writes its journal files beside the store (it would report "
            "'readonly database'). Make the folder writable (chmod u+w), or move the store."
        )
