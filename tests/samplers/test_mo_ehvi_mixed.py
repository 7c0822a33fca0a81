"""The closed-form log EHVI of `MultiObjectiveBoTorchSampler` and its mixed-space search."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("botorch")

from lightning_autotune.samplers import (  # noqa: E402
    MultiObjectiveBoTorchSampler,
    _mo_acquisition,
    _optimize_acqf,
)
from lightning_autotune.samplers._mo_ehvi import LogEHVI, _IndependentPosterior  # noqa: E402
from lightning_autotune.space import Categorical, Float, Int, SearchSpace  # noqa: E402
from lightning_autotune.trial import Direction, TrialRecord, TrialState  # noqa: E402


def _model(m: int) -> tuple[object, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(20, 3, generator=g, dtype=torch.float64)
    Y = torch.stack([X.sum(-1), -(X**2).sum(-1), torch.sin(3 * X[:, 0])], -1)[:, :m]
    return _mo_acquisition.fit_model(X, Y), X, Y.min(0).values - 0.1


@pytest.mark.parametrize("m", [2, 3])
def test_log_ehvi_is_the_log_of_botorchs_analytic_ehvi(m: int) -> None:
    from botorch.acquisition.multi_objective.analytic import ExpectedHypervolumeImprovement
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    model, X, ref = _model(m)
    with torch.no_grad():
        front = model.posterior(X).mean
    ours = LogEHVI(model, ref, front)
    ours._posterior = _IndependentPosterior(model, m, given_data=False)  # BoTorch's variance
    partitioning = FastNondominatedPartitioning(ref_point=ref, Y=front)
    exact = ExpectedHypervolumeImprovement(model, ref_point=ref.tolist(), partitioning=partitioning)
    Xc = torch.rand(64, 1, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        theirs, mine = exact(Xc), ours(Xc)
    big = theirs > 1e-8  # below, BoTorch's difference of two values loses its digits
    assert big.sum() > 10
    torch.testing.assert_close(mine[big].exp(), theirs[big], rtol=1e-6, atol=0.0)
    assert torch.isfinite(mine).all()


def test_the_candidate_variance_is_given_the_data_so_the_front_is_not_re_measured() -> None:
    # Noisy observations: the fit attributes part of them to noise, so the posterior variance
    # at an evaluated point stays near the noise level. Given the latent values there, it
    # vanishes, as it does for a candidate sampled jointly with the baseline (qLogNEHVI).
    g = torch.Generator().manual_seed(0)
    X = torch.rand(30, 2, generator=g, dtype=torch.float64)
    noise = 0.3 * torch.randn(30, 2, generator=g, dtype=torch.float64)
    model = _mo_acquisition.fit_model(X, torch.stack([X[:, 0], X[:, 1]], -1) + noise)
    assert float(model.likelihood.noise.detach().min()) > 1e-3
    with torch.no_grad():
        posterior = model.posterior(X)
        mean, std = _IndependentPosterior(model, 2, given_data=False)(X)
        mean_given, std_given = _IndependentPosterior(model, 2)(X)
    torch.testing.assert_close(mean, posterior.mean)
    torch.testing.assert_close(std, posterior.variance.sqrt())
    torch.testing.assert_close(mean_given, posterior.mean)
    assert float(std.min()) > 0.01
    assert float(std_given.max()) < 1e-3
    ref = torch.tensor([-1.0, -1.0], dtype=torch.float64)
    front = posterior.mean
    best = int(front.sum(-1).argmax())  # on the front of the means: no improvement there
    at_front = X[best].reshape(1, 1, 2)
    given, plain = LogEHVI(model, ref, front), LogEHVI(model, ref, front)
    plain._posterior = _IndependentPosterior(model, 2, given_data=False)
    with torch.no_grad():
        assert float(given(at_front)) < float(plain(at_front)) - 3.0


def test_log_ehvi_stays_finite_with_gradients_far_from_any_improvement() -> None:
    model, X, ref = _model(2)
    with torch.no_grad():
        front = model.posterior(X).mean
    # the evaluated points themselves: their improvement underflows to zero in plain EHVI
    Xc = X[:8].unsqueeze(1).clone().requires_grad_(True)
    values = LogEHVI(model, ref, front)(Xc)
    values.sum().backward()
    assert torch.isfinite(values).all()
    assert torch.isfinite(Xc.grad).all()


def _two_objective_model() -> tuple[object, torch.Tensor, torch.Tensor]:
    model, X, _ = _model(2)
    Y = torch.stack([X.sum(-1), -(X**2).sum(-1)], -1)
    return model, X, Y


def test_one_point_without_pending_or_constraints_gets_the_closed_form() -> None:
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
        qLogNoisyExpectedHypervolumeImprovement,
    )

    from lightning_autotune.constraints import OutcomeConstraint

    model, X, Y = _two_objective_model()
    common = {"ref_point": None, "seed": 0}
    single = _mo_acquisition.build_acquisition(
        model, X, Y, outcome_constraints=(), X_pending=None, single=True, **common
    )
    assert isinstance(single, LogEHVI)
    pending = _mo_acquisition.build_acquisition(
        model, X, Y, outcome_constraints=(), X_pending=X[:1], single=True, **common
    )
    assert isinstance(pending, qLogExpectedHypervolumeImprovement)
    model3 = _mo_acquisition.fit_model(X, torch.cat([Y, X[:, :1]], -1))
    constrained = _mo_acquisition.build_acquisition(
        model3,
        X,
        Y,
        outcome_constraints=(OutcomeConstraint("a <= 0.5"),),
        X_pending=None,
        single=True,
        Y_constraints=X[:, :1],
        **common,
    )
    assert isinstance(constrained, qLogNoisyExpectedHypervolumeImprovement)


def test_mixed_search_polishes_the_continuous_columns_at_the_right_category() -> None:
    # On one-hot columns a, b, c the acquisition 8 * a * b + 1.5 * b - 10 (x - 0.637)^2 is
    # best at choice "b" with x = 0.637. A relaxed polish climbs to a = b = 1, which decodes
    # to "a", so x is polished only at the wrong category; the search must hold "b" and
    # polish x there.
    space = SearchSpace({"x": Float(0, 1), "c": Categorical(["a", "b", "c"])})
    a = space.column_span("c")[0]
    b = a + 1

    def acq(X: torch.Tensor) -> torch.Tensor:
        x = X[..., 0, 0]
        return 8 * X[..., 0, a] * X[..., 0, b] + 1.5 * X[..., 0, b] - 10 * (x - 0.637) ** 2

    sampler = MultiObjectiveBoTorchSampler(raw_samples=32, num_restarts=4)
    config = sampler._mixed_search(
        space, acq, np.random.default_rng(0), np.empty((0, 4)), np.empty((0, 4))
    )
    assert config["c"] == "b"
    assert abs(config["x"] - 0.637) < 1e-4


def test_a_space_without_parameter_constraints_takes_the_shared_mixed_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = _optimize_acqf.optimize_acquisition

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_optimize_acqf, "optimize_acquisition", spy)
    space = SearchSpace({"x": Float(0, 1), "k": Int(1, 4), "c": Categorical(["a", "b"])})
    history = [
        TrialRecord(
            i,
            i,
            TrialState.COMPLETE,
            c,
            values=(c["x"] + 0.1 * c["k"], (1 - c["x"]) ** 2 + (c["c"] == "a")),
        )
        for i, c in enumerate(space.sample(8, seed=1))
    ]
    sampler = MultiObjectiveBoTorchSampler(n_initial_points=6, raw_samples=64, num_restarts=2)
    minimize = (Direction.MINIMIZE, Direction.MINIMIZE)
    configs = sampler.suggest(space, history, directions=minimize, n=2, seed=0)
    assert len(calls) == 2
    assert all(space.validate(c) == c for c in configs)
    assert len({str(sorted(c.items())) for c in configs}) == 2
