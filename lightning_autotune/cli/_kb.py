"""`lightning-autotune kb list|show|similar|suggest --storage URL`: the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from lightning_autotune._validation import check_int
from lightning_autotune.cli._studies import _num, _open, _safe, _table

__all__ = ["add_kb_parser", "run_kb"]


def add_kb_parser(sub: Any) -> None:
    """Register the `kb` command and its actions on an argparse sub-parser collection.

    Args:
        sub: What `ArgumentParser.add_subparsers()` returned.
    """
    kb = sub.add_parser("kb", help="the knowledge base: what earlier studies tuned and learned")
    kb.set_defaults(run=run_kb)
    actions = kb.add_subparsers(dest="action", required=True)

    def action(name: str, text: str, *, needs_task: bool = True) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument("--storage", required=True, help="store URL, e.g. sqlite:///autotune.db")
        if needs_task:
            p.add_argument("task", help="a study's name (see `kb list`)")
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="on an error, print the full traceback as well as the message",
        )
        return p

    action(
        "list", "list the tasks: data, model, objective and tags of each study", needs_task=False
    )
    action("show", "show a task's descriptor")
    similar = action("similar", "the earlier tasks most like this one, closest first")
    similar.add_argument("-k", type=int, default=5, help="how many (default 5)")
    suggest = action("suggest", "a zero-shot portfolio of configurations for this task")
    suggest.add_argument("-n", type=int, default=5, help="configurations (default 5)")
    suggest.add_argument("-k", type=int, default=5, help="similar tasks to cover (default 5)")
    suggest.add_argument("--json", action="store_true", help="one JSON object per line")


def run_kb(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run a parsed `kb` command; returns the exit code (0).

    Raises:
        ConfigError: Bad input (e.g. `-k 0`).
        StorageError: The store or the study cannot be opened.
    """
    from lightning_autotune.knowledge import KnowledgeBase

    out = out or sys.stdout
    kb = KnowledgeBase(_open(args.storage))
    if args.action == "list":
        _list(kb, out)
    elif args.action == "show":
        task = kb.task(args.task)
        for key, value in task.stored().items():
            if key != "version":
                out.write(f"{_safe(key)}: {_safe(json.dumps(value, sort_keys=True))}\n")
        out.write(f"directions: {_safe(', '.join(task.directions))}\n")
        out.write(f"space: {_safe(', '.join(task.space))}\n")
    elif args.action == "similar":
        k = check_int(args.k, "-k", low=1, hint="give the number of tasks")
        rows = [["study", "distance", "similarity", "complete"]]
        for s in kb.similar(args.task, k):
            rows.append([s.study, f"{s.distance:.3f}", f"{s.similarity:.3f}", str(s.n_complete)])
        if len(rows) == 1:
            out.write(f"no earlier task shares parameters with {_safe(args.task)!r}\n")
            return 0
        _table(rows, out)
    elif args.action == "suggest":
        n = check_int(args.n, "-n", low=1, hint="give the number of configurations")
        k = check_int(args.k, "-k", low=1, hint="give the number of tasks")
        for config in kb.suggest(args.task, n, k):
            if args.json:
                out.write(json.dumps(config) + "\n")
            else:
                out.write(_safe(", ".join(f"{p}={_num(v)}" for p, v in config.items())) + "\n")
    return 0


def _list(kb: Any, out: IO[str]) -> None:
    tasks = kb.tasks()
    if not tasks:
        out.write("no studies in this store\n")
        return
    rows = [["study", "directions", "objective", "model", "params", "samples", "classes", "tags"]]
    for t in tasks:
        rows.append(
            [
                t.study,
                ",".join(t.directions),
                t.objective or "",
                "" if t.model is None else t.model.model_class.rsplit(".", 1)[-1],
                "" if t.model is None else str(t.model.n_params),
                "" if t.data is None or t.data.n_samples is None else str(t.data.n_samples),
                "" if t.data is None or t.data.n_classes is None else str(t.data.n_classes),
                json.dumps(dict(t.tags), sort_keys=True) if t.tags else "",
            ]
        )
    _table(rows, out)
