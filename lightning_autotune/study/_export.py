"""Export of a study's trial table to CSV or JSON."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune.exceptions import ConfigError

if TYPE_CHECKING:
    from lightning_autotune.study._study import Study

__all__ = ["export_trials", "trial_rows"]


def trial_rows(study: Study) -> list[dict[str, Any]]:
    """One flat dict per trial: number, state, value(s), params, duration, reason."""
    rows = []
    names = list(study.space.names)
    for t in study.trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.value}
        for i in range(len(study.directions)):
            key = "value" if len(study.directions) == 1 else f"value_{i}"
            row[key] = None if t.values is None else t.values[i]
        row.update({f"params_{n}": t.params.get(n) for n in names})
        row["last_step"] = t.last_step
        row["duration_s"] = t.duration
        row["started_at"] = t.started_at.isoformat() if t.started_at else None
        row["reason"] = t.reason
        rows.append(row)
    return rows


def export_trials(study: Study, path: Path) -> Path:
    """Write `trial_rows(study)` to `path` (.csv or .json).

    Raises:
        ConfigError: The suffix is neither .csv nor .json.
    """
    rows = trial_rows(study)
    suffix = path.suffix.lower()
    if suffix == ".json":
        # NaN/inf (e.g. the last value of a trial pruned for diverging) are not JSON: write null.
        clean = [{k: _finite_or_none(v) for k, v in row.items()} for row in rows]
        path.write_text(json.dumps(clean, indent=2, allow_nan=False))
    elif suffix == ".csv":
        with path.open("w", newline="") as f:
            fields = list(rows[0]) if rows else ["number", "state"]
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ConfigError(
            f"export path must end in .csv or .json, got {str(path)!r}; pick one of the two"
        )
    return path


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
