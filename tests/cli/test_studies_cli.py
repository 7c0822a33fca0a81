from __future__ import annotations

import csv
import importlib.util
import io
import json

import pytest

from lightning_autotune import create_study
from lightning_autotune.cli import main
from lightning_autotune.trial import TrialState

SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    "opt": {"type": "categorical", "values": ["adam", "sgd"]},
}


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    study = create_study("alpha", SPACE, url, seed=0)
    for i, value in enumerate([0.5, 0.2, None, 0.4]):
        trial = study.ask()
        trial.report(0, 1.0)
        if value is None:
            study.tell(trial, state=TrialState.PRUNED, reason="MedianPruner at step 0")
        else:
            study.tell(trial, value if i != 3 else float("nan"))
    create_study("beta", SPACE, url, direction="maximize", seed=1)
    return url


def _run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_counts_and_best(url, capsys):
    code, out, _ = _run(capsys, "studies", "list", "--storage", url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "name", "directions", "trials", "complete", "pruned", "failed", "running", "best"
    ]  # fmt: skip
    assert lines[1].split() == ["alpha", "minimize", "4", "2", "1", "1", "0", "0.2", "(#1)"]
    assert lines[2].split() == ["beta", "maximize", "0", "0", "0", "0", "0"]


def test_show_filters_by_state_and_limit(url, capsys):
    code, out, _ = _run(capsys, "studies", "show", "alpha", "--storage", url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "study 'alpha': 4 of 4 trial(s)"
    heads = ["number", "state", "value", "lr", "opt", "steps", "duration_s", "reason"]
    assert lines[1].split() == heads
    assert "objective value was nan" in out and "MedianPruner at step 0" in out
    code, out, _ = _run(capsys, "studies", "show", "alpha", "--storage", url, "--state", "PRUNED")
    assert out.splitlines()[0] == "study 'alpha': 1 of 4 trial(s)"
    code, out, _ = _run(capsys, "studies", "show", "alpha", "--storage", url, "--limit", "1")
    assert out.splitlines()[2].split()[:2] == ["3", "FAILED"]
    code, _, err = _run(capsys, "studies", "show", "alpha", "--storage", url, "--limit", "0")
    assert code == 2 and "error: --limit must be an integer >= 1, got 0; give the number" in err


def test_best_as_text_and_json(url, capsys):
    code, out, _ = _run(capsys, "studies", "best", "alpha", "--storage", url)
    assert code == 0 and out.startswith("best trial 1: value 0.2\n  lr: ")
    code, out, _ = _run(capsys, "studies", "best", "alpha", "--storage", url, "--json")
    params = json.loads(out)
    assert set(params) == {"lr", "opt"}
    code, _, err = _run(capsys, "studies", "best", "beta", "--storage", url)
    assert code == 1 and "has no COMPLETE trial yet" in err


def test_export_and_report(url, tmp_path, capsys):
    target = tmp_path / "trials.csv"
    code, out, _ = _run(capsys, "studies", "export", "alpha", "--storage", url, "--out", target)
    assert code == 0 and str(target) in out
    rows = list(csv.DictReader(target.open()))
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE", "PRUNED", "FAILED"]
    pytest.importorskip("matplotlib")
    page = tmp_path / "report.html"
    code, _, _ = _run(
        capsys, "studies", "report", "alpha", "--storage", url, "--out", str(page),
        "--no-sensitivity",
    )  # fmt: skip
    text = page.read_text()
    assert code == 0
    if importlib.util.find_spec("plotly") is not None:  # interactive charts, else 4 PNGs
        assert "id='report-data'" in text and "<img " not in text
    else:
        assert text.count("<img ") == 4


def test_delete_needs_confirmation(url, capsys):
    code, _, err = _run(capsys, "studies", "delete", "beta", "--storage", url)
    assert code == 1 and "not deleted (pass --yes" in err
    code, out, _ = _run(capsys, "studies", "delete", "beta", "--storage", url, "--yes")
    assert code == 0 and out == "deleted study 'beta'\n"
    _, out, _ = _run(capsys, "studies", "list", "--storage", url)
    assert "beta" not in out


def test_unknown_study_and_missing_store(url, tmp_path, capsys):
    code, _, err = _run(capsys, "studies", "show", "gamma", "--storage", url)
    assert code == 1 and "gamma" in err and err.startswith("error: ")
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    code, _, err = _run(capsys, "studies", "list", "--storage", missing)
    assert code == 1 and "no store file at" in err and "nope.db" in err
    assert not (tmp_path / "nope.db").exists()


def test_control_characters_from_the_store_are_escaped(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    name = "\x1b[31mred\u202e"
    space = {"opt": {"type": "categorical", "values": ["bell\x07", "plain"]}}
    study = create_study(name, space, url, seed=0)
    trial = study.ask({"opt": "bell\x07"})
    study.tell(trial, 0.5)
    failed = study.ask({"opt": "plain"})
    study.tell(failed, state=TrialState.FAILED, reason="boom \x1b]0;owned\x07")
    outputs = [
        _run(capsys, "studies", "list", "--storage", url)[1],
        _run(capsys, "studies", "show", name, "--storage", url)[1],
        _run(capsys, "studies", "best", name, "--storage", url)[1],
    ]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[31mred\\u202e" in outputs[0]
    assert "bell\\x07" in outputs[1] and "boom \\x1b]0;owned\\x07" in outputs[1]
    assert "opt: bell\\x07" in outputs[2]


def test_show_and_list_print_what_the_full_read_gives(url, capsys, monkeypatch):
    # `show` and `list` read each trial's last report only; the table is the one the full read
    # of every curve prints.
    from lightning_autotune.cli import _studies
    from lightning_autotune.storage import SQLStorage
    from lightning_autotune.study import load_study

    study = create_study("alpha", SPACE, url, load_if_exists=True)
    trial = study.ask()
    for step in (0, 4, 2):
        trial.report(step, 0.3)
    trial = study.ask()  # running, nothing reported
    code, shown, _ = _run(capsys, "studies", "show", "alpha", "--storage", url)
    _, listed, _ = _run(capsys, "studies", "list", "--storage", url)
    assert code == 0 and "study 'alpha': 6 of 6 trial(s)" in shown

    monkeypatch.setattr(SQLStorage, "get_trial_summaries", SQLStorage.get_trials)
    _, listed_in_full, _ = _run(capsys, "studies", "list", "--storage", url)
    full = io.StringIO()
    _studies._show(load_study("alpha", url).trials, study, None, None, full)
    assert shown == full.getvalue()
    assert listed == listed_in_full
    assert shown.splitlines()[-2].split()[:2] == ["4", "RUNNING"]
    assert shown.splitlines()[-2].split()[-1] == "4"  # its last step, not the last reported
