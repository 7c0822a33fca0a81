"""The population through HyperTuner and a rerun of a finished population."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from torch import nn

from lightning_autotune import HyperTuner, TrialState
from lightning_autotune.population import Lineage, PopulationBasedTraining
from lightning_autotune.testing import random_datasets


class DropMLP(nn.Module):
    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 3))

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.net(x)


def test_hypertuner_population_trains_members_with_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    train, val = random_datasets(n=96, n_features=8)
    tuner = HyperTuner(DropMLP, nn.CrossEntropyLoss(), metric="accuracy", direction="maximize")
    tuner.set_search_space(
        {
            "learning_rate": {"type": "continuous", "min": 1e-3, "max": 0.1, "scale": "log"},
            "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
        }
    )
    tuner.set_search_strategy("pbt", population=PopulationBasedTraining(population_size=2))
    tuner.set_early_stopping(False)
    with pytest.warns(UserWarning, match="members run one after another"):
        best = tuner.optimize(train, val, max_trials=50, max_epochs=2, storage=None)
    study = tuner.study
    assert study is not None and set(best) == {"learning_rate", "dropout"}
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2  # not max_trials
    for trial in study.trials:
        lineage = Lineage.decode(trial.user_attrs["population"])
        # Results are stored lower-is-better: a maximized accuracy is kept negated.
        assert lineage.results[-1].value == pytest.approx(-trial.value)
        assert [r.boundary for r in lineage.results] == [1, 2]
    assert study.user_attrs["population"]["population_size"] == 2
    # The boundary checkpoints are gone; the per-epoch resume ones stay for a rerun.
    assert not list(tmp_path.glob("autotune_checkpoints/*/population"))


class DieOnce(nn.Module):
    """Its process dies (as if killed) in the middle of epoch 2, on the first run only."""

    def __init__(self, flag: Path) -> None:
        super().__init__()
        self.flag = flag
        self.net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
        self.calls = 0

    def forward(self, x):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.training and self.calls == 8 and not self.flag.exists():
            self.flag.write_text("killed")
            os._exit(1)
        return self.net(x)


@pytest.mark.slow
def test_a_killed_member_resumes_from_its_checkpoint_with_its_lineage(tmp_path: Path) -> None:
    from lightning_autotune import fit
    from lightning_autotune.study import ProcessExecutor
    from lightning_autotune.testing import TinyClassifier, loaders

    train, val = random_datasets(n=96, n_features=8)
    flag = tmp_path / "killed"

    def build(p: dict) -> tuple:
        model = TinyClassifier(n_features=8, n_classes=3, hidden=8, lr=p["lr"], optimizer="sgd")
        model.net = DieOnce(flag)
        return (model, *loaders(train, val, batch_size=32))

    study = fit(
        build,
        {"lr": {"type": "continuous", "min": 1e-3, "max": 0.1, "scale": "log"}},
        storage=f"sqlite:///{tmp_path / 's.db'}",
        executor=ProcessExecutor(1, "CPU"),
        population=PopulationBasedTraining(population_size=2),
        trainer_kwargs={"max_epochs": 3},
        checkpoint_dir=tmp_path / "ckpt",
        progress=False,
    )
    assert flag.exists()
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    members = sorted(Lineage.decode(t.user_attrs["population"]).member for t in done)
    assert members == [0, 2]  # member 0 lives on in trial 1, its retry; trial 2 is member 2
    retry = next(t for t in done if t.retry_of is not None)
    assert "resumed_from" in retry.user_attrs  # from the killed trial's last epoch
    lineage = Lineage.decode(retry.user_attrs["population"])
    assert lineage.member == retry.retry_of
    assert [r.boundary for r in lineage.results] == [1, 2, 3]
