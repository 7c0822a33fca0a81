from __future__ import annotations

import base64
import json
import logging
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from lightning_autotune import InMemoryStorage, create_study
from lightning_autotune.analysis import write_report
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.trial import TrialState


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(path) -> _Collector:
    parser = _Collector()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_png_report_embeds_every_plot_and_the_trial_table(mixed_study, tmp_path):
    path = write_report(
        mixed_study, tmp_path / "sub" / "report.html", n_samples=64, dpi=40, interactive=False
    )
    page = _parse(path)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [i["alt"] for i in images] == [
        "Optimization history",
        "Intermediate values",
        "Parallel coordinates",
        "Slice plot",
        "Parameter importance",
        "Local sensitivity",
    ]
    for image in images:
        src = image["src"]
        assert src is not None and src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    tables = [attrs.get("class") for tag, attrs in page.tags if tag == "table"]
    assert tables == ["summary", "trials"]
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and attrs.get("class")]
    assert len(rows) == len(mixed_study.trials)
    assert {r["class"] for r in rows} == {"COMPLETE", "PRUNED", "FAILED"}
    # Self-contained: no scripts, no links, nothing fetched from elsewhere.
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    assert "http" not in "".join(str(a.get("src")) for _, a in page.tags)


def test_report_escapes_text_from_the_study(mixed_study, tmp_path):
    path = write_report(mixed_study, tmp_path / "r.html", sensitivity=False, interactive=False)
    text = path.read_text()
    assert "<b>boom</b>" not in text
    assert "RuntimeError: &lt;b&gt;boom&lt;/b&gt;" in text
    assert "mixed &lt;study&gt;" in text and "mixed <study>" not in text


def test_report_explains_missing_sensitivity(tmp_path):
    study = create_study(
        "tiny", {"x": {"type": "continuous", "min": 0, "max": 1}}, InMemoryStorage()
    )
    study.tell(study.ask({"x": 0.2}), 1.0)
    page = _parse(write_report(study, tmp_path / "r.html", dpi=30, interactive=False))
    assert "Needs 3 COMPLETE trials; the study has 1." in "".join(page.text)
    assert sum(tag == "img" for tag, _ in page.tags) == 4


HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def hostile_study():
    space = {
        HOSTILE: {"type": "continuous", "min": 0, "max": 1},
        "y": {"type": "categorical", "values": ["a", "b"]},
    }
    study = create_study(HOSTILE, space, InMemoryStorage(), sampler=RandomSampler(), seed=3)
    for i in range(6):
        trial = study.ask()
        for step in range(4):
            trial.report(step, trial.params[HOSTILE] + 1 / (step + 1))
        if i == 4:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, trial.params[HOSTILE] + 0.1 * i)
    return study


def _report_data(text: str) -> dict:
    start = text.index("<script type='application/json' id='report-data'>")
    body = text[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_interactive_report_inlines_plotly_and_the_charts_data(hostile_study, tmp_path):
    plotly = pytest.importorskip("plotly")
    path = write_report(hostile_study, tmp_path / "r.html", n_samples=64)
    text = path.read_text(encoding="utf-8")
    page = _parse(path)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    # Nothing is fetched: no script, link or image names a source outside the file.
    assert scripts and all("src" not in attrs for attrs in scripts)
    assert not [t for t, _ in page.tags if t in ("link", "iframe", "img")]
    bundle = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    assert bundle in text
    data = _report_data(text)
    assert data["directions"] == ["minimize"]
    assert [t["number"] for t in data["trials"]] == list(range(6))
    assert data["trials"][4]["state"] == "PRUNED"
    assert data["curves"]["pruned_stops"] == [
        {"number": 4, "step": 3, "value": pytest.approx(hostile_study.trials[4].intermediate[3])}
    ]
    assert data["slices"] == [HOSTILE, "y"]
    assert {p["name"] for p in data["importance"]["importances"]} == {HOSTILE, "y"}
    assert len(data["local"]) == 2
    ids = {attrs.get("id") for tag, attrs in page.tags if tag == "div"}
    assert {"history", "curves", "parallel", "slice-0", "importance", "local-0"} <= ids


def test_interactive_report_shows_hostile_names_as_text(hostile_study, tmp_path):
    pytest.importorskip("plotly")
    text = write_report(hostile_study, tmp_path / "r.html", sensitivity=False).read_text()
    # The only '<script>' tags are the report's own (the JSON escapes '<'); the names appear
    # escaped in the HTML and as \u003c in the data.
    assert text.count("<script>alert(1)</script>") == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in text
    assert _report_data(text)["trials"][0]["params"][HOSTILE] == pytest.approx(
        hostile_study.trials[0].params[HOSTILE]
    )


def test_report_without_plotly_falls_back_to_png_with_a_note(
    hostile_study, tmp_path, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "plotly", None)  # `import plotly` now raises ImportError
    with caplog.at_level(logging.WARNING, logger="lightning_autotune"):
        path = write_report(hostile_study, tmp_path / "r.html", sensitivity=False, dpi=30)
    page = _parse(path)
    assert not [t for t, _ in page.tags if t == "script"]
    assert sum(tag == "img" for tag, _ in page.tags) == 4
    assert "plotly is not installed, so the charts are images" in "".join(page.text)
    assert "plotly is not installed" in caplog.text


def test_interactive_report_reads_the_study_from_the_store_once(mixed_study, tmp_path):
    pytest.importorskip("plotly")
    reads = []
    storage = mixed_study.storage
    real = storage.get_trials

    def counted(study_id, states=None):
        reads.append(states)
        return real(study_id, states)

    storage.get_trials = counted  # type: ignore[method-assign]
    try:
        write_report(mixed_study, tmp_path / "r.html", sensitivity=False)
    finally:
        del storage.get_trials
    assert reads == [None]
