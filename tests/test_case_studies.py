"""The case-study protocol of examples/_case_results.py and its stored results.

The stored `results.md` of a case must be the table its `results.json` renders to, so that the
table docs/schedules.md includes cannot drift from the raw runs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from _case_results import (  # noqa: E402
    Row,
    ablations,
    active_schedules,
    plateau_epoch,
    retrain_all,
    table,
    write,
)

SCHEDULED = {
    "learning_rate": 0.01,
    "switch_at": 0.5,
    "switch_lr_scale": 2.0,
    "batch_size_ramp_at": 0.5,
    "batch_size_factor": 2,
    "agc_clip_factor": 0.05,
}


def test_active_schedules_ignores_values_that_change_nothing():
    params = {**SCHEDULED, "batch_size_factor": 1}
    assert active_schedules(params) == ["optimizer switch", "adaptive clipping"]
    assert active_schedules({"learning_rate": 0.01}) == []


def test_ablations_remove_one_schedule_each_then_all():
    rows = ablations(Row("best", "arm", SCHEDULED))
    names = [r.name for r in rows]
    assert names == [
        "best without optimizer switch",
        "best without batch-size ramp",
        "best without adaptive clipping",
        "best without any schedule",
    ]
    assert "switch_at" not in rows[0].params and "agc_clip_factor" in rows[0].params
    assert rows[-1].params == {"learning_rate": 0.01}
    assert all(r.kind == "ablation" for r in rows)


def test_ablations_of_a_configuration_without_schedules_are_empty():
    assert ablations(Row("best", "arm", {"learning_rate": 0.01})) == []


def test_plateau_epoch_is_the_first_within_tolerance():
    assert plateau_epoch([0.5, 0.9, 0.905, 0.91, 0.89], 0.01) == 2
    assert plateau_epoch([0.5, 0.9, 0.905, 0.91], 0.0) == 4


def test_plateau_epoch_rejects_bad_input():
    with pytest.raises(ValueError, match=r"at least one epoch, got \[\]"):
        plateau_epoch([], 0.01)
    with pytest.raises(ValueError, match=r"tolerance must be >= 0, got -0\.1"):
        plateau_epoch([0.5], -0.1)


def test_retrain_all_interleaves_seeds_and_flags_collapsed_runs():
    calls = []

    def retrain(params, seed):
        calls.append((params["name"], seed))
        return (0.1 if params["name"] == "b" and seed == 1 else 0.9), 1.0

    rows = [Row("a", "arm", {"name": "a"}), Row("b", "arm", {"name": "b"})]
    retrain_all(rows, 2, retrain, floor=0.2)
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert rows[1].collapsed == [False, True]
    assert "| b | 0.500 ± 0.566 | 1/2 | 1.0 ± 0.0 | - |" in table(rows, "acc")


def test_write_renders_the_table_and_the_arms_not_run(tmp_path):
    row = Row("x", "arm", {}, [0.9, 0.8], [1.0, 2.0], [False, False], 12.3, 4)
    write(tmp_path, {"case": "t"}, [row], metric_label="acc", preamble=["P"], not_run={"n": "why"})
    text = (tmp_path / "results.md").read_text()
    assert "| x | 0.850 ± 0.071 | 0/2 | 1.5 ± 0.7 | 12 (4) |" in text
    assert text.startswith("P\n") and "- n: not run (why)." in text
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["search_trials"] == 4


def stored_cases() -> list[Path]:
    found = []
    for path in sorted((ROOT / "benchmarks" / "results").glob("case_*/results.json")):
        if isinstance(json.loads(path.read_text()).get("rows"), list):
            found.append(path)
    return found


@pytest.mark.parametrize("path", stored_cases(), ids=lambda p: p.parent.name)
def test_stored_table_is_the_one_its_json_renders(path):
    data = json.loads(path.read_text())
    names = {f.name for f in fields(Row)}
    rows = [Row(**{k: v for k, v in r.items() if k in names}) for r in data["rows"]]
    label = data.get("metric_label", "test accuracy")
    assert "\n".join(table(rows, label)) in (path.parent / "results.md").read_text()
