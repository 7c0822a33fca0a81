"""The time kernel of PB2's GP (imports GPyTorch; loaded by `samplers._pb2` when PB2 explores)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from gpytorch.constraints import Interval
from gpytorch.kernels import Kernel

__all__ = ["ForgettingKernel"]


class ForgettingKernel(Kernel):
    """`k(t, t') = (1 - eps) ** (|t - t'| / 2)`: the time-varying kernel of TV-GP-UCB.

    `eps` is the forgetting parameter (Bogunovic et al. 2016, used by PB2): 0 keeps every
    interval equally relevant, larger values let the objective drift between intervals. It is
    a kernel hyperparameter, fitted by marginal likelihood within `bounds`.

    Args:
        bounds: `(low, high)` of `eps`, inside (0, 1).
        **kwargs: Passed to `gpytorch.kernels.Kernel` (e.g. `active_dims`).
    """

    has_lengthscale = False

    def __init__(self, bounds: tuple[float, float] = (1e-5, 0.5), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_parameter(
            "raw_epsilon", torch.nn.Parameter(torch.zeros(*self.batch_shape, 1, 1))
        )
        self.register_constraint("raw_epsilon", Interval(*bounds))

    @property
    def epsilon(self) -> torch.Tensor:
        """The forgetting parameter."""
        return self.raw_epsilon_constraint.transform(self.raw_epsilon)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any
    ) -> torch.Tensor:
        gap = self.covar_dist(x1, x2, diag=diag, **params)
        rate = torch.log1p(-self.epsilon) / 2
        return torch.exp(gap * (rate[..., 0] if diag else rate))


def forgetting(kernel: Any) -> Sequence[float]:
    """The fitted `eps` of every `ForgettingKernel` inside `kernel` (for tests and reports)."""
    return [
        float(m.epsilon.detach().reshape(-1)[0])
        for m in kernel.modules()
        if isinstance(m, ForgettingKernel)
    ]
