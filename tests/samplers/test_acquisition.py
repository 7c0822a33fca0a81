"""DirectLogEI against BoTorch's LogExpectedImprovement on the same fitted model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_autotune.samplers._acquisition import AcqKind, DirectLogEI, build_acquisition
from lightning_autotune.samplers._gp import fit_hyperparameters, gp_model


def _model(n: int, d: int, *, matern: bool = True, noise: float = 0.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.random((n, d)))
    y = torch.sin(6 * X).sum(-1, keepdim=True) + noise * torch.from_numpy(
        rng.standard_normal((n, 1))
    )
    y = 3.0 * y + 10.0
    return gp_model(X, y, fit_hyperparameters(X, y[:, 0].numpy(), matern=matern)), X


@pytest.mark.parametrize(("matern", "noise"), [(True, 0.0), (False, 0.0), (True, 0.3)])
def test_matches_botorch_log_ei_up_to_the_outcome_scale(matern: bool, noise: float) -> None:
    from botorch.acquisition import LogExpectedImprovement

    model, X = _model(20, 3, matern=matern, noise=noise)
    direct = DirectLogEI(model)
    with torch.no_grad():
        best_f = model.posterior(X).mean.max()
        reference = LogExpectedImprovement(model, best_f=best_f)
        cand = torch.rand(
            200, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
        )
        ours, theirs = direct(cand), reference(cand)
    std = float(model.outcome_transform.stdvs.squeeze())
    finite = torch.isfinite(theirs) & (theirs > -30)
    assert int(finite.sum()) > 100
    # BoTorch works in original units: log EI there = log EI standardized + log(std)
    assert torch.allclose(ours[finite] + math.log(std), theirs[finite], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("matern", [True, False])
def test_built_from_the_fit_it_equals_the_one_read_from_the_model(matern: bool) -> None:
    rng = np.random.default_rng(3)
    X = torch.from_numpy(rng.random((25, 4)))
    y = (torch.cos(5 * X).sum(-1) * 4.0 - 7.0).numpy()
    hyper = fit_hyperparameters(X, y, matern=matern)
    from_model = DirectLogEI(gp_model(X, torch.from_numpy(y[:, None]), hyper))
    from_fit = DirectLogEI.from_fit(X, y, hyper)
    cand = torch.from_numpy(rng.random((300, 1, 4)))
    with torch.no_grad():
        assert torch.allclose(from_fit(cand), from_model(cand), rtol=1e-9, atol=1e-9)
    assert from_fit.best_f == pytest.approx(from_model.best_f, rel=1e-12)
    value, grad = from_fit.value_and_grad(cand[:5, 0].numpy())
    value_ref, grad_ref = from_model.value_and_grad(cand[:5, 0].numpy())
    np.testing.assert_allclose(value, value_ref, rtol=1e-9)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-7, atol=1e-9)


def test_gradient_matches_finite_differences() -> None:
    model, _ = _model(15, 2)
    direct = DirectLogEI(model)
    x = torch.tensor([[[0.3, 0.7]]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(direct(x).sum(), x)
    h = 1e-6
    for j in range(2):
        e = torch.zeros_like(x)
        e[..., j] = h
        with torch.no_grad():
            fd = (direct(x + e) - direct(x - e)) / (2 * h)
        assert float(grad[..., j]) == pytest.approx(float(fd), rel=1e-4, abs=1e-6)


def test_used_for_one_point_without_pending_only() -> None:
    model, X = _model(12, 2)
    assert isinstance(build_acquisition(AcqKind.AUTO, model, X, None), DirectLogEI)
    assert isinstance(build_acquisition(AcqKind.EI, model, X, None), DirectLogEI)
    assert not isinstance(build_acquisition(AcqKind.AUTO, model, X, X[:1]), DirectLogEI)
    assert not isinstance(build_acquisition(AcqKind.NEI, model, X, None), DirectLogEI)


def test_other_kernels_are_refused() -> None:
    from botorch.models import SingleTaskGP

    X = torch.rand(6, 2, dtype=torch.float64)
    model = SingleTaskGP(X, X.sum(-1, keepdim=True), covar_module=None)
    model.covar_module = __import__("gpytorch").kernels.MaternKernel(nu=1.5)
    with pytest.raises(TypeError, match="Matern-5/2 or RBF kernel"):
        DirectLogEI(model)


@pytest.mark.parametrize("matern", [True, False])
def test_closed_form_gradient_matches_autograd(matern: bool) -> None:
    model, _ = _model(30, 4, matern=matern, noise=0.1)
    direct = DirectLogEI(model)
    x = torch.rand(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x.requires_grad_(True)
    values = direct(x.unsqueeze(-2))
    (grad,) = torch.autograd.grad(values.sum(), x)
    np_values, np_grad = direct.value_and_grad(x.detach().numpy())
    assert np.allclose(np_values, values.detach().numpy(), rtol=1e-8, atol=1e-8)
    assert np.allclose(np_grad, grad.numpy(), rtol=1e-5, atol=1e-7)


def _log_h_reference(z: float) -> float:
    """`log(phi(z) + z Phi(z))` with 60 significant digits (mpmath)."""
    import mpmath

    with mpmath.workdps(60):
        zz = mpmath.mpf(z)
        h = mpmath.npdf(zz) + zz * mpmath.ncdf(zz)
        return float(mpmath.log(h))


_Z = np.concatenate([-np.logspace(7, 0, 200), np.linspace(-1.0, 10.0, 200), [30.0, 1e3]])


def test_log_h_matches_a_high_precision_reference_over_the_whole_range() -> None:
    from lightning_autotune.samplers._acquisition import log_h_ei, log_h_ei_torch

    reference = np.array([_log_h_reference(z) for z in _Z])
    ours = log_h_ei(_Z)
    in_torch = log_h_ei_torch(torch.from_numpy(_Z)).numpy()
    assert np.all(np.isfinite(ours)) and np.all(np.isfinite(in_torch))
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(in_torch, reference, rtol=1e-9, atol=1e-9)


def test_log_h_in_torch_has_the_exact_gradient_everywhere() -> None:
    """d log h / dz = Phi(z) / h(z), finite on both sides of every branch boundary."""
    import mpmath

    from lightning_autotune.samplers._acquisition import log_h_ei_torch

    z = torch.from_numpy(np.concatenate([_Z, [-1.0, -1e4, -1.0 - 1e-9]])).requires_grad_(True)
    (grad,) = torch.autograd.grad(log_h_ei_torch(z).sum(), z)
    with mpmath.workdps(60):
        exact = [
            float(mpmath.ncdf(v) / (mpmath.npdf(v) + v * mpmath.ncdf(v)))
            for v in (mpmath.mpf(float(x)) for x in z.detach())
        ]
    assert torch.all(torch.isfinite(grad))
    np.testing.assert_allclose(grad.numpy(), exact, rtol=1e-6, atol=1e-12)
