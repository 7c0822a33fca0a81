from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lightning_autotune.exceptions import ConfigError  # noqa: E402
from lightning_autotune.profiling import LatencyResult, measure_latency  # noqa: E402


class _Counting(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
        self.calls = 0
        self.modes: list[bool] = []
        self.grad: list[bool] = []

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.calls += 1
        self.modes.append(self.training)
        self.grad.append(torch.is_grad_enabled())
        return self.linear(x) * scale


def test_counts_passes_and_restores_mode() -> None:
    model = _Counting()
    model.train()
    result = measure_latency(model, torch.zeros(16, 4), warmup=3, repeats=7)
    assert isinstance(result, LatencyResult)
    assert model.calls == 10 and model.training
    assert not any(model.modes) and not any(model.grad)
    assert result.repeats == 7 and result.warmup == 3 and result.batch_size == 16
    assert result.min_ms <= result.median_ms <= result.p90_ms <= result.max_ms
    assert result.per_sample_ms == pytest.approx(result.median_ms / 16)
    assert result.device == "cpu"
    assert set(result.as_metrics()) == {"latency_ms", "latency_p90_ms"}


def test_batch_forms() -> None:
    model = _Counting()
    assert measure_latency(model, (torch.zeros(3, 4), 2.0), repeats=2).batch_size == 3
    assert measure_latency(model, {"x": torch.zeros(5, 4)}, repeats=2).batch_size == 5
    assert measure_latency(torch.nn.ReLU(), torch.zeros(2, 2), repeats=1).batch_size == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"repeats": 0}, "repeats must be an integer >= 1"),
        ({"warmup": -1}, "warmup must be an integer >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        measure_latency(torch.nn.Linear(1, 1), torch.zeros(1, 1), **kwargs)


def test_not_a_module() -> None:
    with pytest.raises(ConfigError, match=r"needs a torch\.nn\.Module"):
        measure_latency(lambda x: x, torch.zeros(1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda() -> None:
    result = measure_latency(torch.nn.Linear(64, 64), torch.zeros(32, 64), device="cuda")
    assert result.device.startswith("cuda") and result.median_ms > 0
