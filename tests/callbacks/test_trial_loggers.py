from __future__ import annotations

import csv

import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from lightning_autotune.callbacks import log_trial_result, trial_loggers
from lightning_autotune.exceptions import ConfigError


class _Tiny(LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 2, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def test_each_trial_logs_into_its_own_folder_with_its_params(tmp_path):
    user_logger = CSVLogger(tmp_path, name="runs")
    for number, lr in enumerate([0.1, 0.01]):
        params = {"lr": lr, "opt": "sgd"}
        loggers = trial_loggers(user_logger, number, params, study_name="my study/1")
        trainer = Trainer(
            max_epochs=2,
            logger=loggers,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
        )
        trainer.fit(_Tiny(lr), _loader(), _loader())
        log_trial_result(loggers, float(trainer.callback_metrics["val_loss"]), step=1)
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert folders == ["my_study_1_trial_0000", "my_study_1_trial_0001"]
    run = tmp_path / "runs" / "my_study_1_trial_0001"
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams == {"lr": 0.01, "opt": "sgd", "trial_number": 1}
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert any(r.get("val_loss") for r in rows)
    assert any(r.get("hp_metric") for r in rows)


def test_logging_off_default_and_bad_logger(tmp_path):
    assert trial_loggers(False, 0, {"x": 1}) is False
    (default,) = trial_loggers(None, 3, {"x": 1}, save_dir=tmp_path)  # type: ignore[misc]
    assert default.version == "trial_0003"
    assert str(tmp_path) in str(default.log_dir)
    with pytest.raises(ConfigError, match=r"logger must be a Lightning Logger.*got str"):
        trial_loggers("csv", 0, {"x": 1})


def test_tensorboard_logger_is_cloned(tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger

    (clone,) = trial_loggers(TensorBoardLogger(tmp_path, name="tb"), 2, {"lr": 0.1})  # type: ignore[misc]
    assert isinstance(clone, TensorBoardLogger)
    assert clone.version == "trial_0002" and clone.name == "tb"
