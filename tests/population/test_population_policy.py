"""PBT / PB2 settings, the lineage record, the exploit decision and the in-place setters."""

from __future__ import annotations

import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from lightning_autotune import HyperTuner, fit
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.population import (
    PB2,
    BoundaryResult,
    CopyReason,
    Lineage,
    PopulationBasedTraining,
    Segment,
    apply_params,
    population_for,
)
from lightning_autotune.population._callback import PopulationMember
from lightning_autotune.population._pb2_data import improvement_data
from lightning_autotune.population._policy import decide
from lightning_autotune.samplers._pb2 import pb2_suggest
from lightning_autotune.space import SearchSpace
from lightning_autotune.testing import TinyClassifier

SPACE = SearchSpace.from_dict(
    {
        "lr": {"type": "continuous", "min": 1e-3, "max": 0.5, "scale": "log"},
        "hidden": {"type": "integer", "min": 4, "max": 16},
    }
)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population_size": 1}, r"PopulationBasedTraining.population_size.*>= 2.*got 1"),
        ({"interval": 0}, r"PopulationBasedTraining.interval.*got 0"),
        ({"quantile": 0.7}, r"PopulationBasedTraining.quantile.*0.7"),
        ({"quantile": 0.0}, r"PopulationBasedTraining.quantile.*0.0"),
        ({"perturbation": ()}, r"perturbation must be a non-empty list of factors > 0, got \(\)"),
        ({"perturbation": (0.8, -1.0)}, r"perturbation must be .* got \(0.8, -1.0\)"),
        ({"resample_prob": 1.5}, r"PopulationBasedTraining.resample_prob.*1.5"),
        ({"seed": -1}, r"PopulationBasedTraining.seed.*-1"),
    ],
)
def test_bad_settings_are_refused_with_the_field_and_value(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PopulationBasedTraining(**kwargs)


def test_pb2_checks_its_own_settings() -> None:
    with pytest.raises(ConfigError, match=r"PB2.beta.*0"):
        PB2(beta=0.0)
    with pytest.raises(ConfigError, match=r"PB2.population_size.*got 1"):
        PB2(population_size=1)


def test_a_space_with_nothing_to_change_in_run_is_refused() -> None:
    space = SearchSpace.from_dict({"hidden": {"type": "integer", "min": 4, "max": 16}})
    with pytest.raises(ConfigError, match=r"no parameter a population can change.*\['hidden'\]"):
        PopulationBasedTraining().mutable_names(space)


def test_fit_and_hypertuner_refuse_a_population_of_the_wrong_type() -> None:
    with pytest.raises(ConfigError, match=r"population must be a PopulationBasedTraining or PB2"):
        fit(lambda p: None, SPACE, storage=None, population="pbt")  # type: ignore[arg-type]
    tuner = HyperTuner(torch.nn.Linear, torch.nn.MSELoss(), metric="loss")
    with pytest.raises(ConfigError, match=r"population= is for method='population'.*'random'"):
        tuner.set_search_strategy("random", population=PopulationBasedTraining())


def test_hypertuner_population_methods_pick_pbt_or_pb2() -> None:
    tuner = HyperTuner(torch.nn.Linear, torch.nn.MSELoss(), metric="loss")
    assert type(tuner.set_search_strategy("population").population) is PopulationBasedTraining
    assert type(tuner.set_search_strategy("pb2", seed=1).population) is PB2
    assert tuner.set_search_strategy("bayesian").population is None
    assert population_for("pbt", PB2(), None) == (PB2(), "random")


def test_lineage_round_trips_through_json_with_nan() -> None:
    lineage = Lineage(
        3,
        (Segment(0, {"lr": 0.1}), Segment(2, {"lr": 0.2}, parent=1, reason=CopyReason.DIVERGED)),
        (BoundaryResult(1, math.nan, None), BoundaryResult(2, 0.5, "/x.pt")),
        ((2, 1, CopyReason.DIVERGED),),
    )
    encoded = lineage.encode()
    assert encoded["results"][0]["value"] is None
    back = Lineage.decode(encoded)
    assert back.segments == lineage.segments and back.copies == lineage.copies
    assert math.isnan(back.results[0].value) and back.results[1] == lineage.results[1]


def _member(m: int, value: float, path: Path | None, hidden: int = 8) -> Lineage:
    params = {"lr": 0.1, "hidden": hidden}
    return Lineage(
        m, (Segment(0, params),), (BoundaryResult(1, value, str(path) if path else None),)
    )


def test_decide_copies_the_top_member_only_from_the_bottom(tmp_path: Path) -> None:
    for m in range(4):
        (tmp_path / f"{m}.pt").write_bytes(b"x")
    pop = {m: _member(m, float(m), tmp_path / f"{m}.pt") for m in range(4)}
    config = PopulationBasedTraining(perturbation=(2.0,), resample_prob=0.0)
    rng = np.random.default_rng(0)
    choice = decide(config, SPACE, pop[3], pop, 1, rng)
    assert choice is not None and choice.parent == 0
    assert choice.reason is CopyReason.UNDERPERFORMING
    assert choice.params == {"lr": 0.2, "hidden": 8}  # fixed params are never explored
    assert decide(config, SPACE, pop[1], pop, 1, rng) is None


def test_decide_replaces_a_nan_member_and_skips_donors_without_a_save(tmp_path: Path) -> None:
    (tmp_path / "1.pt").write_bytes(b"x")
    pop = {
        0: _member(0, 0.0, None),
        1: _member(1, 0.5, tmp_path / "1.pt"),
        2: _member(2, math.nan, None),
    }
    choice = decide(PopulationBasedTraining(), SPACE, pop[2], pop, 1, np.random.default_rng(0))
    assert choice is not None and choice.parent == 1 and choice.reason is CopyReason.DIVERGED


def test_decide_never_copies_a_member_with_other_fixed_params(tmp_path: Path) -> None:
    (tmp_path / "0.pt").write_bytes(b"x")
    pop = {0: _member(0, 0.0, tmp_path / "0.pt", hidden=4), 1: _member(1, 1.0, None)}
    assert (
        decide(PopulationBasedTraining(), SPACE, pop[1], pop, 1, np.random.default_rng(0)) is None
    )


def test_apply_params_sets_every_knob_of_a_running_trainer() -> None:
    module = TinyClassifier(n_features=4, hidden=4, optimizer="sgd", momentum=0.5, dropout=0.1)
    trainer = pl.Trainer(logger=False)
    trainer.strategy.optimizers = [torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.5)]
    apply_params(
        trainer, module, {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "dropout": 0.3,
                          "gradient_clip_val": 2.0},
    )  # fmt: skip
    group = trainer.optimizers[0].param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 1e-4)
    assert module.net[2].p == 0.3 and trainer.gradient_clip_val == 2.0
    trainer.strategy.optimizers = [torch.optim.Adam(module.parameters(), lr=0.1)]
    apply_params(trainer, module, {"learning_rate": 0.02, "momentum": 0.8})
    assert trainer.optimizers[0].param_groups[0]["betas"][0] == 0.8
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.02


