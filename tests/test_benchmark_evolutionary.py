"""benchmarks/evolutionary.py: a partial rerun merged with an earlier run, and its verdicts."""

from __future__ import annotations

from typing import Any

from benchmarks._evolutionary_report import false_alarm, write_report
from benchmarks.evolutionary import merge


def _runs(regret: float, seeds: int = 4) -> list[dict[str, Any]]:
    return [{"regret": {"100": regret + 0.01 * i}, "s_per_trial": 0.001} for i in range(seeds)]


def _meta(command: str, date: str) -> dict[str, Any]:
    return {
        "command": command,
        "date": date,
        "quick": False,
        "seeds": 4,
        "budgets": [100],
        "mo_budgets": [100],
        "bo_budget": 100,
        "mo_bo_budget": 100,
        "bo_seeds": 4,
        "versions": {},
        "machine": "test",
    }


def test_a_partial_rerun_replaces_its_cells_and_keeps_the_others():
    old = {
        "meta": _meta("old", "d1"),
        "so": {"p": {"ours_cmaes": _runs(1), "optuna_cmaes": _runs(1), "ours_bo": _runs(-2)}},
        "mo": {"q": {"ours_nsga2": _runs(0), "optuna_nsga2": _runs(1), "ours_mo_bo": _runs(-1)}},
    }
    new = {
        "meta": _meta("new", "d2"),
        "so": {"p": {"ours_cmaes": _runs(0), "optuna_cmaes": _runs(0.5)}},
        "mo": {},
    }
    merged = merge(old, new)
    assert merged["so"]["p"]["ours_cmaes"] == new["so"]["p"]["ours_cmaes"]
    assert merged["so"]["p"]["ours_bo"] == old["so"]["p"]["ours_bo"]
    assert merged["mo"] == old["mo"]
    sources = merged["meta"]["sources"]
    assert sources[0] == {
        "command": "new",
        "date": "d2",
        "cells": ["p/ours_cmaes", "p/optuna_cmaes"],
    }
    assert sources[1]["command"] == "old"
    assert sorted(sources[1]["cells"]) == [
        "p/ours_bo",
        "q/optuna_nsga2",
        "q/ours_mo_bo",
        "q/ours_nsga2",
    ]
    # merged again over a further rerun of NSGA-II: the first run keeps only ours_bo
    again = merge(merged, {"meta": _meta("third", "d3"), "so": {}, "mo": {"q": old["mo"]["q"]}})
    assert [s["command"] for s in again["meta"]["sources"]] == ["third", "new", "old"]
    assert again["meta"]["sources"][2]["cells"] == ["p/ours_bo"]


def test_a_run_whose_cells_were_all_rerun_is_dropped_and_claims_none_later():
    old = {"meta": _meta("old", "d1"), "so": {"p": {"ours_bo": _runs(-2)}}, "mo": {}}
    cma = {"so": {"p": {"ours_cmaes": _runs(1), "optuna_cmaes": _runs(0)}}, "mo": {}}
    first = merge(old, {"meta": _meta("cma1", "d2"), **cma})
    second = merge(first, {"meta": _meta("cma2", "d3"), **cma})  # cma1's cells all rerun
    assert [s["command"] for s in second["meta"]["sources"]] == ["cma2", "old"]
    nsga = {"so": {}, "mo": {"q": {"ours_nsga2": _runs(0), "optuna_nsga2": _runs(1)}}}
    third = merge(second, {"meta": _meta("nsga", "d4"), **nsga})
    assert {s["command"]: s["cells"] for s in third["meta"]["sources"]} == {
        "nsga": ["q/ours_nsga2", "q/optuna_nsga2"],
        "cma2": ["p/ours_cmaes", "p/optuna_cmaes"],
        "old": ["p/ours_bo"],
    }


def test_the_page_names_each_run_and_the_chance_of_a_worse_verdict(tmp_path):
    old = {"meta": _meta("old", "d1"), "so": {"p": {"ours_bo": _runs(-2)}}, "mo": {}}
    new = {
        "meta": _meta("new", "d2"),
        "so": {"p": {"ours_cmaes": _runs(1), "optuna_cmaes": _runs(0)}},
        "mo": {},
    }
    new["meta"]["load"] = [3.5, 12.0, 7.25]
    write_report(tmp_path, merge(old, new))
    page = (tmp_path / "results.md").read_text()
    assert "- machine load: 1-minute load average 3.5 to 12.0 (read after each problem)" in page
    assert (
        "- cells ours_cmaes (1 problems), optuna_cmaes (1 problems): `new` (d2; machine load: "
        "1-minute load average 3.5 to 12.0 (read after each problem))" in page
    )
    assert "- cells ours_bo (1 problems): `old` (d1)" in page
    row = next(line for line in page.splitlines() if line.startswith("| p | 100 |"))
    assert "| worse |" in row
    assert row.endswith("| 0.01 |")  # every seed of ours above every seed of the peer's
    assert "p (ours worse) < 0.05 on 1 cells, 0.1 expected" in page


def test_two_samplers_alike_get_a_worse_verdict_one_cell_in_seven_at_ten_seeds():
    assert 0.13 < false_alarm(10, trials=20_000) < 0.16
    assert false_alarm(30, trials=20_000) < 0.04
