"""`write_report`: one self-contained HTML file with every plot (inline PNG) and the trial table."""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune.analysis._data import StudyData, as_data
from lightning_autotune.analysis._gp import MIN_TRIALS
from lightning_autotune.analysis._plots import plot_intermediate_values, plot_optimization_history
from lightning_autotune.analysis._plots_params import (
    plot_local_sensitivity,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)
from lightning_autotune.analysis._report_plotly import interactive_body, plotly_bundle
from lightning_autotune.analysis._schedules import (
    plot_population_schedules,
    population_schedules,
)
from lightning_autotune.analysis._sensitivity import SensitivityResult, sensitivity_analysis
from lightning_autotune.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lightning_autotune.study import Study

__all__ = ["write_report"]

log = logging.getLogger("lightning_autotune")

_NO_PLOTLY = (
    "plotly is not installed, so the charts are images; pip install plotly (or "
    "'lightning-autotune[dashboard]') for interactive charts."
)

_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
tr.PRUNED td { color: #b22; } tr.FAILED td { color: #777; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.chart { border: 1px solid #eee; min-height: 360px; margin: 0.5em 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1em; }
.note { color: #666; font-size: 0.9em; }
"""


def write_report(
    study: Study,
    path: str | Path,
    *,
    sensitivity: bool = True,
    n_samples: int = 512,
    objective: int = 0,
    dpi: int = 90,
    interactive: bool = True,
) -> Path:
    """Write a one-file HTML report: summary, every chart, and the trial table.

    With plotly installed the charts are the dashboard's interactive Plotly charts (zoom, hover,
    toggle traces), with plotly.js inlined from the installed package: the file opens offline and
    loads nothing from elsewhere. Without plotly, or with `interactive=False`, every chart is a
    PNG image drawn by matplotlib instead (the page then has no scripts at all). Every text that
    comes from the study (names, parameter values, failure reasons) is escaped.

    Args:
        study: The study to report on.
        path: Destination `.html` file (parent folders are created).
        sensitivity: Include GP sensitivity and importance (needs 3 COMPLETE trials; skipped
            with a note otherwise).
        n_samples: Saltelli sample size for the importance ranking.
        objective: Which objective the plots and the sensitivity analysis use.
        dpi: Resolution of the embedded images (PNG charts only).
        interactive: Plotly charts (falls back to PNG images, with a note, when plotly is not
            installed); False: PNG images.

    Returns:
        The path written.

    Raises:
        ImportError: The PNG charts are drawn and matplotlib is not installed.

    Example:
        >>> write_report(study, "report.html")  # doctest: +SKIP
    """
    data = as_data(study)
    data.check_objective(objective)
    sections: list[str] = [_summary(data)]
    scripts = ""
    bundle = plotly_bundle() if interactive else None
    if interactive and bundle is None:
        log.warning("plotly is not installed: the report embeds PNG images instead of charts")
        sections.append(_p(_NO_PLOTLY))
    n_complete = len(data.complete(objective))
    result = None
    if sensitivity and n_complete >= MIN_TRIALS:
        result = sensitivity_analysis(study, objective=objective, n_samples=n_samples)
    if bundle is not None:
        charts, scripts = interactive_body(data, objective, result, bundle)
        sections += charts
    else:
        sections += _png_sections(study, objective, result, dpi)
    if result is not None:
        sections.append(
            _p(
                f"Local sensitivity around trial {result.base_number}'s configuration; the GP "
                f"was fitted on {result.n_trials} COMPLETE trials. Bands are two posterior "
                "standard deviations."
            )
        )
    elif sensitivity:
        sections.append(
            "<h2>Sensitivity</h2>"
            + _p(f"Needs {MIN_TRIALS} COMPLETE trials; the study has {n_complete}.")
        )
    sections += _population_section(study, data, dpi)
    sections.append(_trial_table(data))
    title = f"lightning-autotune report: {data.name}"
    body = "\n".join(sections)
    text = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n{scripts}</body></html>\n"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    log.info("wrote report of study %r to %s", data.name, out)
    return out


def _png_sections(
    study: Study, objective: int, result: SensitivityResult | None, dpi: int
) -> list[str]:
    plots: list[tuple[str, Callable[[], Figure]]] = [
        ("Optimization history", lambda: plot_optimization_history(study, objective=objective)),
        ("Intermediate values", lambda: plot_intermediate_values(study)),
        ("Parallel coordinates", lambda: plot_parallel_coordinate(study, objective=objective)),
        ("Slice plot", lambda: plot_slice(study, objective=objective)),
    ]
    if result is not None:
        plots.append(("Parameter importance", lambda: plot_param_importances(result.importances)))
        plots.append(("Local sensitivity", lambda: plot_local_sensitivity(result)))
    return [_figure_section(title, make(), dpi) for title, make in plots]


def _population_section(study: Study, data: StudyData, dpi: int) -> list[str]:
    """The members' schedules (PNG), for a population study; nothing for any other."""
    if not population_schedules(data.trials, interval=1):  # members exist at any interval
        return []
    try:
        fig = plot_population_schedules(study)
    except ImportError:
        return ["<h2>Population schedules</h2>" + _p("Needs matplotlib: pip install matplotlib.")]
    return [_figure_section("Population schedules", fig, dpi)]


def _p(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _figure_section(title: str, fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(title, quote=True)
    return f"<h2>{html.escape(title)}</h2>\n<img alt='{alt}' src='data:image/png;base64,{encoded}'>"


def _summary(data: StudyData) -> str:
    counts = {s: sum(t.state is s for t in data.trials) for s in TrialState}
    items = [
        ("directions", ", ".join(d.value for d in data.directions)),
        ("trials", ", ".join(f"{s.value.lower()} {n}" for s, n in counts.items() if n)),
        ("written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    done = data.complete(0)
    if len(data.directions) == 1 and done:
        sign = data.directions[0].sign
        best = min(done, key=lambda t: (sign * t.values[0], t.number))  # type: ignore[index]
        items.append(("best value", f"{best.values[0]:.6g} (trial {best.number})"))  # type: ignore[index]
        items.append(("best params", ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())))
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in items
    )
    return f"<h2>Summary</h2>\n<table class='summary'>{rows}</table>"


def _trial_table(data: StudyData) -> str:
    names = list(data.space.names)
    n_obj = len(data.directions)
    value_heads = ["value"] if n_obj == 1 else [f"value {i}" for i in range(n_obj)]
    heads = ["number", "state", *value_heads, *names, "last step", "duration (s)", "reason"]
    lines = ["<h2>Trials</h2>", "<table class='trials'>"]
    lines.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in heads) + "</tr>")
    for t in data.trials:
        values = [None] * len(data.directions) if t.values is None else list(t.values)
        cells = [
            t.number,
            t.state.value,
            *values,
            *(t.params.get(n) for n in names),
            t.last_step,
            None if t.duration is None else round(t.duration, 2),
            t.reason,
        ]
        row = "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in cells)
        lines.append(f"<tr class='{html.escape(t.state.value)}'>{row}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)
