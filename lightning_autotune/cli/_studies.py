"""`lightning-autotune studies list|show|best|export|report|check|delete --storage URL`."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.exceptions import StorageError
from lightning_autotune.storage import SQLStorage, Storage
from lightning_autotune.trial import TrialRecord, TrialState

__all__ = ["add_studies_parser", "run_studies"]

_STATES = [s.value for s in TrialState]


def add_studies_parser(sub: Any) -> None:
    """Register the `studies` command and its actions on an argparse sub-parser collection.

    Args:
        sub: What `ArgumentParser.add_subparsers()` returned.
    """
    studies = sub.add_parser("studies", help="inspect the studies in a store")
    actions = studies.add_subparsers(dest="action", required=True)

    def action(
        name: str, text: str, *, needs_name: bool = True, optional_name: bool = False
    ) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument(
            "--storage",
            required=True,
            help="store URL, e.g. sqlite:///autotune.db or postgresql://user@host/db",
        )
        if optional_name:
            p.add_argument("name", nargs="?", default=None, help="only this study (default: all)")
        elif needs_name:
            p.add_argument("name", help="the study's name (see `studies list`)")
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="on an error, print the full traceback as well as the message",
        )
        return p

    action("list", "list the studies with their trial counts and best values", needs_name=False)
    show = action("show", "show a study's trial table")
    show.add_argument("--state", choices=_STATES, action="append", help="only trials in STATE")
    show.add_argument("--limit", type=int, default=None, help="only the last N trials")
    best = action("best", "print the best trial (value and parameters)")
    best.add_argument("--json", action="store_true", help="print the parameters as JSON")
    export = action("export", "write the trial table to a .csv or .json file")
    export.add_argument("--out", required=True, help="destination file (.csv or .json)")
    report = action("report", "write a one-file HTML report with plots (needs matplotlib)")
    report.add_argument("--out", required=True, help="destination .html file")
    report.add_argument("--no-sensitivity", action="store_true", help="skip the GP analysis")
    check = action(
        "check",
        "list problems: rows that do not decode, RUNNING trials with stale heartbeats, retries "
        "left WAITING; exit status 1 when there are any",
        optional_name=True,
    )
    check.add_argument(
        "--stale-after",
        type=float,
        default=60.0,
        help="seconds without a heartbeat after which a RUNNING trial is stale, for studies "
        "that set no stale_after (default 60)",
    )
    delete = action("delete", "delete a study and all its trials")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run_studies(
    args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Run a parsed `studies` command.

    Args:
        args: Parsed arguments from the parser built by `add_studies_parser`.
        out: Where results go (default stdout).
        err: Where errors go (default stderr).

    Returns:
        The exit code: 0 on success, 1 when a deletion was not confirmed or `check` found
        problems.

    Raises:
        ConfigError: Bad input (e.g. `--limit 0`).
        StorageError: The store or the study cannot be opened.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    store = _open(args.storage)
    if args.action == "list":
        _list(store, out)
        return 0
    if args.action == "check":
        from lightning_autotune.cli._studies_check import check_store

        check_number(args.stale_after, "--stale-after", low=0.0, hint="seconds, e.g. 60")
        return check_store(store, args.name, args.stale_after, _SafeOut(out))
    from lightning_autotune.study import load_study

    study = load_study(args.name, store)
    if args.action == "show":
        # the table shows each trial's last step, not its curve: no need to read every report
        _show(store.get_trial_summaries(study.study_id), study, args.state, args.limit, out)
    elif args.action == "best":
        _best(study, args.json, out)
    elif args.action == "export":
        out.write(f"wrote {_safe(str(study.export(args.out)))}\n")
    elif args.action == "report":
        from lightning_autotune.analysis import write_report

        path = write_report(study, args.out, sensitivity=not args.no_sensitivity)
        out.write(f"wrote {_safe(str(path))}\n")
    elif args.action == "delete":
        if not args.yes and not _confirm(f"delete study {study.name!r} and its trials?"):
            err.write("not deleted (pass --yes to delete without asking)\n")
            return 1
        store.delete_study(study.name)
        out.write(f"deleted study {study.name!r}\n")
    return 0


def _open(url: str) -> Storage:
    if url.startswith("sqlite:///") and url not in ("sqlite:///:memory:",):
        path = Path(url[len("sqlite:///") :].split("?", 1)[0])
        if not path.exists():
            raise StorageError(
                f"no store file at {str(path)!r} (from --storage {url}); check the path, e.g. "
                "--storage sqlite:///autotune.db for ./autotune.db"
            )
    return SQLStorage(url)


def _list(store: Storage, out: IO[str]) -> None:
    infos = store.list_studies()
    if not infos:
        out.write("no studies in this store\n")
        return
    rows = [["name", "directions", "trials", "complete", "pruned", "failed", "running", "best"]]
    for info in infos:
        trials = store.get_trial_summaries(info.study_id)
        count = {s: sum(t.state is s for t in trials) for s in TrialState}
        best = ""
        done = [t for t in trials if t.state is TrialState.COMPLETE and t.values]
        if len(info.directions) == 1 and done:
            sign = info.directions[0].sign
            top = min(done, key=lambda t: (sign * t.values[0], t.number))  # type: ignore[index]
            best = f"{_num(top.values[0])} (#{top.number})"  # type: ignore[index]
        rows.append(
            [
                info.name,
                ",".join(d.value for d in info.directions),
                str(len(trials)),
                str(count[TrialState.COMPLETE]),
                str(count[TrialState.PRUNED]),
                str(count[TrialState.FAILED]),
                str(count[TrialState.RUNNING]),
                best,
            ]
        )
    _table(rows, out)


def _show(
    trials: Sequence[TrialRecord],
    study: Any,
    states: list[str] | None,
    limit: int | None,
    out: IO[str],
) -> None:
    if limit is not None:
        check_int(limit, "--limit", low=1, hint="give the number of trials to show")
    chosen = [t for t in trials if states is None or t.state.value in states]
    if limit is not None:
        chosen = chosen[-limit:]
    names = list(study.space.names)
    n_obj = len(study.directions)
    value_heads = ["value"] if n_obj == 1 else [f"value_{i}" for i in range(n_obj)]
    rows = [["number", "state", *value_heads, *names, "steps", "duration_s", "reason"]]
    for t in chosen:
        values = [""] * n_obj if t.values is None else [_num(v) for v in t.values]
        params = ["" if n not in t.params else _num(t.params[n]) for n in names]
        duration = "" if t.duration is None else f"{t.duration:.1f}"
        steps = "" if t.last_step is None else str(t.last_step)
        reason = t.reason or ""
        rows.append([str(t.number), t.state.value, *values, *params, steps, duration, reason])
    out.write(f"study {study.name!r}: {len(chosen)} of {len(trials)} trial(s)\n")
    _table(rows, out)


def _best(study: Any, as_json: bool, out: IO[str]) -> None:
    best = study.best_trial
    if as_json:
        out.write(json.dumps(dict(best.params), sort_keys=False) + "\n")
        return
    out.write(f"best trial {best.number}: value {_num(best.values[0])}\n")
    for k, v in best.params.items():
        out.write(f"  {_safe(k)}: {_safe(_num(v))}\n")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def _table(rows: list[list[str]], out: IO[str]) -> None:
    cells = [[_safe(c.replace("\n", " ")) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


class _SafeOut:
    """A writer that escapes control characters (see `_safe`) in everything written to it."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write("\n".join(_safe(line) for line in text.split("\n")))


# Bidirectional overrides and isolates can make a name read as another one.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _safe(text: str) -> str:
    """`text` with control characters written as escapes ('\\x1b'), so that what anyone
    wrote into the store (a study name, a parameter, a reason) cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) == "Cc" or ch in _BIDI
        else ch
        for ch in text
    )
