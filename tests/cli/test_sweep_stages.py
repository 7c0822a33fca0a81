"""The `stages:` section of a sweep YAML: the same `Stage`s as `fit(stages=...)`."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import yaml

from lightning_autotune import TrialState, load_study
from lightning_autotune.cli import AutoTuneCLI
from lightning_autotune.cli._sweep_config import SweepConfig
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.stages import Narrowing, Stage

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
SPACE = {
    "model.lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "data.batch_size": {"type": "discrete", "values": [16, 32]},
}
PLAN = [
    {"trials": 3, "data_fraction": 0.5, "max_epochs": 1, "narrow": {"top_k": 2, "margin": 0.1}},
    {"trials": 2, "promote": 1},
]


def _section(tmp_path, **extra):
    return {
        "space": SPACE, "sampler": "random", "seed": 0, "monitor": "val_loss",
        "storage": f"sqlite:///{tmp_path / 'sweep.db'}", "study_name": "sweep", **extra,
    }  # fmt: skip


def _write(tmp_path, autotune, base=BASE):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**base, "autotune": autotune}))
    return path


def test_stages_parse_into_the_same_stage_objects_as_fit():
    sweep = SweepConfig.from_dict({"space": SPACE, "stages": [*PLAN, {"screen": True}]})
    assert sweep.stages == (
        Stage(trials=3, data_fraction=0.5, max_epochs=1, narrow=Narrowing(top_k=2, margin=0.1)),
        Stage(trials=2, promote=1),
        Stage(screen=True),
    )
    plain = SweepConfig.from_dict({"space": SPACE, "stages": [{"trials": 2, "narrow": None}]})
    assert plain.stages == (Stage(trials=2, narrow=None),)


@pytest.mark.parametrize(
    ("stages", "match"),
    [
        ([], r"autotune.stages must be a non-empty list of stages, got \[\]"),
        ({"trials": 2}, "autotune.stages must be a non-empty list"),
        ([3], r"autotune.stages\[1\] must be a mapping of \['trials'"),
        (
            [{"trials": 2, "fraction": 0.5}],
            r"autotune.stages\[1\]: unknown key\(s\) \['fraction'\]",
        ),
        ([{"trials": 2}, {"trials": 2, "narrow": {"top": 3}}], r"stages\[2\].narrow must be null"),
        ([{"trials": 2, "narrow": {"margin": 3}}], r"stages\[1\].narrow: Narrowing: margin must"),
        ([{"trials": 2, "params": [1]}], r"autotune.stages\[1\].params must map parameters"),
    ],
)
def test_bad_stages_sections_name_the_stage_and_the_key(stages, match):
    with pytest.raises(ConfigError, match=match):
        SweepConfig.from_dict({"space": SPACE, "stages": stages})


def test_stages_and_population_are_refused_together():
    with pytest.raises(ConfigError, match="give stages or population, not both"):
        SweepConfig.from_dict({"space": SPACE, "stages": PLAN, "population": "pbt"})


def test_a_plan_the_config_cannot_run_is_refused_before_any_trial(tmp_path):
    pytest.importorskip("jsonargparse", reason="the [cli] extra is not installed")
    bad = [{"trials": 2, "data_fraction": 0.0}, {"trials": 1}]
    with pytest.raises(ConfigError, match=r"autotune.stages: stage 1: data_fraction must be a"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, _section(
            tmp_path, stages=bad)))])  # fmt: skip
    epochs = [{"trials": 2, "max_epochs": 5}, {"trials": 1}]
    with pytest.raises(ConfigError, match=r"stage 1: max_epochs=5 is above the final stage's 2"):
        AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, _section(
            tmp_path, stages=epochs)))])  # fmt: skip
    assert not load_study_names(tmp_path)


def load_study_names(tmp_path):
    if not (tmp_path / "sweep.db").exists():
        return []
    from lightning_autotune.storage import get_storage

    return [s.name for s in get_storage(f"sqlite:///{tmp_path / 'sweep.db'}").list_studies()]


def test_a_two_stage_sweep_runs_each_stage_at_its_fidelity(tmp_path, monkeypatch, capsys):
    pytest.importorskip("jsonargparse", reason="the [cli] extra is not installed")
    monkeypatch.chdir(tmp_path)
    AutoTuneCLI(Model, RandomData, args=["--config", str(_write(tmp_path, _section(
        tmp_path, stages=PLAN)))])  # fmt: skip
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    first, second = load_study("sweep.stage1", url), load_study("sweep.stage2", url)
    assert [t.state for t in first.trials] == [TrialState.COMPLETE] * 3
    assert [t.state for t in second.trials] == [TrialState.COMPLETE] * 2
    # the first stage trained 1 epoch on half of the 96 training examples: one report after
    # about half an epoch's steps; the second 2 epochs on all of them
    for t in first.trials:
        steps, batch = sorted(t.intermediate), t.params["data.batch_size"]
        assert len(steps) == 1 and steps[0] <= math.ceil(50 / batch), steps
    for t in second.trials:
        epoch = math.ceil(96 / t.params["data.batch_size"])
        assert sorted(t.intermediate) == [epoch, 2 * epoch]
    assert first.user_attrs["stage_fidelity"]["data_fraction"] == 0.5
    # the second stage's lr range is the box around the first stage's best two
    best_two = sorted(first.trials, key=lambda t: t.values[0])[:2]
    lrs = [t.params["model.lr"] for t in best_two]
    lr = second.space["model.lr"]
    assert lr.low <= min(lrs) and max(lrs) <= lr.high and (lr.low, lr.high) != (1e-3, 1e-1)
    assert second.trials[0].params["model.lr"] == best_two[0].params["model.lr"]  # promoted
    # best.yaml is the final stage's best
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["model"]["lr"] == second.best_params["model.lr"]
    assert "stage 2/2 'sweep.stage2'" in capsys.readouterr().out
