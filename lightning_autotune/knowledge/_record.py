"""Describe the task of a `fit` call from what its `build` makes.

Normally from the first trial's own build (`DescribingBuild`), so describing costs no extra
model or data; with a knowledge base to choose from, before the study starts (`describe_build`,
one extra build), since the similar tasks are chosen then.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune._trial_run import TrialBuilder, unpack_built
from lightning_autotune.exceptions import StudyNotFoundError
from lightning_autotune.knowledge._descriptor import DataFeatures, ModelFeatures
from lightning_autotune.knowledge._features import describe_data, describe_model
from lightning_autotune.space import SearchSpace

if TYPE_CHECKING:
    from lightning_autotune.trial import Trial

__all__ = ["DescribingBuild", "KnowledgeWarning", "describe_build", "describe_built"]


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
    return describe_built(built)


def describe_built(built: Any) -> tuple[DataFeatures | None, ModelFeatures]:
    """Meta-features of what a `build` returned (a `BuiltTrial` or anything `unpack_built`
    takes); the data's are None, with a `KnowledgeWarning`, when they cannot be read."""
    built = unpack_built(built)
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


class DescribingBuild(TrialBuilder):
    """A `build` that also records the study's task descriptor from its first result.

    The first build of the run describes the model and data it made and records them with
    `objective` and `tags`; a trial in another process finds them recorded and describes
    nothing. What the trial trains is untouched.

    Args:
        build: The user's `build(params)` or `TrialBuilder`.
        objective: The name of what the study optimizes.
        tags: User tags.
    """

    def __init__(
        self,
        build: Callable[[dict[str, Any]], Any] | TrialBuilder,
        objective: str | None,
        tags: Mapping[str, Any] | None,
    ) -> None:
        self.build = build
        self.objective = objective
        self.tags = dict(tags or {})
        self._described = False

    def build_trial(self, trial: Trial) -> Any:
        if isinstance(self.build, TrialBuilder):
            built = self.build.build_trial(trial)
        else:
            built = self.build(dict(trial.params))
        if not self._described:
            self._described = True
            self._record(trial, built)
        return built

    def _record(self, trial: Trial, built: Any) -> None:
        from lightning_autotune.knowledge._base import KnowledgeBase

        kb = KnowledgeBase(trial.study.storage)
        try:
            known = kb.task(trial.study.name)
        except StudyNotFoundError:
            known = None
        if known is not None and known.data is not None and known.model is not None:
            return  # an earlier trial, maybe in another process, described this run's task
        try:
            data, model = describe_built(built)
        except Exception as err:  # the trial reports a bad build itself
            warnings.warn(
                f"the task descriptor has no data or model features: {type(err).__name__}: {err}",
                KnowledgeWarning,
                stacklevel=3,
            )
            return
        kb.record(
            trial.study.name, objective=self.objective, data=data, model=model, tags=self.tags
        )