def test_a_member_outside_an_autotune_trainer_says_how_to_run_it(tmp_path: Path) -> None:
    member = PopulationMember(PopulationBasedTraining(), tmp_path)
    trainer = pl.Trainer(logger=False, max_epochs=1, callbacks=[member])
    with pytest.raises(ConfigError, match=r"needs the trial's AutoTuneCallback"):
        trainer.fit(TinyClassifier(n_features=4), [])


def test_member_state_survives_a_checkpoint_round_trip(tmp_path: Path) -> None:
    member = PopulationMember(PopulationBasedTraining(), tmp_path)
    member.lineage = _member(2, 0.3, None)
    other = PopulationMember(PopulationBasedTraining(), tmp_path)
    other.load_state_dict(member.state_dict())
    assert other.lineage == member.lineage


def test_pb2_suggests_where_the_improvement_is_highest() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((30, 1))
    t = rng.integers(1, 4, (30, 1)).astype(float)
    y = -((x[:, 0] - 0.8) ** 2)  # the best hyperparameter is 0.8 at every time
    best = pb2_suggest(np.hstack([t, x]), y, t_now=4.0, seed=0)
    assert best is not None and abs(float(best[0]) - 0.8) < 0.15
    assert pb2_suggest(np.zeros((1, 2)), np.zeros(1), t_now=1.0) is None


def test_pb2_learns_improvement_per_interval_and_falls_back_without_data() -> None:
    space = SearchSpace.from_dict({"lr": {"type": "continuous", "min": 0.0, "max": 1.0}})
    pop = {
        m: Lineage(
            m,
            (Segment(0, {"lr": 0.1 * (m + 1)}),),
            tuple(BoundaryResult(k, 1.0 - 0.1 * k * (m + 1)) for k in (1, 2, 3)),
        )
        for m in range(3)
    }
    X, y = improvement_data(space, ("lr",), pop, interval=1)
    assert X.shape == (6, 2) and np.allclose(sorted(set(np.round(y, 6))), [0.1, 0.2, 0.3])
    params = PB2(seed=0).explore(space, {"lr": 0.3}, pop, 3, np.random.default_rng(0))
    assert 0.0 <= params["lr"] <= 1.0
    fallback = PB2(perturbation=(2.0,), resample_prob=0.0).explore(
        space, {"lr": 0.3}, {}, 1, np.random.default_rng(0)
    )
    assert fallback == {"lr": 0.6}
