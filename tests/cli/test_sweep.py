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


def test_three_trial_sweep_writes_a_best_config_that_trains(tmp_path):
    config = _write(tmp_path, _autotune(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), str(HERE)])}
    subprocess.run(
        [sys.executable, str(HERE / "train_script.py"), "sweep", "--config", str(config)],
        check=True, env=env, cwd=tmp_path, capture_output=True,
    )  # fmt: skip
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


def test_unknown_space_key_is_refused_before_any_trial(tmp_path):
    autotune = _autotune(tmp_path)
    autotune["space"]["model.learning_rate"] = autotune["space"].pop("model.lr")
    with pytest.raises(ConfigError, match=r"key 'model.learning_rate' is not in the LightningCLI"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, autotune))])
    assert (
        not (tmp_path / "sweep.db").exists()
        or not load_study("sweep", f"sqlite:///{tmp_path / 'sweep.db'}").trials
    )


def test_wrong_type_is_refused_with_the_key(tmp_path):
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


def test_each_trial_logs_in_its_own_folder(tmp_path):
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

    space = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    assert SweepConfig.from_dict({"space": space, "seed": 5}).make_sampler().seed == 5
    sobol = SweepConfig.from_dict({"space": space, "seed": 5, "sampler": "sobol"})
    assert sobol.make_sampler().seed == 5
    # a seed in the sampler section wins over the sweep's
    own = {"space": space, "seed": 5, "sampler": {"method": "bayesian", "seed": 2}}
    assert SweepConfig.from_dict(own).make_sampler().seed == 2
