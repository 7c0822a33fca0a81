"""The case studies' population and transfer arms (examples/_case_arms.py): replaying a stored
schedule, and `--only` merging new arms into a stored run or refusing one of another protocol.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from _case_arms import (  # noqa: E402
    POPULATION_KEY,
    ProtocolMismatch,
    check_protocol,
    load_stored,
    merged,
    merged_notes,
    parse_only,
    population_interval,
    replay_setup,
    write_merged,
)
from _case_results import Row, Sweep, table, write  # noqa: E402
from case_image_classification import PROTOCOL, parse, parser  # noqa: E402

from lightning_autotune.population import PopulationSchedule  # noqa: E402

STORED_COMMAND = (
    "PYTHONPATH=. python examples/case_image_classification.py --trials 8 --seeds 3 "
    "--max-epochs 15 --out /tmp/cases/run3"
)


def stored_run(**extra: object) -> dict:
    return {"command": STORED_COMMAND, "epochs": 12, "metric_label": "test accuracy", **extra}


def test_parse_only_reads_the_arms_and_rejects_an_unknown_one():
    assert parse_only(None) == []
    assert parse_only("pbt, transfer") == ["pbt", "transfer"]
    with pytest.raises(ValueError, match=r"unknown arm\(s\) \['bo'\]; choose from pbt, transfer"):
        parse_only("pbt,bo")


def test_population_interval_gives_four_boundaries_at_least_one_epoch_apart():
    assert [population_interval(e) for e in (2, 10, 12)] == [1, 2, 3]


def test_check_protocol_accepts_the_stored_flags_and_returns_the_stored_budget():
    args = parse(["--trials", "8", "--seeds", "3", "--max-epochs", "15", "--only", "pbt"])
    assert check_protocol(stored_run(), parser(), args, PROTOCOL) == 12


def test_check_protocol_refuses_other_trials_or_seeds_naming_both_values():
    args = parse(["--trials", "4", "--seeds", "2", "--max-epochs", "15", "--only", "pbt"])
    with pytest.raises(
        ProtocolMismatch,
        match=r"trials \(stored 8, this run 4\); seeds \(stored 3, this run 2\)\. Rerun with",
    ):
        check_protocol(stored_run(), parser(), args, PROTOCOL)


def test_check_protocol_refuses_other_data_and_another_epoch_budget():
    args = parse(["--data", "mnist1d", "--trials", "8", "--seeds", "3", "--max-epochs", "15"])
    with pytest.raises(ProtocolMismatch, match=r"data \(stored 'mnist', this run 'mnist1d'\)"):
        check_protocol(stored_run(), parser(), args, PROTOCOL)
    args = parse(["--trials", "8", "--seeds", "3", "--max-epochs", "15", "--epochs", "6"])
    with pytest.raises(ProtocolMismatch, match=r"epochs \(stored budget 12, this run 6\)"):
        check_protocol(stored_run(), parser(), args, PROTOCOL)


def test_check_protocol_refuses_a_stored_run_without_a_command():
    args = parse(["--only", "pbt"])
    with pytest.raises(ProtocolMismatch, match=r"no command that names a script \(command=''\)"):
        check_protocol(stored_run(command=""), parser(), args, PROTOCOL)


def test_load_stored_refuses_a_folder_without_a_run(tmp_path):
    with pytest.raises(ProtocolMismatch, match=r"results\.json does not exist; run the full"):
        load_stored(tmp_path)


def test_merged_replaces_rows_of_the_same_name_and_drops_the_run_arms_labels():
    old = [Row("a", "baseline", {}, [0.5]), Row("pbt", "arm", {}, [0.1]), Row("b", "arm", {})]
    stored = {
        "rows": [vars(r) for r in old],
        "not_run": {"population-based training arm": "x", "transfer from a related task arm": "y"},
    }
    new = [Row("pbt", "arm", {}, [0.9]), Row("c", "arm", {}, [0.8])]
    rows, not_run = merged(stored, new, ["pbt"])
    assert [(r.name, r.metric) for r in rows] == [
        ("a", [0.5]),
        ("pbt", [0.9]),
        ("b", []),
        ("c", [0.8]),
    ]
    assert not_run == {"transfer from a related task arm": "y"}


def test_merged_notes_replace_a_stored_note_on_the_same_arm():
    notes = merged_notes(["Transfer: old", "Other: kept"], ["Transfer: new"])
    assert notes == ["Other: kept", "Transfer: new"]


def test_write_merged_keeps_the_preamble_and_sweep_and_adds_the_rows(tmp_path):
    sweep = Sweep("emb_ratio", "ratio", "val F1", "best", {"1": [0.8]}, [(1.0, 0.8)])
    base = Row("a", "baseline", {}, [0.5, 0.6], [1.0, 1.0], [False, False])
    labels = {"population-based training arm": "x", "MNIST-1D": "y"}
    payload = {"command": STORED_COMMAND, "epochs": 12, "metric_label": "acc"}
    write(tmp_path, payload, [base], metric_label="acc", preamble=["P1", "P2"], not_run=labels,
          sweep=sweep)  # fmt: skip
    new = Row("pbt", "arm", {}, [0.7, 0.9], [2.0, 2.0], [False, False], 30.0, 4)
    stored = json.loads((tmp_path / "results.json").read_text())
    write_merged(tmp_path, stored, [new], ["pbt"], ["PBT: n"], added="Added: c",
                 not_run_drop=["MNIST-1D"])  # fmt: skip
    text = (tmp_path / "results.md").read_text()
    assert text.startswith("P1\nP2\n\n| configuration |")
    assert "\n".join(table([base, new], "acc")) in text
    assert "- PBT: n\n- Added: c\n" in text and "not run" not in text
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["not_run"] == {} and data["command"] == STORED_COMMAND
    assert data["sweep"]["runs"] == {"1": [0.8]} and "Sweep of the ratio" in text


def test_replay_setup_builds_the_first_segment_and_a_schedule_for_the_rest():
    segments = [
        {"start_epoch": 0, "params": {"learning_rate": 0.01, "optimizer": "sgd"}},
        {"start_epoch": 3, "params": {"learning_rate": 0.002, "optimizer": "adam"}},
    ]
    params, callbacks = replay_setup({POPULATION_KEY: segments})
    # the population's SGD has momentum 0.9, the case models' 'momentum'
    assert params == {"learning_rate": 0.01, "optimizer": "momentum"}
    [schedule] = callbacks
    assert isinstance(schedule, PopulationSchedule)
    assert schedule.params_at(4) == {"learning_rate": 0.002, "optimizer": "adam"}
    assert replay_setup({"learning_rate": 0.1}) == ({"learning_rate": 0.1}, [])
