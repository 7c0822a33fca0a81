"""Background writers for the dashboard tests: processes running ask/tell on one SQLite study."""

from __future__ import annotations

import time

from lightning_autotune.study import create_study
from lightning_autotune.trial import TrialState

HOSTILE = "<script>alert(1)</script>"
SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    HOSTILE: {"type": "integer", "min": 1, "max": 8},
}
PRUNE_REASON = "pruned at step {step}: worse than the median of earlier trials"


def write_trials(url: str, name: str, worker: int, n_trials: int, delay: float = 0.02) -> None:
    """Run `n_trials` trials of 5 steps each; every third one (from the second) is pruned."""
    study = create_study(name, space=SPACE, storage=url)
    for i in range(n_trials):
        trial = study.ask({"lr": 10 ** -(1 + (i % 3)), HOSTILE: 1 + (i + worker) % 8})
        value = 1.0 + worker + i * 0.1
        steps = 2 if i % 3 == 1 else 5
        for step in range(steps):
            trial.report(step, value / (step + 1), {"acc": 0.1 * step})
            time.sleep(delay)
        if i % 3 == 1:
            study.tell(trial, state=TrialState.PRUNED, reason=PRUNE_REASON.format(step=steps - 1))
        else:
            trial.set_user_attr("schedule", {"lr": [0.1, 0.05]})
            study.tell(trial, value / steps)
