"""Export of the trial table to CSV and JSON, read back."""

from __future__ import annotations

import csv
import json
import math

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.study import Study, create_study
from lightning_autotune.trial import TrialState

SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    "momentum": {"type": "continuous", "min": 0.5, "max": 0.99, "when": {"optimizer": "sgd"}},
}


def _study() -> Study:
    study = create_study("exp", SPACE, sampler=RandomSampler(), seed=0)
    study.tell(study.ask({"lr": 1e-3, "optimizer": "adam"}), 0.5)
    trial = study.ask({"lr": 1e-2, "optimizer": "sgd", "momentum": 0.9})
    trial.report(1, 0.8)
    trial.report(2, math.nan)
    study.tell(trial, state=TrialState.PRUNED, reason="diverged")
    study.tell(study.ask({"lr": 2e-2, "optimizer": "adam"}), state=TrialState.FAILED, reason="OOM")
    study.ask({"lr": 3e-2, "optimizer": "adam"})  # still running
    return study


def test_export_json(tmp_path):
    path = _study().export(tmp_path / "trials.json")
    assert path == tmp_path / "trials.json"
    rows = json.loads(path.read_text())  # strict JSON: NaN is written as null
    assert [r["number"] for r in rows] == [0, 1, 2, 3]
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED", "FAILED", "RUNNING"]
    assert rows[0]["value"] == 0.5 and rows[0]["params_lr"] == 1e-3
    assert rows[0]["params_momentum"] is None and rows[1]["params_momentum"] == 0.9
    assert rows[1]["value"] is None and rows[1]["last_step"] == 2
    assert rows[1]["reason"] == "diverged" and rows[2]["reason"] == "OOM"
    assert rows[0]["duration_s"] >= 0 and rows[3]["duration_s"] is None
    assert rows[0]["started_at"].endswith("+00:00")
    assert set(rows[0]) == {
        "number",
        "state",
        "value",
        "params_lr",
        "params_optimizer",
        "params_momentum",
        "last_step",
        "duration_s",
        "started_at",
        "reason",
    }


def test_export_csv(tmp_path):
    path = _study().export(str(tmp_path / "trials.CSV"))
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED", "FAILED", "RUNNING"]
    assert float(rows[0]["value"]) == 0.5
    assert rows[0]["params_optimizer"] == "adam" and rows[0]["params_momentum"] == ""
    assert float(rows[1]["params_momentum"]) == 0.9
    assert rows[2]["reason"] == "OOM" and rows[2]["value"] == ""


def test_export_multi_objective_columns(tmp_path):
    study = create_study(space=SPACE, directions=["min", "max"], sampler=RandomSampler())
    study.tell(study.ask(), (1.0, 2.0))
    rows = json.loads(study.export(tmp_path / "t.json").read_text())
    assert (rows[0]["value_0"], rows[0]["value_1"]) == (1.0, 2.0)
    assert "value" not in rows[0]


def test_export_empty_study(tmp_path):
    study = create_study(space=SPACE, sampler=RandomSampler())
    assert json.loads(study.export(tmp_path / "t.json").read_text()) == []
    assert (tmp_path / "t.csv").exists() is False
    header = study.export(tmp_path / "t.csv").read_text().strip()
    assert header == "number,state"


def test_export_refuses_other_suffixes(tmp_path):
    with pytest.raises(ConfigError, match=r"export path must end in .csv or .json, got '.*t.xlsx'"):
        _study().export(tmp_path / "t.xlsx")
