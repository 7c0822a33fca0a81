from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lightning_autotune import TrialState, load_study
from lightning_autotune.cli import AutoTuneCLI
from lightning_autotune.exceptions import ConfigError

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from train_script import Model, RandomData  # noqa: E402

BASE = {
    "trainer": {
        "max_epochs": 2, "accelerator": "cpu", "logger": False, "enable_checkpointing": False,
        "enable_progress_bar": False, "enable_model_summary": False,
    },
    "model": {"lr": 0.01, "hidden": 16},
    "data": {"batch_size": 32},
}  # fmt: skip


ROOT = HERE.parents[1]


@pytest.fixture
def cli_extra():
    """Skip where the `[cli]` extra (jsonargparse, which LightningCLI needs) is missing."""
    pytest.importorskip("jsonargparse", reason="the [cli] extra is not installed")


def _write(tmp_path, autotune, base=BASE):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**base, "autotune": autotune}))
    return path


def _autotune(tmp_path, **extra):
    return {
        "space": {
            "model.lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
            "data.batch_size": {"type": "discrete", "values": [16, 32]},
        },
        "max_trials": 3, "sampler": "random", "seed": 0, "monitor": "val_loss",
        "storage": f"sqlite:///{tmp_path / 'sweep.db'}", "study_name": "sweep",
        **extra,
    }  # fmt: skip


def test_three_trial_sweep_writes_a_best_config_that_trains(tmp_path, cli_extra):
    # The README's round trip: the script has AutoTuneCLI(Model, RandomData) in place of
    # LightningCLI; `--config sweep.yaml` sweeps, then `fit --config best.yaml` trains.
    config = _write(tmp_path, _autotune(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    swept = subprocess.run(
        [sys.executable, str(HERE / "train_script.py"), "--config", str(config)],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr[-2000:]
    study = load_study("sweep", f"sqlite:///{tmp_path / 'sweep.db'}")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert "autotune" not in best
    assert best["model"]["lr"] == study.best_params["model.lr"]
    assert best["data"]["batch_size"] == study.best_params["data.batch_size"]
    # The written file is a plain LightningCLI config: `fit --config best.yaml` accepts it.
    done = subprocess.run(
        [sys.executable, str(HERE / "train_script.py"), "fit", "--config", "best.yaml"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_unknown_space_key_is_refused_before_any_trial(tmp_path, cli_extra):
    autotune = _autotune(tmp_path)
    autotune["space"]["model.learning_rate"] = autotune["space"].pop("model.lr")
    with pytest.raises(ConfigError, match=r"key 'model.learning_rate' is not in the LightningCLI"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune))])
    assert (
        not (tmp_path / "sweep.db").exists()
        or not load_study("sweep", f"sqlite:///{tmp_path / 'sweep.db'}").trials
    )


def test_wrong_type_is_refused_with_the_key(tmp_path, cli_extra):
    autotune = _autotune(tmp_path)
    autotune["space"]["model.hidden"] = {"type": "categorical", "values": ["wide", "narrow"]}
    with pytest.raises(ConfigError, match=r"LightningCLI rejects model\.hidden='(wide|narrow)'"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune))])


def test_bad_sweep_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['trials'\]"):
        AutoTuneCLI(
            Model, RandomData, args=["--config", str(_write(tmp_path, {"space": {}, "trials": 3}))]
        )
    with pytest.raises(ConfigError, match="sampler: method must be one of"):
        AutoTuneCLI(
            Model, RandomData,
            args=["--config", str(_write(tmp_path, _autotune(tmp_path, sampler="grid")))],
        )  # fmt: skip
    with pytest.raises(ConfigError, match="does not exist"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(tmp_path / "missing.yaml")])


def test_each_trial_logs_in_its_own_folder(tmp_path, cli_extra):
    base = {
        **BASE,
        "trainer": {
            **BASE["trainer"],
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                       "init_args": {"save_dir": str(tmp_path / "logs")}},
        },
    }  # fmt: skip
    autotune = _autotune(tmp_path, max_trials=2, storage="sqlite:///" + str(tmp_path / "l.db"))
    cli = AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune, base))])
    for trial in cli.study.trials:
        folder = tmp_path / "logs" / "sweep" / f"trial_{trial.number}"
        assert f"model.lr: {trial.params['model.lr']}" in (folder / "hparams.yaml").read_text()


def test_the_sweep_seed_scrambles_the_samplers_sobol_sequence():
    from lightning_autotune.cli._sweep import SweepConfig
    from lightning_autotune.study import create_study

    def study_sampler(section):
        sweep = SweepConfig.from_dict(section)
        # as run_sweep builds it: the sweep's seed reaches the sampler through the study
        return create_study(None, sweep.space, None, sampler=sweep.make_sampler(), seed=sweep.seed)

    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    assert study_sampler({"space": space, "seed": 5}).sampler.seed == 5
    assert study_sampler({"space": space, "seed": 5, "sampler": "sobol"}).sampler.seed == 5
    # a seed in the sampler section wins over the sweep's
    own = {"space": space, "seed": 5, "sampler": {"method": "bayesian", "seed": 2}}
    assert study_sampler(own).sampler.seed == 2


