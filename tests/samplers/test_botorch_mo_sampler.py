from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("botorch")

from lightning_autotune.exceptions import ConfigError, ConstraintError  # noqa: E402
from lightning_autotune.samplers import (  # noqa: E402
    MultiObjectiveBoTorchSampler,
    SamplerWarning,
    _mo_acquisition,
)
from lightning_autotune.space import Categorical, Float, Int, SearchSpace  # noqa: E402
from lightning_autotune.trial import Direction, TrialRecord, TrialState  # noqa: E402

MIN2 = (Direction.MINIMIZE, Direction.MINIMIZE)


def _space() -> SearchSpace:
    return SearchSpace(
        {"x0": Float(0, 1), "x1": Float(0, 1), "k": Int(1, 4), "c": Categorical(["a", "b"])},
        constraints=["x0 + x1 <= 1.2", "x0 * k <= 2"],
    )


def _objectives(c: dict) -> tuple[float, float]:
    bonus = 0.1 if c["c"] == "a" else 0.0
    return (c["x0"] ** 2 + 0.1 * c["k"] + bonus, (1 - c["x0"]) ** 2 + c["x1"] ** 2)


def _history(space: SearchSpace, n: int, latency: bool = False) -> list[TrialRecord]:
    out = []
    for i, c in enumerate(space.sample(n, seed=1)):
        metrics = {0: {"latency_ms": 10 + 20 * c["x1"]}} if latency else {}
        out.append(
            TrialRecord(i, i, TrialState.COMPLETE, c, values=_objectives(c), metrics=metrics)
        )
    return out


def _fast(**kw: object) -> MultiObjectiveBoTorchSampler:
    return MultiObjectiveBoTorchSampler(
        n_initial_points=6,
        raw_samples=64,
        num_restarts=2,
        **kw,  # type: ignore[arg-type]
    )


def test_startup_uses_feasible_sobol() -> None:
    space = _space()
    configs = _fast().suggest(space, _history(space, 2), directions=MIN2, n=3, seed=0)
    assert configs == space.sample_sobol(3, seed=0, start=2)


def test_nehvi_step_with_pending_is_feasible_and_distinct() -> None:
    space = _space()
    history = _history(space, 8)
    pending = [TrialRecord(99, 8, TrialState.RUNNING, space.sample(1, seed=5)[0])]
    configs = _fast().suggest(space, history, directions=MIN2, pending=pending, n=2, seed=0)
    assert len(configs) == 2
    keys = {str(sorted(c.items())) for c in configs}
    assert len(keys) == 2
    assert all(space.validate(c) == c for c in configs)
    assert all(str(sorted(dict(t.params).items())) not in keys for t in [*history, *pending])


def test_outcome_constraint_single_objective() -> None:
    space = _space()
    history = _single_objective_with_latency(space, 8)
    sampler = _fast(outcome_constraints=["latency_ms <= 20"])
    (config,) = sampler.suggest(space, history, directions=(Direction.MINIMIZE,), seed=0)
    assert space.is_feasible(config)


def test_outcome_constraint_two_objectives_and_reference_point() -> None:
    space = _space()
    sampler = _fast(outcome_constraints=["latency_ms <= 20"], reference_point=[2.0, 2.0])
    (config,) = sampler.suggest(space, _history(space, 8, latency=True), directions=MIN2, seed=1)
    assert space.validate(config) == config


def test_model_failure_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(X: object, Y: object) -> None:
        raise RuntimeError("not positive definite")

    monkeypatch.setattr(_mo_acquisition, "fit_model", boom)
    space = _space()
    with pytest.warns(SamplerWarning, match="not positive definite"):
        configs = _fast().suggest(space, _history(space, 8), directions=MIN2, seed=0)
    assert configs == space.sample_sobol(1, seed=0, start=8)


