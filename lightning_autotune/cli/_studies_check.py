"""`lightning-autotune studies check [STUDY] --storage URL`: what needs an operator's attention.

Lists, one line each, the rows that do not decode (quarantined: every read skips them), the
RUNNING trials whose heartbeat stopped, and the retries left WAITING. The exit status is 1 when
anything is listed, so a script or a CI job can act on it.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime, timezone
from typing import Protocol

from lightning_autotune.storage import Storage, StudyInfo
from lightning_autotune.trial import TrialState

__all__ = ["Writer", "check_store"]


class Writer(Protocol):
    """Anything with `write(str)`: a text stream, or an escaping wrapper around one."""

    def write(self, text: str, /) -> int: ...


def check_store(store: Storage, name: str | None, stale_after: float, out: Writer) -> int:
    """Write the problems of one study (every study when `name` is None) to `out`.

    Args:
        store: The store.
        name: The study to check, or None for all.
        stale_after: Seconds without a heartbeat after which a RUNNING trial counts as stale,
            for studies that set no `stale_after` of their own.
        out: Where the lines go (already escaped by the caller's writer).

    Returns:
        0 when nothing was found, else 1.

    Raises:
        StudyNotFoundError: No study is named `name`.
    """
    with warnings.catch_warnings():
        # the check lists every malformed row itself: the reads' warnings would repeat them
        warnings.simplefilter("ignore", UserWarning)
        malformed = store.find_malformed(name)
        broken = {m.study for m in malformed if m.trial_id is None}
        infos = [i for i in store.list_studies() if name is None or i.name == name]
        problems = [m.describe() for m in malformed]
        for info in infos:
            problems += _live_problems(store, info, stale_after)
    checked = len(infos) + len(broken)
    for line in problems:
        out.write(line + "\n")
    if problems:
        out.write(f"{len(problems)} problem(s) in {checked} stud{'y' if checked == 1 else 'ies'}\n")
        return 1
    out.write(f"no problems in {checked} stud{'y' if checked == 1 else 'ies'}\n")
    return 0


def _live_problems(store: Storage, info: StudyInfo, stale_after: float) -> list[str]:
    grace = info.user_attrs.get("stale_after") or stale_after
    now = datetime.now(timezone.utc)
    lines = []
    for t in store.get_stale_trials(info.study_id, float(grace)):
        last = t.heartbeat_at or t.started_at
        silent = "" if last is None else f" for {math.floor((now - last).total_seconds())} s"
        lines.append(
            f"study {info.name!r} trial {t.number}: RUNNING with no heartbeat{silent} (worker "
            f"{t.worker}); its process is probably gone: resuming the study fails and retries "
            "it (with stale_after set, any `ask` does)"
        )
    for t in store.get_trials(info.study_id, [TrialState.WAITING]):
        if t.retry_of is not None:
            lines.append(
                f"study {info.name!r} trial {t.number}: a retry of trial {t.retry_of} is still "
                "WAITING; run the study again to run it"
            )
    return lines
