"""The harness's peers in their own environment: how their answers are mapped and reported."""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks import _bo_report
from benchmarks._external import run_external
from benchmarks._functions import PROBLEMS
from benchmarks._peer_runner import _decode, active


def test_a_flat_suggestion_is_mapped_back_to_the_space():
    space = PROBLEMS["conditional"].space
    flat = {
        "opt": "adam",
        "lr": 0.01,
        "momentum": 0.5,
        "nesterov": "True",
        "beta2": 0.99,
        "alpha": 0.9,
        "width": 0.3,
    }
    assert _decode(space, flat) == {"opt": "adam", "lr": 0.01, "beta2": 0.99, "width": 0.3}
    sgd = _decode(space, {**flat, "opt": "sgd"})
    assert sgd["nesterov"] is True  # the label of a boolean choice becomes the boolean
    assert "beta2" not in sgd


def test_an_integer_grid_is_given_to_peers_as_its_level_index():
    space = PROBLEMS["mixed12"].space
    flat = {k: v for k, v in PROBLEMS["mixed12"].minimizer.items()}
    flat |= {"momentum": 0.9, "batch_size": 5, "optimizer": "adam", "activation": "gelu"}
    assert _decode(space, flat)["batch_size"] == 16 + 5 * 16


def test_active_drops_what_the_choice_switches_off():
    space = PROBLEMS["mixed12"].space
    flat = {**PROBLEMS["mixed12"].minimizer, "momentum": 0.9}
    assert "momentum" not in active(space, flat)
    assert "beta1" not in active(space, {**flat, "optimizer": "sgd"})


def test_a_missing_environment_is_reported_not_dropped(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOTUNE_PEERS_PYTHON", str(tmp_path / "nowhere" / "python"))
    result = run_external("ax", "branin", 5, [0], 5)
    assert result.traces == []
    assert result.error is not None and result.error.startswith("not installed: no interpreter")


def test_a_library_that_does_not_import_is_reported_as_not_installed(monkeypatch):
    # this environment has no HEBO: the runner's import fails in the subprocess
    pytest.importorskip("optuna")
    if any(m == "hebo" for m in sys.modules) or _importable("hebo"):
        pytest.skip("HEBO is installed here")
    monkeypatch.setenv("AUTOTUNE_PEERS_PYTHON", sys.executable)
    result = run_external("hebo", "branin", 5, [0], 5)
    assert result.error is not None
    assert result.error.startswith("not installed: ModuleNotFoundError"), result.error


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


MISSING = "not installed: ModuleNotFoundError: No module named 'hebo'"


def test_the_table_says_why_a_peer_has_no_numbers(tmp_path):
    trace = [float(v) for v in range(30, 0, -1)]
    raw = {
        "meta": {
            "command": "python -m benchmarks.bo",
            "quick": True,
            "seeds": 1,
            "budgets": [20],
            "peers": ["random", "hebo", "ax"],
            "wall_s": 1.0,
            "date": "today",
            "versions": {"optuna": "5.1.0"},
        },
        "curves": {"branin": {"random": [trace]}},
        "errors": {"branin": {"hebo": MISSING}},
        "latency": {},
        "seconds": {"random": 1.0},
    }
    _bo_report.write_results(tmp_path, [json.loads(json.dumps(raw))])
    text = (tmp_path / "results.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| branin | 20 |"))
    assert "| not installed | not run |" in row
    assert "- hebo on branin: not installed: ModuleNotFoundError: No module named 'hebo'" in text
    assert "optuna 5.1.0" in text


def test_a_library_print_before_the_answer_is_skipped_and_no_answer_is_a_failure():
    from benchmarks._external import _answer

    answer = {"traces": [[1.0]], "seconds": [0.5], "versions": {"hebo": "0.3.6"}}
    run = _answer("iteration 3: lengthscale 0.2\n" + json.dumps(answer) + "\n")
    assert (run.traces, run.error) == ([[1.0]], None)
    broken = _answer("iteration 3: lengthscale 0.2\n")
    assert broken.traces == []
    assert broken.error is not None
    assert broken.error.startswith("failed: the runner's answer is not JSON: 'iteration 3")