def test_the_sweep_reaches_every_pruner_of_the_registry():
    from lightning_autotune.cli._sweep import SweepConfig
    from lightning_autotune.pruners import AnyPruner, HyperbandPruner

    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    section = {"space": space, "pruner": {"type": "hyperband", "min_resource": 2}}
    assert isinstance(SweepConfig.from_dict(section).make_pruner(), HyperbandPruner)
    section = {"space": space, "pruner": {"type": "any", "pruners": ["divergence", "median"]}}
    assert isinstance(SweepConfig.from_dict(section).make_pruner(), AnyPruner)
    with pytest.raises(ConfigError, match=r"pruner: type must be one of \['adaptive_threshold'"):
        SweepConfig.from_dict({"space": space, "pruner": "asha"})
    with pytest.raises(ConfigError, match=r"'median' \(MedianPruner\) does not take"):
        SweepConfig.from_dict({"space": space, "pruner": {"type": "median", "patience": 2}})


def test_old_key_spellings_warn_and_bad_budgets_are_refused(tmp_path):
    from lightning_autotune.cli._sweep import SweepConfig

    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    with pytest.warns(DeprecationWarning, match="autotune.n_trials is deprecated"):
        assert SweepConfig.from_dict({"space": space, "n_trials": 4}).max_trials == 4
    with pytest.warns(DeprecationWarning, match="autotune.timeout is deprecated"):
        assert SweepConfig.from_dict({"space": space, "timeout": 60}).time_budget == 60
    with pytest.raises(ConfigError, match=r"autotune.max_trials must be an integer >= 1, got -1"):
        AutoTuneCLI(
            Model, RandomData,
            args=["--config", str(_write(tmp_path, _autotune(tmp_path, max_trials=-1)))],
        )  # fmt: skip
    assert not (tmp_path / "sweep.db").exists()


@pytest.mark.parametrize("keep", [False, True])
def test_checkpoints_live_in_autotune_runs_and_go_unless_kept(
    tmp_path, monkeypatch, cli_extra, keep
):
    monkeypatch.chdir(tmp_path)
    base = {**BASE, "trainer": {**BASE["trainer"], "enable_checkpointing": True}}
    autotune = _autotune(tmp_path, max_trials=1, keep_checkpoints=keep)
    AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune, base))])
    run = tmp_path / "autotune_runs" / "sweep" / "trial_0"
    assert run.is_dir()
    assert bool(list(run.rglob("*.ckpt"))) is keep
    assert not (tmp_path / "sweep" / "trial_0").exists()


def test_the_command_imports_class_paths_next_to_the_config_with_the_readme_keys(
    tmp_path, cli_extra
):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "train.py").write_text((HERE / "train_script.py").read_text())
    base = {
        **BASE,
        "model": {"class_path": "train.Model", "init_args": {"lr": 0.01, "hidden": 16}},
        "data": {"class_path": "train.RandomData", "init_args": {"batch_size": 32}},
    }
    autotune = _autotune(tmp_path, max_trials=2)
    autotune["space"]["model.init_args.hidden"] = {"type": "integer", "min": 8, "max": 16}
    config = _write(project, autotune, base)
    done = subprocess.run(
        [sys.executable, "-m", "lightning_autotune.cli", "sweep", "--config", str(config)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=elsewhere, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # Lightning's banners stay out of the sweep's output, its checks included.
    banners = ("GPU available", "TPU available", "Tip:", "Seed set to", "No seed found")
    assert [b for b in banners if b in done.stdout + done.stderr] == []
    study = load_study("sweep", f"sqlite:///{tmp_path / 'sweep.db'}")
    best = study.best_trial
    assert f"best trial {best.number}: value {best.value} params" in done.stdout
    written = yaml.safe_load((project / "best.yaml").read_text())
    assert written["model"]["init_args"]["lr"] == study.best_params["model.lr"]
    assert written["data"]["init_args"]["batch_size"] == study.best_params["data.batch_size"]
    assert written["model"]["init_args"]["hidden"] == study.best_params["model.init_args.hidden"]


def test_schedule_names_in_the_space_become_callbacks_not_cli_keys(
    tmp_path, monkeypatch, cli_extra
):
    monkeypatch.chdir(tmp_path)
    autotune = _autotune(tmp_path, max_trials=2)
    autotune["space"]["switch_at"] = {"type": "continuous", "min": 0.3, "max": 0.6}
    cli = AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune))])
    assert [t.state for t in cli.study.trials] == [TrialState.COMPLETE] * 2
    assert all(0.3 <= t.params["switch_at"] <= 0.6 for t in cli.study.trials)
    assert "switch_at" not in (tmp_path / "best.yaml").read_text()
    autotune = {**autotune, "schedule_params": False, "study_name": "plain"}
    with pytest.raises(ConfigError, match="key 'switch_at' is not in the LightningCLI config"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune))])