def test_cube_inequalities_match_the_constraint() -> None:
    space = SearchSpace(
        {"a": Float(1, 3), "b": Float(0, 10), "n": Int(1, 5), "lr": Float(1e-4, 1, log=True)},
        constraints=["a + 0.5 * b <= 4", "n >= a", "lr < 0.1", "a * b >= 1"],
    )
    (ineq,) = _mo_acquisition.cube_inequalities(space)  # only the first is over linear Floats
    indices, coefs, rhs = ineq
    rng = np.random.default_rng(0)
    for u in rng.random((50, space.dim)):
        config = space.decode(u[None, :])[0]
        lhs = float((coefs * torch.tensor(u)[indices]).sum())
        holds = config["a"] + 0.5 * config["b"] <= 4
        assert (lhs >= rhs - 1e-9) == holds or math.isclose(lhs, rhs, abs_tol=1e-9)


def test_arguments_checked() -> None:
    with pytest.raises(ConstraintError, match="must be a list"):
        MultiObjectiveBoTorchSampler(outcome_constraints="val_loss <= 1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="raw_samples must be an integer >= 1"):
        MultiObjectiveBoTorchSampler(raw_samples=0)
    space = _space()
    with pytest.raises(ConfigError, match="reference_point has 1 values"):
        _fast(reference_point=[1.0]).suggest(space, [], directions=MIN2)


def _single_objective_with_latency(space: SearchSpace, n: int) -> list[TrialRecord]:
    return [
        TrialRecord(t.trial_id, t.number, t.state, t.params, (t.values[0],), metrics=t.metrics)
        for t in _history(space, n, latency=True)
    ]


def test_one_constrained_objective_uses_analytic_log_constrained_ei() -> None:
    from botorch.acquisition.analytic import LogConstrainedExpectedImprovement
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement

    from lightning_autotune.constraints import OutcomeConstraint

    X = torch.rand(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = -(X**2).sum(-1, keepdim=True)
    latency = 10 + 20 * X[:, 1:]
    model = _mo_acquisition.fit_model(X, torch.cat([y, latency], -1))
    kwargs = dict(
        outcome_constraints=[OutcomeConstraint("latency_ms <= 20")],
        ref_point=None,
        seed=0,
        Y_constraints=latency,
    )
    single = _mo_acquisition.build_acquisition(model, X, y, X_pending=None, single=True, **kwargs)
    assert isinstance(single, LogConstrainedExpectedImprovement)
    # the incumbent is the best value among the feasible observations only
    feasible = (latency[:, 0] <= 20).numpy()
    assert float(single.best_f) == pytest.approx(float(y[feasible].max()))
    # where the model is sure the constraint fails, the acquisition is far lower
    inside, outside = torch.tensor([[[0.1, 0.2]]]), torch.tensor([[[0.1, 0.95]]])
    with torch.no_grad():
        assert float(single(outside.double())) < float(single(inside.double())) - 2.0
    # a batch, or points pending, keep the Monte-Carlo qLogNEI
    batch = _mo_acquisition.build_acquisition(model, X, y, X_pending=None, single=False, **kwargs)
    pending = _mo_acquisition.build_acquisition(model, X, y, X_pending=X[:1], single=True, **kwargs)
    assert isinstance(batch, qLogNoisyExpectedImprovement)
    assert isinstance(pending, qLogNoisyExpectedImprovement)


def test_one_unconstrained_objective_uses_analytic_log_ei_over_the_best_mean() -> None:
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement

    from lightning_autotune.samplers._acquisition import DirectLogEI

    X = torch.rand(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = -((X - 0.3) ** 2).sum(-1, keepdim=True)
    model = _mo_acquisition.fit_model(X, y)
    kwargs = dict(outcome_constraints=[], ref_point=None, seed=0, Y_constraints=y[:, :0])
    single = _mo_acquisition.build_acquisition(model, X, y, X_pending=None, single=True, **kwargs)
    assert isinstance(single, DirectLogEI)
    # BoTorch's analytic LogEI with the best posterior mean as incumbent ranks points alike:
    # the two differ by a constant (the log of the outcome scale)
    with torch.no_grad():
        best = float(model.posterior(X).mean.max())
        reference = LogExpectedImprovement(model, best)
        Xc = torch.rand(64, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        gap = single(Xc) - reference(Xc)
    assert float(gap.max() - gap.min()) < 1e-4
    # a batch, or points pending, keep the Monte-Carlo qLogNEI
    batch = _mo_acquisition.build_acquisition(model, X, y, X_pending=None, single=False, **kwargs)
    pending = _mo_acquisition.build_acquisition(model, X, y, X_pending=X[:1], single=True, **kwargs)
    assert isinstance(batch, qLogNoisyExpectedImprovement)
    assert isinstance(pending, qLogNoisyExpectedImprovement)


def test_the_model_step_runs_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def propose(*args: object, **kwargs: object) -> list[dict]:
        seen.append(torch.get_num_threads())
        return [{"x": 0.5, "y": 0.5}]

    sampler = MultiObjectiveBoTorchSampler(n_initial_points=5)
    monkeypatch.setattr(sampler, "_propose", propose)
    space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
    history = [
        TrialRecord(i, i, TrialState.COMPLETE, {"x": i / 10, "y": 0.5}, values=(float(i),))
        for i in range(6)
    ]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sampler.suggest(space, history, seed=0)
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_constrained_proposal_respects_the_learned_outcome_constraint() -> None:
    # The objective alone pulls x1 to 1, but latency = 10 + 20 * x1 <= 20 needs x1 <= 0.5.
    space = SearchSpace({"x0": Float(0, 1), "x1": Float(0, 1)})
    history = [
        TrialRecord(
            i,
            i,
            TrialState.COMPLETE,
            c,
            values=(1.0 - c["x1"],),
            metrics={0: {"latency_ms": 10 + 20 * c["x1"]}},
        )
        for i, c in enumerate(space.sample(12, seed=1))
    ]
    sampler = _fast(outcome_constraints=["latency_ms <= 20"])
    (config,) = sampler.suggest(space, history, directions=(Direction.MINIMIZE,), seed=0)
    assert 0.3 <= config["x1"] <= 0.55  # near the constrained optimum x1 = 0.5, not beyond it


def test_anchor_rows_are_the_best_points_that_met_the_constraints() -> None:
    sampler = MultiObjectiveBoTorchSampler(outcome_constraints=["latency_ms <= 20"])
    # columns: one objective (higher is better), then latency_ms
    Y = np.array([[5.0, 30.0], [4.0, 10.0], [3.0, 19.0], [1.0, 5.0], [2.0, 20.0]])
    assert sampler._anchor_rows(Y, 1).tolist() == [1, 2, 4]  # row 0 broke the constraint
    assert sampler._anchor_rows(np.array([[1.0, 25.0]]), 1).tolist() == []


def test_anchor_rows_of_two_objectives_are_the_front_evenly_thinned() -> None:
    sampler = MultiObjectiveBoTorchSampler()
    front = np.array([[float(i), float(9 - i)] for i in range(10)])
    dominated = np.array([[0.0, 0.0], [3.0, 2.0]])
    Y = np.concatenate([dominated, front])
    rows = sampler._anchor_rows(Y, 2, limit=4)
    assert rows.tolist() == [2, 5, 8, 11]  # front rows 2..11, first, last and two between
    assert sorted(sampler._anchor_rows(Y, 2, limit=20).tolist()) == list(range(2, 12))


def test_local_candidates_stay_feasible_near_their_anchor() -> None:
    space = _space()
    sampler = MultiObjectiveBoTorchSampler(raw_samples=64)
    anchor = space.encode([{"x0": 0.9, "x1": 0.3, "k": 2, "c": "b"}])
    configs = sampler._local_candidates(space, anchor, np.random.default_rng(0))
    assert len(configs) > 8
    assert all(space.is_feasible(c) for c in configs)
    assert all(c["k"] == 2 and c["c"] == "b" for c in configs)  # only continuous columns move
    assert np.median([abs(c["x0"] - 0.9) for c in configs]) < 0.1


def test_polish_line_search_warnings_are_not_shown_but_others_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    from botorch.exceptions.warnings import OptimizationWarning
    from botorch.generation import gen

    real = gen.gen_candidates_scipy

    def noisy(*args: object, **kwargs: object) -> object:
        # as BoTorch does: its own "always" filter around the warning
        with warnings.catch_warnings():
            warnings.simplefilter("always", category=OptimizationWarning)
            warnings.warn("status 2 and message ABNORMAL", OptimizationWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "gen_candidates_scipy", noisy)
    space = _space()
    sampler = MultiObjectiveBoTorchSampler(n_initial_points=5, raw_samples=64, num_restarts=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler.suggest(space, _history(space, 8), directions=MIN2, seed=0)
    categories = [w.category for w in caught]
    assert OptimizationWarning not in categories
    assert UserWarning in categories


def test_model_tells_observed_points_either_side_of_a_curved_boundary() -> None:
    # Gramacy's first constraint, observed on a Sobol design and at four points within 4e-5 of
    # its boundary (slacks of about +-1.6e-4 and +-3.1e-4): the best feasible value of a
    # constrained problem lies there, so the model must know which of them were feasible.
    from torch.quasirandom import SobolEngine

    def slack(x: torch.Tensor) -> torch.Tensor:
        a, b = x[:, 0], x[:, 1]
        return 1.5 - a - 2 * b - 0.5 * torch.sin(2 * math.pi * (a**2 - 2 * b))

    low, high = 0.0, 1.0  # bisection for the boundary along x0 = 0.2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if slack(torch.tensor([[0.2, mid]])) > 0 else (low, mid)
    near = torch.tensor([[0.2, low + d] for d in (-4e-5, -2e-5, 2e-5, 4e-5)], dtype=torch.float64)
    X = torch.cat([SobolEngine(2, scramble=True, seed=0).draw(16, dtype=torch.float64), near])
    model = _mo_acquisition.fit_model(X, torch.stack([X.sum(-1), slack(X)], -1))
    with torch.no_grad():
        posterior = model.posterior(near)
    z = posterior.mean[:, 1] / posterior.variance[:, 1].sqrt()
    p_feasible = torch.distributions.Normal(0.0, 1.0).cdf(z)
    feasible = slack(near) >= 0
    assert feasible.tolist() == [True, True, False, False]
    # with the 1e-6 floor of `BoTorchSampler` these were 0.65, 0.58, 0.42 and 0.35
    assert torch.all(p_feasible[feasible] > 0.99)
    assert torch.all(p_feasible[~feasible] < 0.01)


def test_candidates_are_ranked_at_the_configurations_they_decode_to() -> None:
    # On one-hot columns a, b, c the acquisition 8 * a * b + 1.5 * b is 1.5 at choice "b", 0 at
    # "a" and "c", and 9.5 at the relaxed point a = b = 1 the polish climbs to from "b". That
    # point decodes to "a" (ties go to the first choice); the proposal must be "b".
    space = SearchSpace({"x": Float(0, 1), "c": Categorical(["a", "b", "c"])})
    a, b = space.column_span("c")[0], space.column_span("c")[0] + 1

    def acq(X: torch.Tensor) -> torch.Tensor:
        return 8 * X[..., 0, a] * X[..., 0, b] + 1.5 * X[..., 0, b]

    sampler = MultiObjectiveBoTorchSampler(raw_samples=32, num_restarts=4)
    config = sampler._best_feasible(space, acq, np.random.default_rng(0), set(), np.empty((0, 4)))
    assert config["c"] == "b"


def test_proposals_depend_on_the_seed_only_and_leave_the_global_rng_alone() -> None:
    # BoTorch draws from torch's global generator (to prune the acquisition's baseline, for
    # one), whose state differs from process to process and belongs to the user's training.
    space = _space()
    history = _history(space, 12)
    proposals = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        proposals.append(_fast().suggest(space, history, directions=MIN2, seed=3, n=2))
        assert torch.equal(torch.get_rng_state(), state)
    assert proposals[0] == proposals[1]


def test_each_output_gets_the_map_fit_of_botorchs_optimizer() -> None:
    # The fitter of `BoTorchSampler` replaces `fit_gpytorch_mll`: per output, its
    # hyper-parameters must score at least as well on the same objective (marginal log
    # likelihood plus priors), and land on their own output of the batched model.
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.priors import GammaPrior
    from torch.quasirandom import SobolEngine

    from lightning_autotune.samplers._gp import MIN_NOISE, NOISE_PRIOR

    X = SobolEngine(3, scramble=True, seed=0).draw(24, dtype=torch.float64)
    Y = torch.stack([torch.sin(6 * X[:, 0]) + X[:, 1], 10 + 20 * X[:, 2] ** 2], -1)

    def map_objective(model: SingleTaskGP) -> torch.Tensor:
        model.train()
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            return mll(model(*model.train_inputs), model.train_targets)

    ours = _mo_acquisition.fit_model(X, Y)
    likelihood = GaussianLikelihood(
        noise_prior=GammaPrior(*NOISE_PRIOR),
        noise_constraint=GreaterThan(MIN_NOISE),
        batch_shape=torch.Size([2]),
    )
    reference = SingleTaskGP(X, Y, likelihood=likelihood, outcome_transform=Standardize(m=2))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(reference.likelihood, reference))
    # within 0.01 per observation: our length scales stop at 1e3, BoTorch's can grow further
    # for an input the output does not depend on (x0 and x1 for the second output)
    assert torch.all(map_objective(ours) >= map_objective(reference) - 0.01)

    test_points = SobolEngine(3, scramble=True, seed=1).draw(5, dtype=torch.float64)
    ours.eval()
    for j in range(2):
        alone = _mo_acquisition.fit_model(X, Y[:, j : j + 1], matern=False)
        with torch.no_grad():
            expected = alone.posterior(test_points).mean[:, 0]
            assert torch.allclose(ours.posterior(test_points).mean[:, j], expected, atol=1e-6)


def test_one_output_gets_the_matern_kernel_and_several_the_rbf() -> None:
    from gpytorch.kernels import MaternKernel, RBFKernel

    X = torch.rand(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    Y = torch.stack([X.sum(-1), (X**2).sum(-1)], -1)
    one = _mo_acquisition.fit_model(X, Y[:, :1]).covar_module
    assert isinstance(one, MaternKernel) and one.nu == 2.5
    assert isinstance(_mo_acquisition.fit_model(X, Y).covar_module, RBFKernel)
    assert isinstance(_mo_acquisition.fit_model(X, Y[:, :1], matern=False).covar_module, RBFKernel)


@pytest.mark.parametrize("n_objectives", [1, 2])
def test_a_single_objective_is_fitted_warped_and_constraints_are_not(
    monkeypatch: pytest.MonkeyPatch, n_objectives: int
) -> None:
    from lightning_autotune.samplers import _gp

    seen: list[torch.Tensor] = []
    fit = _mo_acquisition.fit_model

    def spy(X: torch.Tensor, Y: torch.Tensor) -> object:
        seen.append(Y.clone())
        return fit(X, Y)

    monkeypatch.setattr(_mo_acquisition, "fit_model", spy)
    space = _space()
    history = _history(space, 8, latency=True)
    if n_objectives == 1:
        history = [
            TrialRecord(
                t.trial_id, t.number, t.state, t.params, (t.values[0] ** 3,), metrics=t.metrics
            )
            for t in history
        ]
    directions = (Direction.MINIMIZE,) * n_objectives
    _fast(outcome_constraints=["latency_ms <= 20"]).suggest(
        space, history, directions=directions, seed=0
    )
    raw = np.array([[-v for v in t.values] for t in history])
    latency = np.array([t.metrics[0]["latency_ms"] for t in history])
    Y = seen[0].numpy()
    np.testing.assert_allclose(Y[:, -1], latency)  # the constraint keeps its units
    if n_objectives == 1:
        np.testing.assert_allclose(Y[:, 0], _gp.warp_outcomes(raw[:, 0]))
        assert not np.allclose(Y[:, 0], _gp.standardize(raw[:, 0]))
    else:
        np.testing.assert_allclose(Y[:, :2], raw)
