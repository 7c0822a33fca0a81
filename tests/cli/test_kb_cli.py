"""`lightning-autotune kb list|show|similar|suggest`."""

from __future__ import annotations

import json

import pytest

from lightning_autotune import create_study
from lightning_autotune.cli import main
from lightning_autotune.knowledge import KnowledgeBase

SPACE = {"lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"}}


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    for name, best in (("digits", 1e-2), ("wine", 3e-3), ("evil\x1b[31m", 1e-3)):
        study = create_study(name, SPACE, url, seed=0)
        for lr in (1e-4, best, 1e-1):
            study.tell(study.ask({"lr": lr}), 0.0 if lr == best else 1.0)
    KnowledgeBase(url).record("digits", objective="val_loss", tags={"data": "digits"})
    return url


def _run(capsys, *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().out


def test_list_shows_each_task_with_control_characters_escaped(url, capsys):
    code, out = _run(capsys, "kb", "list", "--storage", url)
    assert code == 0
    assert "digits" in out and "val_loss" in out and '{"data": "digits"}' in out
    assert "\x1b" not in out and "evil\\x1b[31m" in out


def test_show_similar_and_suggest(url, capsys):
    code, out = _run(capsys, "kb", "show", "digits", "--storage", url)
    assert code == 0 and 'tags: {"data": "digits"}' in out and "space: lr" in out
    code, out = _run(capsys, "kb", "similar", "digits", "--storage", url, "-k", "5")
    assert code == 0
    assert sorted(line.split()[0] for line in out.splitlines()[1:]) == ["evil\\x1b[31m", "wine"]
    code, out = _run(capsys, "kb", "suggest", "wine", "--storage", url, "-n", "2", "--json")
    assert code == 0
    assert {round(json.loads(line)["lr"], 6) for line in out.splitlines()} <= {1e-2, 1e-3}


def test_bad_count_and_unknown_task_are_errors(url, capsys):
    assert main(["kb", "suggest", "wine", "--storage", url, "-n", "0"]) == 2
    assert "-n must be" in capsys.readouterr().err
    assert main(["kb", "show", "nope", "--storage", url]) != 0
    assert "no study named 'nope'" in capsys.readouterr().err
