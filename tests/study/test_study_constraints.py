from __future__ import annotations

from lightning_autotune import create_study
from lightning_autotune.constraints import ParameterRule
from lightning_autotune.samplers import BoTorchSampler, MultiObjectiveBoTorchSampler
from lightning_autotune.space import Float, Int, SearchSpace


def _space():
    return SearchSpace(
        {"embedding_dim": Int(8, 64), "hidden_dim": Int(8, 256), "lr": Float(1e-4, 1e-1, log=True)},
        constraints=["hidden_dim >= 4 * embedding_dim"],
        rules=[ParameterRule("hidden_dim > 128", "scale lr by 0.5")],
    )


def test_a_constrained_space_gets_the_constraint_aware_sampler_by_default():
    assert isinstance(create_study(space=_space()).sampler, MultiObjectiveBoTorchSampler)
    plain = SearchSpace({"x": Float(0, 1)})
    assert isinstance(create_study(space=plain).sampler, BoTorchSampler)


def test_every_proposal_is_feasible_even_from_a_sampler_that_ignores_constraints():
    study = create_study(space=_space(), sampler=BoTorchSampler(n_initial_points=4), seed=0)
    for _ in range(8):
        trial = study.ask()
        p = trial.params
        assert p["hidden_dim"] >= 4 * p["embedding_dim"]
        study.tell(trial, (p["hidden_dim"] - 100) ** 2 / 1e4 + p["lr"])


def test_the_default_samplers_scramble_their_sobol_design_with_the_study_seed():
    plain = SearchSpace({"x": Float(0, 1)})
    assert create_study(space=plain, seed=7).sampler.seed == 7
    assert create_study(space=plain).sampler.seed is None  # scrambles with 0
    assert create_study(space=_space(), seed=7).sampler.seed == 7


def test_the_default_initial_design_is_one_space_filling_sequence():
    # Four points of one scrambled Sobol sequence in 1-D fall one in each quarter; four points
    # each from its own scramble (the old default) do so with probability 4!/4**4, under 10%.
    for seed in range(5):
        study = create_study(space=SearchSpace({"x": Float(0, 1)}), seed=seed)
        xs = []
        for _ in range(4):
            trial = study.ask()
            xs.append(trial.params["x"])
            study.tell(trial, trial.params["x"])
        assert sorted(int(x * 4) for x in xs) == [0, 1, 2, 3], (seed, xs)
