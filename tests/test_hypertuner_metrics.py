"""HyperTuner's `metric=`: torchmetrics by name or instance, over the whole validation set."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import torchmetrics
from torch import nn
from torch.utils.data import TensorDataset

from lightning_autotune import HyperTuner, TrialState
from lightning_autotune.exceptions import ConfigError

SPACE = {"learning_rate": {"type": "continuous", "min": 1e-3, "max": 1e-2, "scale": "log"}}


class Fixed(nn.Module):
    """Deterministic logits: `x @ W` with fixed weights, and no training (learning rate 0
    would be refused, so the weights are buffers, with one unused parameter for the optimizer)."""

    def __init__(self, n_classes: int = 3):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(4, n_classes, generator=gen))
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x @ self.w + 0.0 * self.unused


def _data(n: int = 300, n_classes: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = torch.randint(0, n_classes, (n,), generator=gen)
    return TensorDataset(x, y)


def _tune(tuner: HyperTuner, train, val, **kwargs):
    tuner.set_search_space(SPACE).set_search_strategy(method="random", seed=0)
    tuner.optimize(train, val, max_trials=1, max_epochs=1, storage=None, progress=False,
                   trainer_kwargs={"accelerator": "cpu"}, **kwargs)  # fmt: skip
    (trial,) = tuner.study.trials
    assert trial.state is TrialState.COMPLETE, trial.reason
    return trial.value


def test_accuracy_is_over_the_whole_validation_set_not_a_mean_of_batches():
    val = _data(300)  # batches of 256 and 44: their mean differs from the global value
    x, y = val.tensors
    hits = (Fixed()(x).argmax(-1) == y).float()
    per_batch = (hits[:256].mean() + hits[256:].mean()) / 2
    assert abs(float(per_batch) - float(hits.mean())) > 1e-3
    value = _tune(HyperTuner(Fixed, nn.CrossEntropyLoss(), metric="accuracy"), _data(64), val)
    assert value == pytest.approx(float(hits.mean()), abs=1e-6)


class _Four(Fixed):
    def __init__(self):
        super().__init__(n_classes=4)


def test_f1_infers_multiclass_and_the_number_of_classes_from_the_data():
    val = _data(300, n_classes=4, seed=1)
    x, y = val.tensors
    model = Fixed(n_classes=4)
    expected = torchmetrics.functional.f1_score(model(x), y, task="multiclass", num_classes=4)
    tuner = HyperTuner(_Four, nn.CrossEntropyLoss(), metric="f1")
    assert tuner.direction.value == "maximize"
    assert tuner.metric_choice.kwargs == {}  # nothing told: task and classes come from the data
    value = _tune(tuner, _data(64, 4), val)
    assert value == pytest.approx(float(expected), abs=1e-6)


class Tagger(nn.Module):
    """Sequence logits N x T x C from fixed weights over per-token features N x T x 4."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(2)
        self.register_buffer("w", torch.randn(4, 5, generator=gen))
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x @ self.w + 0.0 * self.unused


def test_sequence_outputs_count_only_labels_that_are_not_the_ignore_index():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 7, 4, generator=gen)
    y = torch.randint(0, 5, (40, 7), generator=gen)
    y[:, 5:] = -100  # padding
    y[::3, 3:] = -100
    val = TensorDataset(x, y)
    pred = Tagger()(x).argmax(-1)
    keep = y != -100
    expected = float((pred[keep] == y[keep]).float().mean())
    value = _tune(HyperTuner(Tagger, nn.CrossEntropyLoss(), metric="accuracy"), val, val)
    assert value == pytest.approx(expected, abs=1e-6)
    # the same with the ignore index given to the metric, and a loss that does not know it
    tuner = HyperTuner(Tagger, nn.CrossEntropyLoss(ignore_index=-100), metric="accuracy",
                       metric_kwargs={"ignore_index": -100})  # fmt: skip
    assert _tune(tuner, val, val) == pytest.approx(expected, abs=1e-6)


def test_a_torchmetrics_instance_is_updated_per_batch_and_computed_once():
    val = _data(300)
    x, y = val.tensors
    metric = torchmetrics.classification.MulticlassPrecision(num_classes=3, average="macro")
    expected = float(metric(Fixed()(x), y))
    metric.reset()
    tuner = HyperTuner(Fixed, nn.CrossEntropyLoss(), metric=metric)
    assert tuner.direction.value == "maximize"  # from the instance's higher_is_better
    assert _tune(tuner, _data(64), val) == pytest.approx(expected, abs=1e-6)


def test_regression_metrics_minimize_and_need_no_task():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(300, 4, generator=gen)
    val = TensorDataset(x, torch.randn(300, 1, generator=gen))

    class Reg(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 1)

        def forward(self, x):
            return self.lin(x)

    tuner = HyperTuner(Reg, nn.MSELoss(), metric="mae")
    assert tuner.direction.value == "minimize"
    assert _tune(tuner, val, val) > 0


def test_an_unknown_name_lists_the_names_there_are():
    with pytest.raises(ConfigError, match=r"metric must be one of \['accuracy', 'auroc', 'f1', "
                       r"'loss', 'mae', 'mse', 'precision', 'r2', 'recall'\] or a "
                       r"torchmetrics.Metric, got 'val_myscore'"):  # fmt: skip
        HyperTuner(Fixed, nn.CrossEntropyLoss(), metric="val_myscore")


def test_a_direction_against_the_metric_is_refused():
    with pytest.raises(ConfigError, match=r"direction='minimize' goes against metric='accuracy',"
                       r" for which higher is better; pass direction='maximize'"):  # fmt: skip
        HyperTuner(Fixed, nn.CrossEntropyLoss(), metric="accuracy", direction="minimize")


def test_an_ambiguous_task_asks_for_metric_kwargs():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(32, 4, generator=gen)
    val = TensorDataset(x, torch.rand(32, 3, generator=gen))  # float targets: multilabel?
    tuner = HyperTuner(Fixed, nn.BCEWithLogitsLoss(), metric="auroc")
    # a setup error: it ends the study at its first trial, with the fix in the message
    with pytest.raises(ConfigError, match=r"metric='auroc': cannot tell the task from the first "
                       r"validation batch \(output shape \(32, 3\), labels shape \(32, 3\), "
                       r"dtype torch.float32\); pass metric_kwargs=\{'task': "):  # fmt: skip
        _tune(tuner, val, val)
    tuner = HyperTuner(Fixed, nn.BCEWithLogitsLoss(), metric="auroc",
                       metric_kwargs={"task": "multilabel", "num_labels": 3})  # fmt: skip
    val = TensorDataset(x, (torch.rand(32, 3, generator=gen) > 0.5).float())
    assert 0 <= _tune(tuner, val, val) <= 1


class Scorer(pl.LightningModule):
    """A LightningModule that logs its own metric."""

    def __init__(self, learning_rate: float = 0.01):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.lr = learning_rate

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.lin(x), y)

    def validation_step(self, batch, batch_idx):
        self.log("val_myscore", torch.tensor(0.25 + self.lr))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def test_a_metric_the_lightning_model_logs_itself():
    tuner = HyperTuner(Scorer, nn.CrossEntropyLoss(), metric="val_myscore", direction="maximize")
    value = _tune(tuner, _data(64), _data(64))
    assert value == pytest.approx(0.25 + tuner.study.trials[0].params["learning_rate"])
    with pytest.raises(ConfigError, match=r"metric='val_myscore' is logged by the model, so its "
                       r"direction is not known here; pass direction="):  # fmt: skip
        HyperTuner(Scorer, nn.CrossEntropyLoss(), metric="val_myscore")
