"""What each dashboard URL answers: the JSON endpoints under `/api/` and the three HTML pages.

Routes (every name is one URL-encoded path segment, so a study called 'a/b' is 'a%2Fb'):

- `/api/studies`: every study with its directions, state counts, best trial, last activity.
- `/api/studies/{name}?since=CURSOR&intermediate=1`: the study and its trials changed since the
  cursor (all of them without one), with a new cursor to send next time.
- `/api/studies/{name}/summary`: the first paint: counts, the decimated history, the curves and
  the table's first page.
- `/api/studies/{name}/curves`: decimated intermediate curves and where pruned trials stopped.
- `/api/studies/{name}/importance`: parameter importances (on the latest COMPLETE trials).
- `/api/studies/{name}/trials/{number}`: one trial in full.
- `/`, `/study/{name}`, `/study/{name}/trial/{number}`: the pages (static HTML; their scripts
  read the API).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from lightning_autotune.analysis._payload import (
    curves_payload,
    space_view,
    study_summary,
    trial_detail,
    trial_summary,
)
from lightning_autotune.dashboard._cache import Cursor, StoreReader
from lightning_autotune.dashboard._summary import first_paint
from lightning_autotune.exceptions import ConfigError, StudyNotFoundError
from lightning_autotune.storage import StudyInfo
from lightning_autotune.trial import TrialState

__all__ = ["PAGES", "ApiError", "api_response"]

PAGES = {1: "studies.html", 2: "study.html", 4: "trial.html"}
"""Page file by the number of path segments: '/', '/study/{name}', '/study/{name}/trial/{n}'."""

IMPORTANCE_TRIALS = 200
"""The latest COMPLETE trials a parameter-importance estimate is fitted to (it stays cheap)."""


@dataclass(frozen=True)
class ApiError(Exception):
    """A request the API answers with an error status and a message."""

    status: HTTPStatus
    message: str


class _ImportanceCache:
    """Importances per study, recomputed only when the number of COMPLETE trials changed."""

    def __init__(self) -> None:
        self._by_study: dict[tuple[int, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, reader: StoreReader, name: str) -> dict[str, Any]:
        from lightning_autotune.analysis import param_importances

        cache = reader.study(name)
        done = [r for r in cache.records() if r.state is TrialState.COMPLETE]
        key = (cache.info.study_id, len(done))
        with self._lock:
            if key not in self._by_study:
                try:
                    found = param_importances(
                        done[-IMPORTANCE_TRIALS:],
                        directions=cache.info.directions,
                        n_samples=256,
                    )
                    payload: dict[str, Any] = {
                        "importances": [
                            {"name": p.name, "importance": p.importance} for p in found
                        ],
                        "n_trials": min(len(done), IMPORTANCE_TRIALS),
                    }
                except (ConfigError, ValueError, RuntimeError) as err:
                    payload = {"importances": [], "error": str(err)}
                self._by_study = {key: payload}  # keep one: the study being looked at
            return self._by_study[key]


_importances = _ImportanceCache()


def _study_info(info: StudyInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "directions": [d.value for d in info.directions],
        "space": dict(info.space),
        "space_view": space_view(info.space),
        "user_attrs": dict(info.user_attrs),
        "created_at": info.created_at.isoformat(),
    }


class _SummaryCache:
    """The first-paint payload per study, rebuilt only when the study's revision moved."""

    def __init__(self) -> None:
        self._by_study: dict[str, tuple[tuple[int, str, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, reader: StoreReader, name: str) -> dict[str, Any]:
        cache = reader.study(name)
        key = (cache.info.study_id, reader.epoch, cache.rev)
        with self._lock:
            kept = self._by_study.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        payload = {
            "study": _study_info(cache.info),
            "cursor": str(Cursor(reader.epoch, cache.rev)),
            **first_paint(cache.info, cache.records()),
        }
        with self._lock:
            self._by_study[name] = (key, payload)
        return payload


_summaries = _SummaryCache()


def _number(text: str) -> int:
    if not text.isdigit():
        raise ApiError(HTTPStatus.NOT_FOUND, f"trial number must be an integer >= 0, got {text!r}")
    return int(text)


def api_response(
    reader: StoreReader, parts: Sequence[str], query: dict[str, str]
) -> dict[str, Any] | list[Any]:
    """The JSON payload of `/api/` + `parts` (the path's decoded segments after 'api').

    Raises:
        ApiError: No such endpoint, study or trial.
    """
    try:
        return _dispatch(reader, parts, query)
    except StudyNotFoundError as err:
        raise ApiError(HTTPStatus.NOT_FOUND, str(err)) from None


def _dispatch(
    reader: StoreReader, parts: Sequence[str], query: dict[str, str]
) -> dict[str, Any] | list[Any]:
    if not parts or parts[0] != "studies":
        raise ApiError(HTTPStatus.NOT_FOUND, f"no endpoint /api/{'/'.join(parts)}")
    if len(parts) == 1:
        return [
            study_summary(info, reader.study(info.name, info).records())
            for info in reader.studies()
        ]
    name = parts[1]
    if len(parts) == 2:
        cache = reader.study(name)
        cursor = Cursor.parse(query.get("since"), reader.epoch)
        rev = cache.rev
        changed = cache.changed_since(cursor.rev) if cursor.rev <= rev else cache.records()
        with_curves = query.get("intermediate") == "1"
        return {
            "study": _study_info(cache.info),
            "cursor": str(Cursor(reader.epoch, rev)),
            "full": cursor.rev == 0 or cursor.rev > rev,
            "trials": [trial_summary(r, intermediate=with_curves) for r in changed],
        }
    if parts[2:] == ["summary"]:
        return _summaries.get(reader, name)
    if parts[2:] == ["curves"]:
        cache = reader.study(name)
        return curves_payload(cache.info, cache.records())
    if parts[2:] == ["importance"]:
        return _importances.get(reader, name)
    if len(parts) == 4 and parts[2] == "trials":
        number = _number(parts[3])
        record = reader.study(name).get(number)
        if record is None:
            raise ApiError(HTTPStatus.NOT_FOUND, f"study {name!r} has no trial {number}")
        return trial_detail(record)
    raise ApiError(HTTPStatus.NOT_FOUND, f"no endpoint /api/{'/'.join(parts)}")
