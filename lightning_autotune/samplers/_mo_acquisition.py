"""BoTorch pieces of the multi-objective / constrained sampler: model, acquisition, feasibility.

Every tensor is float64 on the CPU. `d` is the number of columns of the encoded unit cube, `m` the
number of objectives, `c` the number of outcome constraints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lightning_autotune.constraints import OutcomeConstraint, Sense, linear_inequality
from lightning_autotune.space import ColumnKind, Float, SearchSpace

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models.model import Model

    from lightning_autotune.samplers._acquisition import DirectLogEI
    from lightning_autotune.samplers._mo_ehvi import LogEHVI

__all__ = ["build_acquisition", "cube_inequalities", "fit_model"]


def fit_model(X: torch.Tensor, Y: torch.Tensor, *, matern: bool | None = None) -> Model:
    """One GP with `m + c` standardized outputs, each with its own hyper-parameters.

    Each output's maximum-a-posteriori hyper-parameters are found by `BoTorchSampler`'s fitter
    (`_gp.fit_hyperparameters`): the same model and priors as a `SingleTaskGP` fitted by
    BoTorch's `fit_gpytorch_mll`, in a fraction of the time and without its random restarts.

    Args:
        X: `n x d` training inputs in [0, 1].
        Y: `n x (m + c)` outputs: objectives (to maximize) then constrained metrics (raw).
        matern: Matern-5/2 kernel if True, RBF if False. None: Matern-5/2 for a single output
            (one objective, no outcome constraint: `BoTorchSampler`'s model, which did better
            there; docs/results.md), RBF for several (the kernel the multi-objective and
            constrained benchmarks were measured with).

    Returns:
        The `SingleTaskGP`, in eval mode (batched over the outputs when there are several).

    Raises:
        RuntimeError: The data contain non-finite numbers (the sampler falls back).
    """
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.constraints import GreaterThan
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    from lightning_autotune.samplers._gp import MIN_NOISE, NOISE_PRIOR, fit_hyperparameters

    # BoTorch's default noise (a LogNormal(-4, 1) prior and a 1e-4 floor) blurs deterministic
    # outputs near the optimum; the Gamma(1.1, 30) prior of `BoTorchSampler` still learns real
    # noise, and the floor is low enough to resolve a constraint boundary (see `_gp.MIN_NOISE`).
    m = Y.shape[-1]
    if matern is None:
        matern = m == 1
    hypers = [fit_hyperparameters(X, Y[:, j].numpy(), matern=matern) for j in range(m)]
    batch = torch.Size([m]) if m > 1 else torch.Size()
    likelihood = GaussianLikelihood(
        noise_prior=GammaPrior(*NOISE_PRIOR),
        noise_constraint=GreaterThan(MIN_NOISE, transform=None),
        batch_shape=batch,
    )
    covar = get_covar_module_with_dim_scaled_prior(
        X.shape[-1], batch_shape=batch, use_rbf_kernel=not matern
    )
    model = SingleTaskGP(
        X, Y, likelihood=likelihood, covar_module=covar, outcome_transform=Standardize(m=m)
    )

    def stacked(values: list[Any], *shape: int) -> torch.Tensor:
        return torch.tensor(values, dtype=X.dtype).reshape((*batch, *shape))

    # parameter shapes: length scales `batch x 1 x d`, noise `batch x 1`, mean `batch`
    model.covar_module.lengthscale = stacked([h.lengthscales for h in hypers], 1, -1)
    model.likelihood.noise = stacked([h.noise for h in hypers], 1)
    model.mean_module.constant = stacked([h.mean for h in hypers])
    model.eval()
    return model


def _first_output(Z: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
    return Z[..., 0]


def _constraint_callables(constraints: Sequence[OutcomeConstraint], offset: int) -> list[Any]:
    """BoTorch outcome constraints: `samples x ... x (m + c)` -> values, feasible when <= 0."""
    out = []
    for j, c in enumerate(constraints):
        index, bound = offset + j, c.bound
        if c.sense is Sense.AT_MOST:
            out.append(lambda Z, i=index, b=bound: Z[..., i] - b)
        else:
            out.append(lambda Z, i=index, b=bound: b - Z[..., i])
    return out


def build_acquisition(
    model: Model,
    X_baseline: torch.Tensor,
    Y_objectives: torch.Tensor,
    *,
    outcome_constraints: Sequence[OutcomeConstraint],
    ref_point: torch.Tensor | None,
    X_pending: torch.Tensor | None,
    seed: int | None,
    Y_constraints: torch.Tensor | None = None,
    single: bool = False,
) -> AcquisitionFunction | DirectLogEI | LogEHVI:
    """qLogNEHVI for several objectives, qLogNEI for one, both with the outcome constraints.

    One objective, nothing pending and one point wanted (`single`): an analytic acquisition
    instead. Without outcome constraints, log EI over the best posterior mean at the data (as
    `BoTorchSampler` uses); with them, log constrained EI, the log EI of the objective over the
    best feasible value plus the log probability that each constraint holds, each output's
    posterior taken as an independent normal.

    Args:
        model: From `fit_model`; its first `n_objectives` outputs are maximized.
        X_baseline: `n x d` points already evaluated.
        Y_objectives: `n x m` their objective values (maximized scale), for the reference point.
        outcome_constraints: One per modelled constraint output, in output order after the
            objectives.
        ref_point: `m` reference values in the maximized scale (None: inferred from the data).
        X_pending: `p x d` points being evaluated, or None.
        seed: Seed of the quasi-Monte-Carlo sampler.
        Y_constraints: `n x c` the constrained metrics observed at `X_baseline`.
        single: One point is wanted and none will be added as pending.
    """
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.sampling import SobolQMCNormalSampler

    n_objectives = Y_objectives.shape[-1]
    if n_objectives == 1 and X_pending is None and single:
        if not outcome_constraints:
            return _log_ei(model)
        assert Y_constraints is not None
        return _log_constrained_ei(model, Y_objectives[:, 0], outcome_constraints, Y_constraints)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=seed)
    constraints = _constraint_callables(outcome_constraints, n_objectives) or None
    if n_objectives == 1:
        return qLogNoisyExpectedImprovement(
            model,
            X_baseline,
            sampler=sampler,
            objective=GenericMCObjective(_first_output),
            constraints=constraints,
            X_pending=X_pending,
            prune_baseline=True,
        )
    if ref_point is None:
        from botorch.utils.multi_objective.hypervolume import infer_reference_point
        from botorch.utils.multi_objective.pareto import is_non_dominated

        Y = Y_objectives
        ref_point = infer_reference_point(Y[is_non_dominated(Y)])
    if not outcome_constraints:
        return _log_ehvi_over_mean_front(
            model, X_baseline, ref_point, sampler, X_pending, single=single
        )
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=ref_point,
        X_baseline=X_baseline,
        sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(n_objectives))),
        constraints=constraints,
        X_pending=X_pending,
        prune_baseline=True,
    )


def _log_ehvi_over_mean_front(
    model: Model,
    X_baseline: torch.Tensor,
    ref_point: torch.Tensor,
    sampler: Any,
    X_pending: torch.Tensor | None,
    *,
    single: bool,
) -> AcquisitionFunction | LogEHVI:
    """Log EHVI over the front of the posterior means at the evaluated points.

    The noisy variant (qLogNEHVI) partitions the dominated region afresh for each of its joint
    posterior samples of the baseline: 128 box decompositions when it is built, and each
    candidate scored against all of them, jointly with the baseline. Taking the front of the
    posterior means instead needs one decomposition, and each candidate is scored alone; a
    lucky noisy value still does not set the bar (the means do), as in `BoTorchSampler`'s
    log EI over the best posterior mean. One point wanted and none pending: the closed form
    (`LogEHVI`); otherwise BoTorch's Monte-Carlo qLogEHVI, which scores a candidate jointly
    with the pending points.
    """
    import torch
    from botorch.acquisition.multi_objective.logei import qLogExpectedHypervolumeImprovement
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    from lightning_autotune.samplers._mo_ehvi import LogEHVI

    m = ref_point.shape[-1]
    with torch.no_grad():
        means = model.posterior(X_baseline).mean[..., :m]  # type: ignore[attr-defined]
    if single and X_pending is None:
        return LogEHVI(model, ref_point, means)
    partitioning = FastNondominatedPartitioning(ref_point=ref_point, Y=means)
    return qLogExpectedHypervolumeImprovement(
        model,
        ref_point=ref_point,
        partitioning=partitioning,  # type: ignore[arg-type]  # same interface
        sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
        X_pending=X_pending,
    )


def _log_ei(model: Model) -> DirectLogEI:
    """Analytic log EI of a one-output model over its best posterior mean at the data.

    `BoTorchSampler`'s closed-form `DirectLogEI`: the same maximizer as BoTorch's
    `LogExpectedImprovement` with that incumbent, without GPyTorch's posterior machinery at
    every call of the search. The model's mean rather than the best observation sets the bar,
    so a lucky noisy value does not.
    """
    from botorch.models import SingleTaskGP

    from lightning_autotune.samplers._acquisition import DirectLogEI

    assert isinstance(model, SingleTaskGP), type(model)  # one output: `fit_model` makes one
    return DirectLogEI(model)


def _log_constrained_ei(
    model: Model,
    y: torch.Tensor,
    outcome_constraints: Sequence[OutcomeConstraint],
    Y_constraints: torch.Tensor,
) -> AcquisitionFunction:
    """BoTorch's analytic `LogConstrainedExpectedImprovement` on the joint model.

    The incumbent is the best objective (maximized scale) among observations that satisfy every
    constraint; with none feasible yet, the worst observed value, so the probability of
    feasibility drives the search.
    """
    from botorch.acquisition.analytic import LogConstrainedExpectedImprovement

    feasible = [
        i
        for i, row in enumerate(Y_constraints.tolist())
        if all(c.is_satisfied(v) for c, v in zip(outcome_constraints, row, strict=True))
    ]
    best_f = float(y[feasible].max()) if feasible else float(y.min())
    bounds: dict[int, tuple[float | None, float | None]] = {}
    for j, c in enumerate(outcome_constraints):
        bounds[1 + j] = (None, c.bound) if c.sense is Sense.AT_MOST else (c.bound, None)
    return LogConstrainedExpectedImprovement(model, best_f, objective_index=0, constraints=bounds)


def cube_inequalities(space: SearchSpace) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """The space's linear constraints over unconditional linear-scale `Float` parameters.

    Each becomes a BoTorch inequality `sum(coefficients * x[indices]) >= rhs` on the encoded
    cube, using `value = low + u * (high - low)` for each column. Other constraints (nonlinear,
    or over integer, log-scale, grid, categorical or conditional parameters) are left to the
    rejection step that follows the optimization.

    Returns:
        A list of `(indices, coefficients, rhs)`.
    """
    import torch

    col_of = {
        col.param: i for i, col in enumerate(space.columns) if col.kind is ColumnKind.CONTINUOUS
    }
    out = []
    for constraint in space.constraints:
        form = linear_inequality(constraint)
        if form is None:
            continue
        params = [space[name] for name in form.coefficients]
        if not all(
            isinstance(p, Float) and not p.log and p.step is None and not p.when and name in col_of
            for name, p in zip(form.coefficients, params, strict=True)
        ):
            continue
        rhs = form.rhs
        indices, coefs = [], []
        for name, a in form.coefficients.items():
            p = space[name]
            assert isinstance(p, Float)
            rhs -= a * p.low
            indices.append(col_of[name])
            coefs.append(a * (p.high - p.low))
        out.append(
            (
                torch.tensor(indices, dtype=torch.long),
                torch.tensor(coefs, dtype=torch.float64),
                float(rhs),
            )
        )
    return out
