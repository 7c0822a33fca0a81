"""PB2's GP bandit: the time-varying kernel, the beta schedule, pending members."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_autotune.samplers._pb2 import EPSILON_BOUNDS, fit_tv_gp, pb2_beta, pb2_suggest
from lightning_autotune.samplers._pb2_kernel import ForgettingKernel, forgetting


def test_the_time_kernel_decays_by_one_minus_eps_per_two_intervals() -> None:
    kernel = ForgettingKernel(bounds=(1e-5, 0.5)).double()
    raw = kernel.raw_epsilon_constraint.inverse_transform(torch.tensor(0.36, dtype=torch.float64))
    kernel.initialize(raw_epsilon=raw)
    t = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    k = kernel(t, t).to_dense().detach()
    assert torch.allclose(k[0], torch.tensor([1.0, 0.8, 0.64], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(kernel(t, diag=True).detach(), torch.ones(3, dtype=torch.float64))


def test_forgetting_is_fitted_larger_when_the_best_value_drifts_over_time() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(60)
    t = np.repeat(np.arange(1.0, 7.0), 10)
    still = -((x - 0.5) ** 2)
    drift = -((x - 0.1 - 0.15 * (t - 1)) ** 2)  # the optimum moves from 0.1 to 0.85
    eps = []
    for y in (still, drift):
        model = fit_tv_gp(np.column_stack([t, x]), (y - y.mean()) / y.std())
        eps.append(forgetting(model.covar_module)[0])
    assert all(EPSILON_BOUNDS[0] <= e <= EPSILON_BOUNDS[1] for e in eps)
    assert eps[1] > eps[0] + 0.05
    best = pb2_suggest(np.column_stack([t, x]), drift, t_now=7.0, seed=0)
    assert best is not None and best[0] > 0.75  # follows the recent optimum, not the average


def test_beta_grows_with_the_log_of_the_data() -> None:
    assert pb2_beta(1) == pytest.approx(0.2)
    assert pb2_beta(10) == pytest.approx(0.2 + math.log(4.0))
    assert pb2_beta(100) > pb2_beta(10)


def test_a_pending_member_pushes_the_suggestion_away_from_its_values() -> None:
    X = np.array([[1, 0.1, 0.1], [1, 0.9, 0.9], [2, 0.1, 0.1], [2, 0.9, 0.9]], dtype=float)
    y = np.array([0.10, 0.12, 0.10, 0.11])
    alone = pb2_suggest(X, y, t_now=3.0, seed=0)
    assert alone is not None
    beside = pb2_suggest(X, y, t_now=3.0, pending=alone[None, :], seed=0)
    assert beside is not None and np.linalg.norm(beside - alone) > 0.2
