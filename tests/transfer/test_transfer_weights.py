from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch import nn

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.transfer import TransferError, load_weights, match_keys


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_state_dict_module_and_torch_save_file_give_the_same_tensors(tmp_path):
    net = _net()
    path = tmp_path / "w.pt"
    torch.save(net.state_dict(), path)
    for source in (net.state_dict(), net, path, str(path)):
        loaded = load_weights(source)
        assert sorted(loaded) == sorted(net.state_dict())
        for k, v in net.state_dict().items():
            assert torch.equal(loaded[k], v)


def test_lightning_checkpoint_uses_its_state_dict(tmp_path):
    import lightning.pytorch as pl

    from lightning_autotune.testing import (
        TINY_TRAINER_KWARGS,
        TinyClassifier,
        loaders,
        random_datasets,
    )

    model = TinyClassifier(n_features=16, n_classes=3)
    kwargs = {**TINY_TRAINER_KWARGS, "max_epochs": 1, "enable_checkpointing": True}
    pl.Trainer(**kwargs, default_root_dir=tmp_path).fit(model, *loaders(*random_datasets()))
    (path,) = tmp_path.rglob("*.ckpt")  # holds hyperparameters, loops and optimizer states too
    loaded = load_weights(path)
    assert sorted(loaded) == sorted(model.state_dict())
    assert torch.equal(loaded["net.0.weight"], model.net[0].weight.detach())


class _Exploit:
    """Unpickling this would run a shell command that writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_file_that_needs_unpickling_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"fc.weight": _Exploit(str(marker))}, f)
    with pytest.raises(TransferError, match=r"would unpickle arbitrary Python objects"):
        load_weights(path)
    assert not marker.exists()
    # the same through torch.save's zip format
    torch.save({"fc.weight": _Exploit(str(marker))}, path)
    with pytest.raises(TransferError, match=r"weights_only=True"):
        load_weights(path)
    assert not marker.exists()


def test_missing_file_and_content_without_tensors(tmp_path):
    with pytest.raises(TransferError, match="no file at"):
        load_weights(tmp_path / "absent.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(TransferError, match="holds a list, not a state dict"):
        load_weights(tmp_path / "list.pt")
    with pytest.raises(TransferError, match="holds no tensors"):
        load_weights({"step": 3})
    with pytest.raises(ConfigError, match="got int"):  # TransferError is a ConfigError
        load_weights(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("weights", "model", "phrase"),
    [
        ({"module.fc.weight"}, {"fc.weight"}, "stripped 'module.'"),
        ({"model.fc.weight"}, {"fc.weight"}, "stripped 'model.'"),
        ({"fc.weight"}, {"model.fc.weight"}, "added 'model.'"),
        ({"module.model.fc.weight"}, {"fc.weight"}, "stripped 'module.model.'"),
        ({"fc.weight"}, {"fc.weight"}, "names matched as they are"),
    ],
)
def test_wrapper_prefixes_are_matched_and_reported(weights, model, phrase):
    match = match_keys(model, weights)
    assert phrase in match.describe()
    assert match.matched == 1
