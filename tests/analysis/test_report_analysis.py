from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

pytest.importorskip("matplotlib")

from lightning_autotune import InMemoryStorage, create_study
from lightning_autotune.analysis import write_report


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


def test_report_embeds_every_plot_and_the_trial_table(mixed_study, tmp_path):
    path = write_report(mixed_study, tmp_path / "sub" / "report.html", n_samples=64, dpi=40)
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
    text = write_report(mixed_study, tmp_path / "r.html", sensitivity=False, dpi=30).read_text()
    assert "<b>boom</b>" not in text
    assert "RuntimeError: &lt;b&gt;boom&lt;/b&gt;" in text
    assert "mixed &lt;study&gt;" in text and "mixed <study>" not in text


def test_report_explains_missing_sensitivity(tmp_path):
    study = create_study(
        "tiny", {"x": {"type": "continuous", "min": 0, "max": 1}}, InMemoryStorage()
    )
    study.tell(study.ask({"x": 0.2}), 1.0)
    page = _parse(write_report(study, tmp_path / "r.html", dpi=30))
    assert "Needs 3 COMPLETE trials; the study has 1." in "".join(page.text)
    assert sum(tag == "img" for tag, _ in page.tags) == 4
