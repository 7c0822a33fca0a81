from __future__ import annotations

import lightning.pytorch as pl
import pytest
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.exceptions import ConfigError, MetricNotFoundError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "hidden": {"type": "integer", "min": 4, "max": 32},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
}
DATA = random_datasets(n=128, n_features=8)


def build(params):
    model = TinyClassifier(
        n_features=8,
        n_classes=3,
        hidden=params["hidden"],
        lr=params["lr"],
        optimizer=params["optimizer"],
    )
    return model, DataLoader(DATA[0], batch_size=32, shuffle=True), DataLoader(DATA[1], 64)


class _DataModule(pl.LightningDataModule):
    def train_dataloader(self):
        return DataLoader(DATA[0], batch_size=32)

    def val_dataloader(self):
        return DataLoader(DATA[1], batch_size=64)


def test_fit_end_to_end_in_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'fit.db'}"
    study = la.fit(
        build,
        SPACE,
        monitor="val_accuracy",
        mode="max",
        max_trials=3,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2},
        storage=url,
        study_name="fit-e2e",
        sampler=RandomSampler(),
        seed=0,
    )
    assert [t.state for t in study.trials] == [la.TrialState.COMPLETE] * 3
    assert 0.0 <= study.best_value <= 1.0
    reopened = la.load_study("fit-e2e", url)
    assert [t.values for t in reopened.trials] == [t.values for t in study.trials]
    # 96 training samples in batches of 32: 3 steps an epoch, validated after each of 2 epochs.
    assert all(sorted(t.intermediate) == [3, 6] for t in reopened.trials)
    # Plots and reports name the axis after the monitored metric.
    assert reopened.user_attrs["objective_names"] == ["val_accuracy"]


def test_fit_accepts_a_datamodule_and_a_module_with_loaders():
    def with_dm(params):
        return TinyClassifier(n_features=8, n_classes=3, lr=params["lr"]), _DataModule()

    study = la.fit(
        with_dm,
        {"lr": SPACE["lr"]},
        max_trials=1,
        trainer_kwargs=TINY_TRAINER_KWARGS,
        storage=None,
        sampler=RandomSampler(),
    )
    assert study.trials[0].state is la.TrialState.COMPLETE


def test_fit_rejects_a_build_that_returns_something_else():
    with pytest.raises(ConfigError, match="build\\(params\\) must return a LightningModule"):
        la.fit(lambda p: ("model",), SPACE, max_trials=1, storage=None, sampler=RandomSampler())


def test_fit_stops_on_a_wrong_monitor_and_records_it():
    with pytest.raises(MetricNotFoundError, match="'val_acc' was not logged"):
        la.fit(
            build,
            SPACE,
            monitor="val_acc",
            max_trials=3,
            trainer_kwargs=TINY_TRAINER_KWARGS,
            storage=None,
            sampler=RandomSampler(),
            study_name="wrong",
        )


def test_fit_time_budget_parses_hms_and_rejects_garbage():
    with pytest.raises(ConfigError, match="time_budget must be a number of seconds or 'HH:MM:SS'"):
        la.fit(build, SPACE, max_trials=1, time_budget="tomorrow", storage=None)
    study = la.fit(
        build,
        SPACE,
        max_trials=None,
        time_budget="00:00:03",
        storage=None,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        sampler=RandomSampler(),
    )
    assert len(study.trials) >= 1
    assert all(t.state.is_finished for t in study.trials)


def test_each_trial_logs_to_its_own_folder_with_its_params(tmp_path):
    study = la.fit(
        build,
        SPACE,
        max_trials=2,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        storage=None,
        sampler=RandomSampler(),
        study_name="logged",
        log_dir=str(tmp_path),
    )
    for trial in study.trials:
        folder = tmp_path / "lightning_logs" / f"logged_trial_{trial.number:04d}"
        hparams = (folder / "hparams.yaml").read_text()
        assert f"lr: {trial.params['lr']}" in hparams
        if (folder / "metrics.csv").exists():  # CSVLogger, when tensorboard is not installed
            header = (folder / "metrics.csv").read_text().splitlines()[0]
            assert "val_loss" in header and "hp_metric" in header
        else:
            assert list(folder.glob("events.out.tfevents.*"))


class _Recorder(pl.Callback):
    def __init__(self, seen):
        self.seen = seen

    def on_train_epoch_start(self, trainer, pl_module):
        self.seen.append((type(trainer.optimizers[0]).__name__, pl_module.net[2].p))


