"""The interactive charts of `write_report`: the dashboard's Plotly charts, in one file.

The page inlines `plotly.min.js` from the installed `plotly` package and the dashboard's own
chart code (`dashboard/static/charts.js`), so the report draws exactly the dashboard's charts
and opens offline. The data travels as one JSON block whose `<`, `>` and `&` are escaped, so no
name from the study can close the script; every label goes through the charts' own escaping.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_autotune.analysis._data import StudyData
from lightning_autotune.analysis._sensitivity import LocalSensitivity, SensitivityResult
from lightning_autotune.trial import TrialRecord

__all__ = ["interactive_body", "plotly_bundle"]

_STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
_MAX_SLICES = 12
"""Slice charts drawn (one per parameter, in the space's order)."""

_DRAW = """
(() => {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const C = { responsive: true, displaylogo: false };
  CHARTS.history("history", D.trials, D.directions);
  CHARTS.curves("curves", D.curves);
  CHARTS.parallel("parallel", D.trials, D.directions);
  D.slices.forEach((p, i) => CHARTS.slice("slice-" + i, D.trials, D.directions, p));
  if (D.directions.length > 1) CHARTS.pareto("pareto", D.trials, D.directions);
  if (D.importance) CHARTS.importance("importance", D.importance);
  D.local.forEach((f, i) => Plotly.newPlot("local-" + i, f.data, f.layout, C));
})();
"""


def plotly_bundle() -> str | None:
    """The text of the installed plotly's `plotly.min.js`, or None when plotly is missing."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _script_json(payload: Any) -> str:
    text = json.dumps(payload, default=str, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _inline_script(code: str) -> str:
    # plotly.min.js never contains '</script', but a bundle that did would end the element early.
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def _local_figure(curve: LocalSensitivity, label: str) -> dict[str, Any]:
    name = html.escape(curve.name)  # Plotly reads a few tags in labels: entities show the text
    xs = [str(v) for v in curve.values] if curve.categorical else list(curve.values)
    band = {
        "type": "scatter",
        "x": xs + xs[::-1],
        "y": list(curve.upper) + list(curve.lower)[::-1],
        "fill": "toself",
        "line": {"width": 0},
        "fillcolor": "rgba(37,99,235,0.2)",
        "name": "two standard deviations",
    }
    mean = {"type": "scatter", "mode": "lines+markers", "x": xs, "y": list(curve.change)}
    mean["name"] = "predicted change"
    axis: dict[str, Any] = {"title": {"text": name}}
    if curve.log:
        axis["type"] = "log"
    layout = {
        "title": {"text": f"{name} (base {html.escape(str(curve.base_value))})"},
        "xaxis": axis,
        "yaxis": {"title": {"text": html.escape(label)}},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
        "showlegend": False,
    }
    return {"data": [band, mean], "layout": layout}


def _rows(trials: Sequence[TrialRecord], objective: int) -> list[dict[str, Any]]:
    from lightning_autotune.analysis._payload import trial_summary

    rows = [trial_summary(t) for t in trials]
    if objective:  # the charts plot values[0]: put the chosen objective first
        for row in rows:
            if row["values"] is not None and len(row["values"]) > objective:
                values = row["values"]
                row["values"] = [values[objective], *values[:objective], *values[objective + 1 :]]
    return rows


def interactive_body(
    data: StudyData, objective: int, result: SensitivityResult | None, bundle: str
) -> tuple[list[str], str]:
    """The chart sections of the interactive report and the scripts that draw them.

    Args:
        data: The study.
        objective: The objective the charts show (moved first for the charts).
        result: The sensitivity analysis, or None when it was not run.
        bundle: The text of `plotly.min.js`.

    Returns:
        (HTML sections in page order, the scripts to put at the end of the body).
    """
    from lightning_autotune.analysis._payload import curves_for

    directions = list(data.directions)
    directions.insert(0, directions.pop(objective))
    names = list(data.space.names)[:_MAX_SLICES]
    payload: dict[str, Any] = {
        "directions": [d.value for d in directions],
        "trials": _rows(data.trials, objective),
        "curves": curves_for(data.directions[0], data.trials),
        "slices": names,
        "importance": None,
        "local": [],
    }

    def chart(div_id: str) -> str:
        return f"<div id='{div_id}' class='chart'></div>"

    sections = [
        "<h2>Optimization history</h2>" + chart("history"),
        "<h2>Intermediate values</h2>" + chart("curves"),
        "<h2>Parallel coordinates</h2>" + chart("parallel"),
        "<h2>Slice plots</h2><div class='grid'>"
        + "".join(chart(f"slice-{i}") for i in range(len(names)))
        + "</div>",
    ]
    if len(directions) > 1:
        sections.append("<h2>Pareto front</h2>" + chart("pareto"))
    if result is not None:
        payload["importance"] = {
            "importances": [
                {"name": p.name, "importance": p.importance} for p in result.importances
            ],
            "n_trials": result.n_trials,
        }
        label = "predicted change of " + data.objective_label(objective)
        payload["local"] = [_local_figure(c, label) for c in result.local]
        sections.append("<h2>Parameter importance</h2>" + chart("importance"))
        sections.append(
            "<h2>Local sensitivity</h2><div class='grid'>"
            + "".join(chart(f"local-{i}") for i in range(len(result.local)))
            + "</div>"
        )
    code = [(_STATIC / name).read_text(encoding="utf-8") for name in ("common.js", "charts.js")]
    scripts = (
        f"<script type='application/json' id='report-data'>{_script_json(payload)}</script>\n"
        + "\n".join(_inline_script(c) for c in (bundle, *code, _DRAW))
    )
    return sections, scripts
