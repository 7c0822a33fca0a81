from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_autotune._subset import labels_of, stratified_indices, subset_loader
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.objective import LightningObjective
from lightning_autotune.testing import TinyClassifier


def test_stratified_subset_keeps_each_class_share_and_is_deterministic():
    labels = np.array([0] * 80 + [1] * 20)
    a = stratified_indices(labels, 100, 0.25, seed=3)
    b = stratified_indices(labels, 100, 0.25, seed=3)
    assert a.tolist() == b.tolist()
    assert (labels[a] == 0).sum() == 20 and (labels[a] == 1).sum() == 5
    assert stratified_indices(labels, 100, 0.25, seed=4).tolist() != a.tolist()


def test_smaller_fraction_is_a_subset_of_a_larger_one():
    labels = np.arange(200) % 7
    small = set(stratified_indices(labels, 200, 0.1).tolist())
    large = set(stratified_indices(labels, 200, 0.5).tolist())
    assert small < large


def test_every_class_keeps_at_least_one_example():
    labels = np.array([0] * 99 + [1])
    idx = stratified_indices(labels, 100, 0.01)
    assert sorted(labels[idx].tolist()) == [0, 1]


def test_labels_of_a_regression_target_are_none():
    ds = TensorDataset(torch.randn(50, 3), torch.randn(50))
    assert labels_of(ds) is None
    ds = TensorDataset(torch.randn(50, 3), torch.arange(50) % 3)
    assert labels_of(ds).tolist() == (np.arange(50) % 3).tolist()


def test_subset_loader_keeps_batch_size_and_shuffling():
    ds = TensorDataset(torch.randn(40, 3), torch.arange(40) % 2)
    loader = subset_loader(DataLoader(ds, batch_size=4, shuffle=True), 0.5)
    assert loader.batch_size == 4 and len(loader.dataset) == 20
    assert type(loader.sampler).__name__ == "RandomSampler"


def test_subset_of_an_unsized_loader_is_refused():
    with pytest.raises(ConfigError, match=r"data_fraction=0.5.*not a DataLoader"):
        subset_loader([1, 2, 3], 0.5)


@pytest.mark.parametrize("bad", [0, 0.0, 1.5, -0.1, "half"])
def test_objective_refuses_a_bad_data_fraction(bad):
    with pytest.raises(ConfigError, match=r"data_fraction must be a fraction.*in \(0, 1\]"):
        LightningObjective(lambda p: TinyClassifier(), data_fraction=bad)


def test_objective_refuses_an_unknown_fidelity():
    with pytest.raises(ConfigError, match=r"fidelity must be one of.*'epochs'"):
        LightningObjective(lambda p: TinyClassifier(), fidelity="epochs")
