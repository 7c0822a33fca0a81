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


def train_tiny(url: str, name: str, n_trials: int = 3) -> None:
    """Tune a tiny real Lightning classifier into the study `name` (2 epochs a trial)."""
    from torch.utils.data import DataLoader

    import lightning_autotune as la
    from lightning_autotune.samplers import RandomSampler
    from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

    train, val = random_datasets(n=128, n_features=8)

    def build(params: dict) -> tuple:
        model = TinyClassifier(n_features=8, n_classes=3, hidden=8, lr=params["lr"])
        return model, DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, 64)

    la.fit(
        build,
        {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}},
        monitor="val_accuracy",
        mode="max",
        max_trials=n_trials,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2},
        storage=url,
        study_name=name,
        sampler=RandomSampler(),
        seed=0,
    )
