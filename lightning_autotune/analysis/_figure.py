"""Figures without pyplot: no global state, no GUI backend, safe in threads and in tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune.analysis._data import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["finish", "new_figure", "save_png"]


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """A matplotlib `Figure` not registered with pyplot (so it is freed when dropped).

    Raises:
        ImportError: matplotlib is missing; the message says `pip install lightning-autotune[plot]`.
    """
    figure_module: Any = require("matplotlib.figure")
    return figure_module.Figure(figsize=(width, height), layout="constrained")


def save_png(fig: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Write `fig` to a PNG file (parent folders are created) and return the path.

    Args:
        fig: A figure returned by one of the `plot_*` functions.
        path: Destination file; '.png' is expected.
        dpi: Resolution; the image is `width * dpi x height * dpi` pixels.

    Example:
        >>> save_png(plot_optimization_history(study), "history.png")  # doctest: +SKIP
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=dpi)
    return out


def finish(fig: Figure, path: str | Path | None) -> Figure:
    """Save `fig` to `path` when one is given, and return the figure."""
    if path is not None:
        save_png(fig, path)
    return fig
