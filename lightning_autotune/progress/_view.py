"""The rich panel of a `ProgressSnapshot` (rich is imported only here)."""

from __future__ import annotations

from typing import Any

from lightning_autotune.progress._state import ProgressSnapshot, format_params, hms

__all__ = ["render"]


def render(s: ProgressSnapshot) -> Any:
    """A rich renderable: header line, running trials table, best trial."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    total = "?" if s.total is None else str(s.previous + s.total)
    counts = ", ".join(f"{state.value.lower()} {n}" for state, n in s.states.items() if n)
    header = Text.assemble(
        ("trials ", "bold"),
        f"{s.previous + s.done}/{total}",
        (f" (this run: {counts})" if s.previous else f" ({counts})") if counts else "",
        ("   elapsed ", "bold"),
        hms(s.elapsed),
        ("   left ", "bold"),
        f"~{hms(s.remaining)}",
    )
    if s.time_budget is not None:
        header.append(f" (budget {hms(s.time_budget)})")
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("running", justify="right", no_wrap=True)
    table.add_column("params", overflow="ellipsis")
    table.add_column("step", justify="right")
    table.add_column("last value", justify="right")
    for r in s.running:
        table.add_row(
            str(r.number),
            format_params(r.params, 80),
            "" if r.last_step is None else str(r.last_step),
            "" if r.last_value is None else f"{r.last_value:.6g}",
        )
    if s.best_value is None:
        best = Text("best: none yet", style="dim")
    else:
        best = Text.assemble(
            ("best ", "bold green"),
            f"{s.best_value:.6g} (trial {s.best_number}): ",
            format_params(s.best_params, 120),
        )
    parts: list[Any] = [header]
    if s.running:
        parts.append(table)
    parts.append(best)
    return Panel(Group(*parts), title=f"lightning-autotune: {s.study}", expand=True)
