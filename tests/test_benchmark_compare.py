"""The pages that compare ours with the peers: cell-by-cell gaps, load stamps, latency rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import peers_compare
from benchmarks._functions import PROBLEMS
from benchmarks.bo_latency import NO_LIMIT, history_limit, latency_rows
from benchmarks.peers_compare import gaps, load_line, render_gaps


def _trace(regret: float, problem: str = "branin", n: int = 20) -> list[float]:
    """A trace whose best value is `regret` above the optimum from the 5th evaluation on."""
    optimum = PROBLEMS[problem].optimum
    return [optimum + 100.0] * 4 + [optimum + regret] * (n - 4)


def test_ours_is_compared_with_the_best_other_and_ranked():
    curves = {
        "branin": {
            "ours": [_trace(1e-3)] * 3,
            "ax": [_trace(1e-4)] * 3,
            "hebo": [_trace(1e-1)] * 3,
        }
    }
    (gap,) = gaps(curves, {"branin": [20]}, "ours", ["ours", "ax", "hebo"])
    assert (gap.other, gap.rank, gap.peers) == ("ax", 2, 3)
    assert gap.difference == pytest.approx(1.0)  # ours' regret is 10x Ax's
    lines = render_gaps([gap], "ours")
    assert "| branin | 20 | -3.00 | ax | -4.00 | +1.00 | 10 | 2 of 3 |" in lines
    assert lines[-1] == (
        "ours has the lowest median in 0 of 1 cells (0 tied), trails the best other in 1, "
        "and is last in 0."
    )


def test_a_cell_past_a_peers_trace_or_without_ours_is_left_out():
    curves = {
        "branin": {"ours": [_trace(1e-3, n=10)], "ax": [_trace(1e-2)]},
        "hartmann6": {"ax": [_trace(1e-2, "hartmann6")]},
    }
    found = gaps(curves, {"branin": [10, 20], "hartmann6": [20]}, "ours", ["ax"])
    assert [(g.problem, g.budget, g.rank) for g in found] == [("branin", 10, 1)]


def test_the_load_log_is_summarized_and_a_missing_one_said_so():
    log = "23:01 12.5 10.0 8.0\n23:02 20.5 12.0 9.0\n\n23:03 16.0 13.0 9.5\n"
    line = load_line(log)
    assert "3 samples 23:01-23:03 UTC): median 16.0, min 12.5, max 20.5" in line
    assert load_line("") == "- machine load: not recorded"


def test_merged_runs_get_the_gap_table_and_the_load_under_the_header(tmp_path):
    meta = {
        "command": "x",
        "quick": False,
        "seeds": 1,
        "budgets": [20],
        "budgets_high": [100],
        "wall_s": 1.0,
        "date": "2026-12-07 23:00 UTC",
        "versions": {},
    }
    for tag, peer, regret in (("a", "ours", 1e-3), ("b", "ax", 1e-2)):
        raw = {
            "meta": {**meta, "peers": [peer]},
            "curves": {"branin": {peer: [_trace(regret)]}},
            "errors": {},
            "latency": {},
            "seconds": {peer: 1.0},
        }
        (tmp_path / tag).mkdir()
        (tmp_path / tag / "raw.json").write_text(json.dumps(raw))
    (tmp_path / "load.log").write_text("23:01 12.5 10.0 8.0\n")
    out = tmp_path / "out"
    argv = ["--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]
    assert peers_compare.main([*argv, "--load-log", str(tmp_path / "load.log")]) == 0
    page = (out / "results.md").read_text()
    header, _, body = page.partition("\n\n|")
    assert "- machine load (1-minute average, 1 samples" in header
    assert "## ours against the best of ax, cell by cell" in body
    assert "| branin | 20 | -3.00 | ax | -2.00 | -1.00 | 0.1 | 1 of 2 |" in body
    assert sorted(p.name for p in (out / "raw").iterdir()) == ["a.json", "b.json"]
    assert peers_compare.main([*argv, "--compare", "ax:ours"]) == 0
    page = (out / "results.md").read_text()
    assert "- machine load" not in page
    assert "## ax against the best of ours, cell by cell" in page
    assert "| branin | 20 | -2.00 | ours | -3.00 | +1.00 | 10 | 2 of 2 |" in page


def test_latency_rows_give_the_ratio_only_when_both_samplers_ran():
    rows = latency_rows({"ours": {"25": [0.1, 0.3, 0.2]}, "optuna_gp": {"25": [0.8, 0.8]}})
    assert rows[0] == "| history | ours p50 (s) | optuna_gp p50 (s) | ours / optuna_gp |"
    assert rows[2] == "| 25 | 0.200 | 0.800 | 0.25 |"
    alone = latency_rows({"thinned": {"2000": [0.5]}, "whole": {"2000": [9.0]}})
    assert alone[0] == "| history | thinned p50 (s) | whole p50 (s) |"
    assert alone[2] == "| 2000 | 0.500 | 9.000 |"


def test_history_limit_applies_inside_the_block_only():
    from lightning_autotune.samplers import _gp

    y = np.arange(500.0)
    with history_limit(40):
        assert len(_gp.select_history(y)) == 40
    with history_limit(NO_LIMIT):
        assert len(_gp.select_history(y)) == 500
    assert len(_gp.select_history(y)) == _gp.max_history
