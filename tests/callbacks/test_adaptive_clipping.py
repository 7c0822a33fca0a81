from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from schedule_helpers import ScheduleModel, trainer

from lightning_autotune.callbacks import AdaptiveGradientClipping, ClipMode
from lightning_autotune.exceptions import ConfigError


class GradProbe(pl.Callback):
    """Placed after the clipping callback: sees the gradients the optimizer will use."""

    def __init__(self) -> None:
        self.ratios: list[float] = []  # max over units of ||g|| / bound (unit-wise)
        self.totals: list[float] = []  # total gradient norm
        self.head: list[torch.Tensor] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        self.totals.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        worst = 0.0
        for p in pl_module.parameters():
            dims = tuple(range(1, p.ndim)) if p.ndim > 1 else None
            w = torch.linalg.vector_norm(p.detach(), dim=dims).clamp_min(1e-3)
            g = torch.linalg.vector_norm(p.grad, dim=dims)
            worst = max(worst, float((g / (0.01 * w)).max()))
        self.ratios.append(worst)
        self.head.append(pl_module.net[3].weight.grad.clone())


def _run(cb, probe, **kwargs):
    t = trainer([cb, probe] if cb is not None else [probe], max_epochs=2, **kwargs)
    t.fit(ScheduleModel(lr=0.05, dropout=0.0))
    return t


def test_unitwise_bound_holds_after_clipping_and_was_active():
    unclipped = GradProbe()
    _run(None, unclipped)
    assert max(unclipped.ratios) > 1.0  # without clipping, some units exceed 1% of |w|
    probe = GradProbe()
    t = _run(AdaptiveGradientClipping(clip_factor=0.01), probe)
    assert max(probe.ratios) <= 1.0 + 1e-5
    assert 0.0 < t.callback_metrics["agc_clipped_fraction"].item() <= 1.0


def test_unitwise_scales_match_the_per_tensor_formula_for_every_shape():
    # rows of a matrix, output channels of a conv kernel, a whole bias vector, a scalar
    gen = torch.Generator().manual_seed(0)
    shapes = [(16, 8), (4, 3, 3, 3), (16,), ()]
    params = [torch.randn(s, generator=gen) * 0.1 for s in shapes]
    grads = [torch.randn(s, generator=gen) * 0.05 for s in shapes]
    expected = []
    for p, g in zip(params, grads, strict=True):
        dims = tuple(range(1, p.ndim)) if p.ndim > 1 else None
        bound = 0.05 * torch.linalg.vector_norm(p, dim=dims, keepdim=True).clamp_min(1e-3)
        norm = torch.linalg.vector_norm(g, dim=dims, keepdim=True)
        expected.append(g * (bound / norm).clamp(max=1.0))
    cb = AdaptiveGradientClipping(clip_factor=0.05)
    with torch.no_grad():
        cb._clip_unitwise(list(zip(params, grads, strict=True)), sample=True)
    for got, want in zip(grads, expected, strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)
    assert 0.0 < cb._epoch_stats["agc_clipped_fraction"][0] <= 1.0


def test_excluded_parameters_are_not_clipped():
    probe = GradProbe()
    _run(AdaptiveGradientClipping(clip_factor=0.01, exclude=["net.3."]), probe)
    assert max(probe.ratios) > 1.0  # the excluded head keeps gradients above the bound


def test_percentile_mode_keeps_a_window_and_logs():
    cb = AdaptiveGradientClipping(mode="percentile", percentile=50, window=8, min_history=4)
    probe = GradProbe()
    t = _run(cb, probe)
    assert cb.mode is ClipMode.PERCENTILE
    assert len(cb.history) == 8
    assert "agc_threshold" in t.callback_metrics
    assert "grad_norm" in t.callback_metrics


def test_percentile_threshold_bounds_every_later_step():
    cb = AdaptiveGradientClipping(mode="percentile", percentile=50, window=1000, min_history=4)
    probe = GradProbe()

    class Thresholds(pl.Callback):
        def __init__(self):
            self.limits: list[float | None] = []

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            # runs before the clipping callback: the threshold that will be applied now
            self.limits.append(cb.threshold())

    limits = Thresholds()
    t = trainer([limits, cb, probe], max_epochs=2)
    t.fit(ScheduleModel(lr=0.05, dropout=0.0))
    assert limits.limits[:4] == [None] * 4
    for limit, total in zip(limits.limits[4:], probe.totals[4:], strict=True):
        assert limit is not None and total <= limit * (1 + 1e-5)


def test_resume_restores_the_norm_history(tmp_path):
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, filename="{epoch}")
    first = AdaptiveGradientClipping(mode="percentile", window=50, min_history=2)
    trainer([first, ckpt], max_epochs=1, enable_checkpointing=True).fit(ScheduleModel())
    saved = list(first.history)
    resumed = AdaptiveGradientClipping(mode="percentile", window=50, min_history=2)

    class Check(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            self.at_start = list(resumed.history)

    check = Check()
    trainer([resumed, check], max_epochs=2).fit(
        ScheduleModel(), ckpt_path=str(tmp_path / "epoch=0.ckpt")
    )
    assert check.at_start == saved and len(saved) == 12
    assert len(resumed.history) == 24


def test_gradient_clip_val_conflict_names_the_fix():
    t = trainer([AdaptiveGradientClipping()], gradient_clip_val=1.0)
    with pytest.raises(ConfigError, match=r"gradient_clip_val=1.0.*remove gradient_clip_val"):
        t.fit(ScheduleModel())


def test_bf16_mixed_precision_on_cpu():
    probe = GradProbe()
    t = _run(AdaptiveGradientClipping(clip_factor=0.01), probe, precision="bf16-mixed")
    assert max(probe.ratios) <= 1.0 + 1e-5
    assert t.callback_metrics["agc_clipped_fraction"].item() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clip_factor": 0}, "clip_factor must be a finite number > 0"),
        ({"mode": "global"}, "mode must be 'unitwise' or 'percentile'"),
        ({"percentile": 0}, r"percentile must be in \(0, 100\]"),
        ({"window": 0}, "window must be an integer >= 1"),
        ({"window": 5, "min_history": 6}, "min_history=6 exceeds window=5"),
        ({"eps": -1}, "eps must be > 0"),
        ({"exclude": "head."}, r"write exclude=\['head.'\]"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AdaptiveGradientClipping(**kwargs)
