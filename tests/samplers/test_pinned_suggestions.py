"""The suggestions of NSGA2Sampler and CmaEsSampler through a study, seed for seed.

`data/pinned_suggestions.json` holds what `_run` gave on each scenario below when it was
recorded; any change to the samplers, the study's ask/tell path or the in-memory store that
moves a single suggestion fails here. Speed-ups of that path must leave it as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lightning_autotune.samplers import CmaEsSampler, NSGA2Sampler, Sampler
from lightning_autotune.space import Categorical, Float, Int, SearchSpace
from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState

PINNED = Path(__file__).parent / "data" / "pinned_suggestions.json"

MIXED = SearchSpace(
    {
        "x": Float(-1.0, 1.0),
        "lr": Float(1e-4, 1.0, log=True),
        "n": Int(1, 8),
        "kind": Categorical(["a", "b", "c"]),
    }
)
_COST = {"a": 0.3, "b": 0.0, "c": 0.8}


def _two(p: dict[str, Any]) -> tuple[float, float]:
    a = (p["x"] - 0.2) ** 2 + 0.1 * (p["n"] - 3) ** 2 + _COST[p["kind"]]
    b = (math.log10(p["lr"]) + 2) ** 2 + (p["x"] + 0.5) ** 2
    return a, b


def _one(p: dict[str, Any]) -> float:
    return sum(_two(p))


def _run(
    sampler: Sampler, objective: Callable[[dict[str, Any]], Any], n_obj: int, batch: int
) -> list[dict[str, Any]]:
    """60 trials asked `batch` at a time (others pending); every 9th pruned, every 13th failed."""
    study = create_study(space=MIXED, directions=["minimize"] * n_obj, sampler=sampler, seed=3)
    out: list[dict[str, Any]] = []
    while len(out) < 60:
        trials = [study.ask() for _ in range(batch)]
        for trial in trials:
            params = dict(trial.params)
            out.append(params)
            i = trial.number
            if i % 13 == 12:
                study.tell(trial, state=TrialState.FAILED, reason="pinned failure")
                continue
            trial.report(0, _one(params), metrics={"c": params["x"]})
            if i % 9 == 8:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, objective(params))
    return out


SCENARIOS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "nsga2": lambda: _run(
        NSGA2Sampler(population_size=10, outcome_constraints=["c <= 0.6"]), _two, 2, 1
    ),
    "nsga2_pending": lambda: _run(NSGA2Sampler(population_size=8), _two, 2, 3),
    "cmaes": lambda: _run(CmaEsSampler(), _one, 1, 1),
    "cmaes_pending": lambda: _run(CmaEsSampler(population_size=6), _one, 1, 2),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_same_seed_gives_the_pinned_suggestions(name):
    if name.startswith("cmaes"):
        pytest.importorskip("cmaes", reason="the [evolutionary] extra is not installed")
    want = json.loads(PINNED.read_text())[name]
    got = SCENARIOS[name]()
    assert len(got) == len(want) == 60
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.keys() == w.keys(), i
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (i, key)
            else:
                assert g[key] == value, (i, key)
