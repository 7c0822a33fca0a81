"""`create_study` and `load_study`: open a study in a store, checking its definition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import ConfigError, DuplicateStudyError, StudyMismatchError
from lightning_autotune.knowledge import (
    WARM_ATTR,
    WarmStartMode,
    rebuild_sampler,
    resolve_warm_start,
)
from lightning_autotune.pruners import Pruner
from lightning_autotune.samplers import BoTorchSampler, MultiObjectiveBoTorchSampler, Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage, get_storage
from lightning_autotune.study._study import Study
from lightning_autotune.trial import Direction

__all__ = ["create_study", "load_study"]


def create_study(
    name: str | None = None,
    space: SearchSpace | Mapping[str, Any] | None = None,
    storage: Storage | str | None = None,
    direction: str | Direction | None = None,
    *,
    directions: Sequence[str | Direction] | None = None,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    seed: int | None = None,
    load_if_exists: bool = True,
    stale_after: float | None = None,
    warm_start: Any = None,
    warm_start_mode: str | WarmStartMode | None = None,
) -> Study:
    """Create a study, or re-open the one of that name (checking it has the same space/directions).

    Args:
        name: Unique name in the store (default: 'study-N' for the next free N).
        space: A `SearchSpace` or its dict format.
        storage: None (in memory), a URL ('sqlite:///autotune.db', 'postgresql://...') or a store.
        direction: 'minimize' (default) or 'maximize'.
        directions: One direction per objective, for several objectives.
        sampler: Default `BoTorchSampler(seed=seed)` (`MultiObjectiveBoTorchSampler` for several
            objectives or a constrained space): its Sobol initial design is scrambled with the
            study's seed.
        pruner: Default None (no pruning).
        seed: Makes the sequence of proposals reproducible.
        load_if_exists: Re-open an existing study of that name (else raise).
        stale_after: Seconds without a heartbeat after which a RUNNING trial started by `ask`
            counts as dead: the next `ask` or opening of the study fails it and it stops
            counting as pending (None: only trials whose process on this host is gone). A
            trial refreshes it with `heartbeat()` or `report()`. Stored
            with the study, so every process that opens it applies the same lease.
        warm_start: Earlier studies whose observations inform the sampler without becoming
            this study's trials: a study name in the same store or a list of them, a
            `knowledge.KnowledgeBase` (its most similar tasks), a `knowledge.WarmSource`, a
            `knowledge.OptunaSource` or an `optuna.Study` (imported once into this store).
            The study then uses `knowledge.TransferSampler` (give no `sampler`); see
            docs/knowledge.md.
        warm_start_mode: `knowledge.WarmStartMode` or its name: 'transfer' (the default),
            'zero_shot' (the default with a knowledge base: a portfolio of the earlier best
            configurations first) or 'same_task'.

    Raises:
        StudyMismatchError: The stored study has another space or directions; lists differences.
        DuplicateStudyError: The name exists and `load_if_exists` is False.
        ConfigError: No space, or a direction that is not 'minimize'/'maximize'.
        SearchSpaceError: The space is malformed.
    """
    if warm_start is not None and sampler is not None:
        raise ConfigError(
            f"give warm_start or sampler, not both (got sampler={sampler!r}): warm_start builds "
            "its TransferSampler; pass TransferSampler(sources, ...) as sampler to set it up "
            "yourself"
        )
    if warm_start is None and warm_start_mode is not None:
        raise ConfigError(
            f"warm_start_mode={warm_start_mode!r} needs warm_start (the earlier studies)"
        )
    if space is None:
        raise ConfigError("create_study needs a search space: space={'lr': {...}, ...}")
    space = space if isinstance(space, SearchSpace) else SearchSpace.from_dict(space)
    if direction is not None and directions is not None:
        raise ConfigError(
            f"give direction or directions, not both (got direction={direction!r} and "
            f"directions={directions!r})"
        )
    if directions is not None:
        if isinstance(directions, (str, Direction)) or len(directions) == 0:
            raise ConfigError(
                f"directions must be a non-empty list such as ['minimize', 'maximize'], got "
                f"{directions!r}; use direction= for a single objective"
            )
        dirs = tuple(Direction.parse(d, "directions") for d in directions)
    else:
        dirs = (Direction.parse(direction or "minimize", "direction"),)
    if stale_after is not None:
        stale_after = check_number(stale_after, "stale_after", low=0.0, hint="seconds, e.g. 300")
    store = get_storage(storage)
    if name is None:
        taken = {s.name for s in store.list_studies()}
        name = next(f"study-{i}" for i in range(len(taken) + 1) if f"study-{i}" not in taken)
    record: dict[str, Any] = {}
    if warm_start is not None:  # resolved first: a bad source leaves no study behind
        sampler, record = resolve_warm_start(
            warm_start,
            storage=store,
            name=name,
            space=space,
            directions=tuple(d.value for d in dirs),
            mode=warm_start_mode,
        )
    try:
        attrs: dict[str, Any] = (
            {"seed": seed} if stale_after is None else {"seed": seed, "stale_after": stale_after}
        )
        if record:
            attrs[WARM_ATTR] = record
        info = store.create_study(name, space.to_dict(), dirs, attrs)
    except DuplicateStudyError:
        if not load_if_exists:
            raise
        info = store.get_study(name)
        problems = SearchSpace.from_dict(info.space).diff(space)
        if tuple(info.directions) != dirs:
            problems.append(
                f"directions changed: {[d.value for d in info.directions]} -> "
                f"{[d.value for d in dirs]}"
            )
        if problems:
            raise StudyMismatchError(
                f"study {name!r} already exists with a different definition: "
                + "; ".join(problems)
                + ". Use a new study name, or delete the old study first."
            ) from None
        if stale_after is not None and info.user_attrs.get("stale_after") != stale_after:
            store.set_study_attr(info.study_id, "stale_after", stale_after)
            info = store.get_study(name)
    if warm_start is not None and info.user_attrs.get(WARM_ATTR) != record:
        store.set_study_attr(info.study_id, WARM_ATTR, record)
    study = Study(store, info, sampler or _default_sampler(space, dirs), pruner, seed)
    study.fail_dead_trials()
    return study


def load_study(
    name: str,
    storage: Storage | str,
    *,
    sampler: Sampler | None = None,
    pruner: Pruner | None = None,
    seed: int | None = None,
) -> Study:
    """Open an existing study from its store (the space and directions come from the store).

    A warm-started study gets its `TransferSampler` back from the sources it recorded, when
    no `sampler` is given and they are all still in the store.
    """
    store = get_storage(storage)
    info = store.get_study(name)
    if seed is None:
        seed = info.user_attrs.get("seed")
    space = SearchSpace.from_dict(info.space)
    if sampler is None:
        sampler = rebuild_sampler(store, info.user_attrs)
    study = Study(store, info, sampler or _default_sampler(space, info.directions), pruner, seed)
    study.fail_dead_trials()
    return study


def _default_sampler(space: SearchSpace, directions: Sequence[Direction]) -> Sampler:
    """BoTorchSampler; the constraint-aware sampler for several objectives or constraints.

    Either one leaves its Sobol scramble to the study (`Sampler.for_study`), so the initial
    design is one space-filling sequence for the whole study, whatever the worker.
    """
    if len(directions) > 1 or space.constraints or space.rules:
        return MultiObjectiveBoTorchSampler()
    return BoTorchSampler()
