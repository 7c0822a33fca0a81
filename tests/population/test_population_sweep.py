"""The population from a sweep YAML: `autotune.population`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lightning_autotune import TrialState, load_study
from lightning_autotune.cli._sweep_config import SweepConfig
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population import PB2, Lineage, PopulationBasedTraining

CLI = Path(__file__).parents[1] / "cli"
SPACE = {"model.lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}}


def test_the_section_builds_pbt_or_pb2_and_draws_the_first_members_at_random() -> None:
    config = SweepConfig.from_dict(
        {"space": SPACE, "population": {"method": "pb2", "population_size": 2, "interval": 1}}
    )
    assert config.population == PB2(population_size=2, interval=1)
    assert config.sampler["method"] == "random"
    assert SweepConfig.from_dict({"space": SPACE, "population": "pbt"}).population == (
        PopulationBasedTraining()
    )
    assert SweepConfig.from_dict({"space": SPACE}).population is None


@pytest.mark.parametrize(
    ("population", "match"),
    [
        ({"method": "cma"}, r"autotune.population.method must be 'pbt' or 'pb2', got 'cma'"),
        ({"size": 4}, r"autotune.population: unknown key\(s\) \['size'\]; allowed keys are"),
        ({"population_size": 1}, r"PopulationBasedTraining.population_size.*got 1"),
    ],
)
def test_a_bad_population_section_is_refused(population: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SweepConfig.from_dict({"space": SPACE, "population": population})


@pytest.mark.slow
def test_a_sweep_trains_a_population_over_dotted_names(tmp_path: Path) -> None:
    pytest.importorskip("jsonargparse", reason="the [cli] extra is not installed")
    base = {
        "trainer": {
            "max_epochs": 2, "accelerator": "cpu", "logger": False, "enable_checkpointing": False,
            "enable_progress_bar": False, "enable_model_summary": False,
        },
        "model": {"lr": 0.01, "hidden": 16},
        "data": {"batch_size": 32},
    }  # fmt: skip
    autotune = {
        "space": SPACE, "seed": 0, "storage": f"sqlite:///{tmp_path / 'sweep.db'}",
        "study_name": "sweep", "population": {"method": "pbt", "population_size": 2},
    }  # fmt: skip
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**base, "autotune": autotune}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CLI.parents[1]), str(CLI)])}
    swept = subprocess.run(
        [sys.executable, str(CLI / "train_script.py"), "--config", str(config)],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr[-2000:]
    study = load_study("sweep", f"sqlite:///{tmp_path / 'sweep.db'}")
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(done) == 2
    for trial in done:
        lineage = Lineage.decode(trial.user_attrs["population"])
        assert [r.boundary for r in lineage.results] == [1, 2]
        assert set(lineage.params) == {"model.lr"}
