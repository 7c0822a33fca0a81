"""Describe the task of a `fit` call from its `build`, before the first trial runs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from lightning_autotune._trial_run import TrialBuilder, unpack_built
from lightning_autotune.knowledge._descriptor import DataFeatures, ModelFeatures
from lightning_autotune.knowledge._features import describe_data, describe_model
from lightning_autotune.space import SearchSpace

__all__ = ["KnowledgeWarning", "describe_build"]


class KnowledgeWarning(UserWarning):
    """A task's meta-features could not be computed; the study runs without them."""


def describe_build(
    build: Callable[[dict[str, Any]], Any] | TrialBuilder, space: SearchSpace
) -> tuple[DataFeatures | None, ModelFeatures | None]:
    """Meta-features of the data and model `build` makes for the centre of `space`.

    `build` is called once more than the trials call it (for the configuration at the centre
    of every range); the data are set up for 'fit' and at most `SAMPLE` examples are read. A
    `build` that needs its trial (a `TrialBuilder`) is not called.

    Returns:
        The data's and the model's features; None for either one that could not be
        computed (with a `KnowledgeWarning` naming why).
    """
    if isinstance(build, TrialBuilder):
        return None, None
    try:
        centre = space.decode(np.full((1, space.dim), 0.5))[0]
        built = unpack_built(build(centre))
    except Exception as err:  # a build that fails here will fail in its trial, with its reason
        warnings.warn(
            f"the task descriptor has no data or model features: build(params) failed on the "
            f"centre of the space with {type(err).__name__}: {err}",
            KnowledgeWarning,
            stacklevel=3,
        )
        return None, None
    model = describe_model(built.module)
    data_source = built.data.get("datamodule") or built.data.get("train_dataloaders")
    try:
        if data_source is None:
            data_source = built.module.train_dataloader()
        data = describe_data(data_source)
    except Exception as err:  # the data may be unreachable outside a Trainer
        warnings.warn(
            f"the task descriptor has no data features: {type(err).__name__}: {err}",
            KnowledgeWarning,
            stacklevel=3,
        )
        data = None
    return data, model
