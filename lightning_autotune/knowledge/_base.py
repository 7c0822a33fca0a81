"""`KnowledgeBase`: the studies of a store, read as tasks that teach the next one."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError, StudyNotFoundError
from lightning_autotune.knowledge._descriptor import DataFeatures, ModelFeatures, TaskDescriptor
from lightning_autotune.knowledge._features import hardware, package_versions
from lightning_autotune.knowledge._table import load_descriptors, save_descriptor
from lightning_autotune.samplers._transfer_map import WarmSource, check_mappable, load_source
from lightning_autotune.samplers._transfer_portfolio import greedy_portfolio
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage, get_storage
from lightning_autotune.trial import Direction, TrialState

__all__ = ["KnowledgeBase", "SimilarTask"]


@dataclass(frozen=True)
class SimilarTask:
    """An earlier task and how close it is to the one asked about.

    Attributes:
        study: The earlier study's name.
        distance: `TaskDescriptor.distance` (0: alike).
        n_complete: Its COMPLETE trials.
    """

    study: str
    distance: float
    n_complete: int

    @property
    def similarity(self) -> float:
        """`exp(-distance)`, in (0, 1]."""
        return math.exp(-self.distance)


class KnowledgeBase:
    """Every study of a store as a task: what it tuned, and what did well there.

    Args:
        storage: The store (a URL or a `Storage`).

    Example:
        >>> kb = KnowledgeBase("sqlite://")
        >>> kb.tasks()
        []
    """

    def __init__(self, storage: Storage | str) -> None:
        self.storage = get_storage(storage)

    def __repr__(self) -> str:
        return f"KnowledgeBase({getattr(self.storage, 'url', None) or 'memory'})"

    def tasks(self) -> list[TaskDescriptor]:
        """The descriptor of every study in the store, in creation order."""
        return load_descriptors(self.storage)

    def task(self, name: str) -> TaskDescriptor:
        """The descriptor of study `name`.

        Raises:
            StudyNotFoundError: No such study (the message lists the names there are).
        """
        for t in self.tasks():
            if t.study == name:
                return t
        names = [t.study for t in self.tasks()]
        raise StudyNotFoundError(f"no study named {name!r} in {self!r}; it has {names}")

    def record(
        self,
        study: str,
        *,
        objective: str | None = None,
        data: DataFeatures | None = None,
        model: ModelFeatures | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> TaskDescriptor:
        """Record (or replace) what study `study` tuned, with this machine's hardware and the
        installed package versions.

        Args:
            study: The study's name.
            objective: The name of what it optimizes.
            data: `describe_data(...)` of its training data.
            model: `describe_model(...)` of its model.
            tags: User tags (JSON-serializable values).

        Raises:
            StudyNotFoundError: No such study.
            ConfigError: A tag is not JSON-serializable.
        """
        info = self.storage.get_study(study)
        descriptor = TaskDescriptor(
            study=study,
            space=info.space,
            directions=tuple(d.value for d in info.directions),
            objective=objective,
            data=data,
            model=model,
            hardware=MappingProxyType(hardware()),
            versions=MappingProxyType(package_versions()),
            tags=MappingProxyType(dict(tags or {})),
        )
        save_descriptor(self.storage, info, descriptor)
        return descriptor

    def _as_task(self, task: str | TaskDescriptor) -> TaskDescriptor:
        return self.task(task) if isinstance(task, str) else task

    def similar(self, task: str | TaskDescriptor, k: int = 5) -> list[SimilarTask]:
        """The `k` earlier tasks closest to `task` that have COMPLETE trials and share
        parameters with it (whose shared parameters keep their kind), closest first.

        Args:
            task: A study name in this store, or a descriptor (e.g. of a study not yet run).
            k: How many.
        """
        k = check_int(k, "KnowledgeBase.similar: k")
        target = self._as_task(task)
        space = SearchSpace.from_dict(target.space)
        found: list[SimilarTask] = []
        for other in self.tasks():
            if other.study == target.study:
                continue
            distance = target.distance(other)
            if not math.isfinite(distance):
                continue
            try:
                check_mappable(SearchSpace.from_dict(other.space), space, other.study)
            except ConfigError:
                continue
            info = self.storage.get_study(other.study)
            n = len(self.storage.get_trials(info.study_id, states=[TrialState.COMPLETE]))
            if n:
                found.append(SimilarTask(other.study, distance, n))
        found.sort(key=lambda s: (s.distance, s.study))
        return found[:k]

    def sources(self, task: str | TaskDescriptor, k: int = 5) -> list[WarmSource]:
        """The `k` closest earlier tasks as warm-start sources."""
        return [WarmSource(self.storage, s.study) for s in self.similar(task, k)]

    def suggest(self, task: str | TaskDescriptor, n: int = 5, k: int = 5) -> list[dict[str, Any]]:
        """A zero-shot portfolio: `n` configurations of `task`'s space that together did well
        on the `k` most similar earlier tasks (see `samplers._transfer_portfolio`).

        Args:
            task: A study name in this store, or a descriptor of a task not yet run.
            n: Configurations to return (fewer when the earlier tasks hold fewer).
            k: Earlier tasks to cover, each weighted by its similarity.

        Returns:
            Configurations of `task`'s space; empty when no earlier task is related.
        """
        n = check_int(n, "KnowledgeBase.suggest: n")
        target = self._as_task(task)
        space = SearchSpace.from_dict(target.space)
        directions = tuple(Direction(d) for d in target.directions)
        similar = self.similar(target, k)
        data = [load_source(WarmSource(self.storage, s.study), space, directions) for s in similar]
        return greedy_portfolio(data, n, [s.similarity for s in similar])

    @staticmethod
    def describe(
        name: str,
        space: SearchSpace | Mapping[str, Any],
        direction: str = "minimize",
        *,
        objective: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> TaskDescriptor:
        """A descriptor of a task not yet in the store, for `similar` and `suggest`.

        Example:
            >>> KnowledgeBase.describe("next", {"lr": {"type": "continuous", "min": 0.001,
            ...     "max": 0.1}}).directions
            ('minimize',)
        """
        space_dict = space.to_dict() if isinstance(space, SearchSpace) else dict(space)
        return TaskDescriptor(
            study=name,
            space=space_dict,
            directions=(Direction.parse(direction, "direction").value,),
            objective=objective,
            tags=MappingProxyType(dict(tags or {})),
        )