def test_schedule_parameters_in_the_space_become_callbacks():
    seen: list = []

    def build_with_dropout(params):
        model = TinyClassifier(
            n_features=8, n_classes=3, hidden=8, lr=params["lr"], optimizer="adam", dropout=0.5
        )
        return model, DataLoader(DATA[0], batch_size=32), DataLoader(DATA[1], batch_size=64)

    space = {
        "lr": SPACE["lr"],
        "switch_at": {"type": "categorical", "values": [0.5]},
        "switch_to": {"type": "categorical", "values": ["sgd"]},
        "dropout_start": {"type": "categorical", "values": [0.4]},
        "dropout_decay": {"type": "categorical", "values": [0.1]},
    }
    la.fit(
        build_with_dropout,
        space,
        max_trials=1,
        storage=None,
        sampler=RandomSampler(),
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 4},
        callbacks=lambda params: [_Recorder(seen)],
    )
    assert [name for name, _ in seen] == ["Adam", "Adam", "SGD", "SGD"]
    assert [round(p, 6) for _, p in seen] == [0.4, 0.3, 0.2, 0.1]


def test_fit_optimizes_a_composite_metric():
    from lightning_autotune.metrics import SECONDS_PER_EPOCH, CompositeMetric, MetricTerm

    metric = CompositeMetric((MetricTerm("val_loss"), MetricTerm(SECONDS_PER_EPOCH, weight=0.1)))
    study = la.fit(
        build, SPACE, monitor=metric, mode="min", max_trials=2, storage=None,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2}, sampler=RandomSampler(),
    )  # fmt: skip
    for trial in study.trials:
        last = trial.metrics[trial.last_step]
        expected = last["val_loss"] + 0.1 * last[SECONDS_PER_EPOCH]
        assert trial.value == pytest.approx(expected)
    assert study.user_attrs["objective_names"] == ["composite"]


def test_fit_reports_progress_as_plain_lines_off_a_terminal(capsys):
    la.fit(
        build, SPACE, max_trials=2, storage=None, sampler=RandomSampler(), study_name="shown",
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "trial 0" in out and "trial 1" in out
    assert "best" in out


def test_fit_is_keyword_only_after_space():
    with pytest.raises(TypeError, match="positional argument"):
        la.fit(build, SPACE, "val_loss")  # type: ignore[misc]


def test_a_bad_max_trials_is_refused_before_any_study_exists(tmp_path):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    with pytest.raises(ConfigError, match=r"max_trials must be an integer >= 1, got -1"):
        la.fit(build, SPACE, max_trials=-1, storage=url, sampler=RandomSampler())
    assert not (tmp_path / "bad.db").exists()


def test_fit_takes_sampler_and_pruner_names():
    from lightning_autotune.pruners import MedianPruner

    study = la.fit(
        build, SPACE, max_trials=1, trainer_kwargs=TINY_TRAINER_KWARGS, storage=None,
        sampler="random", pruner={"type": "median", "n_startup_trials": 2}, progress=False,
    )  # fmt: skip
    assert isinstance(study.sampler, RandomSampler)
    assert isinstance(study.pruner, MedianPruner) and study.pruner.n_startup_trials == 2


def test_the_first_line_names_the_store_and_the_schedule_names_in_use(tmp_path, capsys):
    space = {**SPACE, "switch_at": {"type": "continuous", "min": 0.4, "max": 0.6}}
    url = f"sqlite:///{tmp_path / 'line.db'}"
    la.fit(build, space, max_trials=1, trainer_kwargs=TINY_TRAINER_KWARGS, storage=url,
           study_name="line", sampler=RandomSampler())  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"lightning_autotune: study 'line' in {url}; schedule parameters ['switch_at'] add "
        "their callbacks to every trial (schedule_params=False turns this off)"
    )


def test_a_fit_trial_prints_no_lightning_banners(capfd, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="lightning.pytorch")  # conftest quiets it
    la.fit(build, SPACE, max_trials=1, trainer_kwargs={"max_epochs": 1, "accelerator": "cpu"},
           storage=None, sampler=RandomSampler(), progress=False)  # fmt: skip
    out, err = capfd.readouterr()
    shown = out + err + caplog.text
    banners = ("GPU available", "TPU available", "Tip:", "`Trainer.fit` stopped", "Seed set")
    assert [b for b in banners if b in shown] == []
