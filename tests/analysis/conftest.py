"""Studies driven by ask/tell for the analysis tests: curves, pruned and failed trials."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_autotune import InMemoryStorage, RandomSampler, create_study
from lightning_autotune.study import Study
from lightning_autotune.trial import TrialState

MIXED_SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    "layers": {"type": "integer", "min": 1, "max": 4},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    "momentum": {"type": "continuous", "min": 0.5, "max": 0.99, "when": {"optimizer": "sgd"}},
}


def mixed_loss(params: dict) -> float:
    """A loss with a known shape: best near lr=10**-2.5, few layers, adam."""
    loss = (math.log10(params["lr"]) + 2.5) ** 2 + 0.1 * params["layers"]
    if params["optimizer"] == "sgd":
        loss += 0.3 - 0.2 * params["momentum"]
    return loss


def run_mixed(study: Study, n: int = 24, steps: int = 5) -> Study:
    """Ask/tell loop: every trial reports `steps` values; every 4th is pruned, one fails."""
    for i in range(n):
        trial = study.ask()
        final = mixed_loss(trial.params)
        stop = 2 if i % 4 == 3 else steps
        for step in range(stop):
            trial.report(step, final + 1.0 / (step + 1), {"val_loss": final + 1.0 / (step + 1)})
        if i % 4 == 3:
            study.tell(trial, state=TrialState.PRUNED, reason="MedianPruner at step 1")
        elif i == 6:
            study.tell(trial, state=TrialState.FAILED, reason="RuntimeError: <b>boom</b>")
        else:
            study.tell(trial, final)
    return study


@pytest.fixture
def mixed_study() -> Study:
    """24 trials over a log float, an int, a categorical and a conditional float."""
    study = create_study(
        "mixed <study>", MIXED_SPACE, InMemoryStorage(), sampler=RandomSampler(), seed=0
    )
    return run_mixed(study)


@pytest.fixture(scope="session")
def linear_study() -> Study:
    """40 random trials of f = 10*x1 + 0.1*x2 + 0*x3: importance is known in advance."""
    space = {f"x{i}": {"type": "continuous", "min": 0.0, "max": 1.0} for i in (1, 2, 3)}
    study = create_study("linear", space, InMemoryStorage(), sampler=RandomSampler(), seed=1)
    for _ in range(40):
        trial = study.ask()
        p = trial.params
        study.tell(trial, 10 * p["x1"] + 0.1 * p["x2"] + 0 * p["x3"])
    return study


@pytest.fixture(scope="session")
def linear_result(linear_study):
    """Sensitivity of the linear study (fitted once per session: GP fits are the slow part)."""
    from lightning_autotune.analysis import sensitivity_analysis

    return sensitivity_analysis(linear_study, n_samples=512)


def check_png(path, width: int, height: int) -> np.ndarray:
    """Open a PNG written by a plot, check its pixel size and that it is not blank."""
    from matplotlib.image import imread

    image = imread(str(path))
    assert image.shape[0] == height and image.shape[1] == width, image.shape
    rgb = image[..., :3].reshape(-1, 3)
    assert float(rgb.std()) > 0.01
    assert len(np.unique(np.round(rgb, 2), axis=0)) > 10
    return image
