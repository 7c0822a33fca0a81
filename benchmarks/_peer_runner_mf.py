"""SMAC3's multi-fidelity facade on the synthetic problems of `benchmarks.multifidelity`, run in
the peers' environment (`/work/venv-peers`, where `smac` is installed) as a subprocess.

Reads one JSON request on stdin, `{"problem", "seed", "budget"}`, and writes one JSON answer:
the `Run` fields (`compute`, `best_full`, `seconds`, `trials`) and `versions`.

SMAC's `MultiFidelityFacade` is Hyperband over a random forest (its documented multi-fidelity
setup); the budget is the number of steps out of `STEPS` (min 1, max `STEPS`, eta 3, the same
rungs as our ASHA and Optuna's Hyperband), so a trial at budget b is evaluated at fidelity
max(LOW, b / STEPS) and costs b / STEPS units. Only budget-`STEPS` trials count as results.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from typing import Any

from benchmarks._mf_functions import LOW, PROBLEMS, STEPS


def run(problem: str, seed: int, budget: float) -> dict[str, Any]:
    from ConfigSpace import ConfigurationSpace
    from ConfigSpace import Float as CSFloat
    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    p = PROBLEMS[problem]
    cs = ConfigurationSpace(seed=seed)
    for i in range(p.dim):
        cs.add(CSFloat(f"x{i}", (0.0, 1.0)))
    started = time.perf_counter()
    spent, best, n = 0.0, math.inf, 0
    compute: list[float] = []
    best_full: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(
            cs, deterministic=True, n_trials=200, min_budget=1, max_budget=STEPS, seed=seed,
            output_directory=out,
        )  # fmt: skip
        smac = MultiFidelityFacade(
            scenario,
            _never_called,
            intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=3),
            overwrite=True,
            logging_level=40,
        )
        while spent < budget:
            info = smac.ask()
            steps = float(info.budget)
            value = p.at(dict(info.config), max(LOW, steps / STEPS))
            smac.tell(info, TrialValue(cost=value))
            n += 1
            spent += steps / STEPS
            if steps >= STEPS:
                best = min(best, value)
            compute.append(spent)
            best_full.append(best)
    return {
        "compute": compute,
        "best_full": [b if math.isfinite(b) else None for b in best_full],
        "seconds": time.perf_counter() - started,
        "trials": n,
        "versions": {"smac": version("smac")},
    }


def _never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
    raise AssertionError("ask/tell only: SMAC never calls the target function")


def main() -> int:
    request = json.loads(sys.stdin.read())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answer = run(request["problem"], int(request["seed"]), float(request["budget"]))
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
