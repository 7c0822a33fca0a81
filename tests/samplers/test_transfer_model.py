"""The transfer sampler's model: this task's residuals from the earlier tasks' weighted mean."""

from __future__ import annotations

import numpy as np
import torch

from lightning_autotune.samplers import TransferSampler, WarmSource
from lightning_autotune.samplers._transfer_model import fit_stacked, fit_task_gp
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def bowl(c, cx=0.3, cy=0.7):
    return (c["x"] - cx) ** 2 + (c["y"] - cy) ** 2


def _cell(c):
    return min(int(c["x"] * 4), 3), min(int(c["y"] * 4), 3)


def plateau(c):
    """A bowl centred far from the earlier tasks' optimum, constant on each cell of a 4 x 4 grid
    (as a table of configurations looked up by the nearest row is)."""
    i, j = _cell(c)
    return bowl({"x": (i + 0.5) / 4, "y": (j + 0.5) / 4}, 0.8, 0.2)


def test_this_tasks_observations_override_the_earlier_tasks_where_it_has_looked():
    rng = np.random.default_rng(0)
    Xs = rng.uniform(size=(20, 1))
    source = fit_task_gp(Xs, Xs[:, 0], 0)  # the earlier task: lowest at x = 0
    Xt = np.array([[0.1], [0.5], [0.9]])
    target = fit_task_gp(Xt, 1.0 - Xt[:, 0], 0)  # this task: lowest at x = 1
    model = fit_stacked([source], np.ones(1), target, 0)  # all the weight on the earlier task
    with torch.no_grad():
        mu, var = model.predict(torch.tensor([[0.1], [0.5], [0.9], [0.3]], dtype=torch.float64))
    assert mu[0] < mu[1] < mu[2]  # higher is better: ordered as this task's own values
    assert np.allclose(mu[:3].numpy(), target.y, atol=0.2)  # its values, not the prior's
    assert float(var[:3].max()) < 0.1 * float(var[3])  # certain where observed, not between


def test_a_sampler_misled_by_the_earlier_tasks_moves_on_instead_of_staying_where_they_agree():
    store = InMemoryStorage()
    for i in range(3):
        old = create_study(f"old{i}", SPACE, store, seed=i)
        for c in SPACE.sample(15, i):
            old.tell(old.ask(c), bowl(c, 0.28 + 0.02 * i, 0.7))
    sources = [WarmSource(store, f"old{i}") for i in range(3)]
    sampler = TransferSampler(sources, seed=0, raw_samples=64)
    study = create_study("new", SPACE, store, sampler=sampler, seed=0)
    study.optimize(lambda t: plateau(t.params), max_trials=10)
    cells = {_cell(t.params) for t in study.trials}
    assert len(cells) >= 3  # not ten proposals in the cell the earlier tasks point to
    assert study.best_value < 0.25  # that cell's value is 0.36; the best cell's 0.011
