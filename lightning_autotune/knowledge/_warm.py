"""Turn a `warm_start=` argument into the transfer sampler, and remember it with the study.

`warm_start` takes: a study name in the same store, or a list of them; a `WarmSource` (a study
in another store); a `KnowledgeBase` (its tasks most similar to this one); an `OptunaSource` or
an `optuna.Study` (imported once into a study of this store, see `import_optuna`); or a list
mixing these. The study attribute `WARM_ATTR` records the mode and the source studies of this
store, so `load_study` rebuilds the same sampler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_autotune.exceptions import ConfigError, StudyNotFoundError
from lightning_autotune.knowledge._base import KnowledgeBase
from lightning_autotune.knowledge._optuna import OptunaSource, import_optuna
from lightning_autotune.samplers._transfer import TransferSampler, WarmStartMode
from lightning_autotune.samplers._transfer_map import WarmSource, check_mappable
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import SQLStorage, Storage

__all__ = ["WARM_ATTR", "rebuild_sampler", "resolve_warm_start"]

WARM_ATTR = "warm_start"
"""Study attribute: `{'mode': ..., 'sources': [study names in the same store]}`."""

_KB_SOURCES = 5
"""Most similar tasks a `KnowledgeBase` warm start learns from."""


def _is_optuna_study(obj: Any) -> bool:
    return type(obj).__module__.startswith("optuna") and hasattr(obj, "get_trials")


def _sources(
    spec: Any, storage: Storage, name: str, space: SearchSpace, directions: tuple[str, ...]
) -> tuple[list[WarmSource], bool]:
    """The sources `spec` names, and whether it held a knowledge base."""
    if isinstance(spec, KnowledgeBase):
        task = KnowledgeBase.describe(name, space, directions[0])
        return spec.sources(task, _KB_SOURCES), True
    if isinstance(spec, WarmSource):
        return [spec], False
    if isinstance(spec, OptunaSource) or _is_optuna_study(spec):
        return [WarmSource(storage, import_optuna(spec, storage))], False
    if isinstance(spec, str):
        return [WarmSource(storage, spec)], False
    if isinstance(spec, Sequence):
        out: list[WarmSource] = []
        kb = False
        for item in spec:
            more, is_kb = _sources(item, storage, name, space, directions)
            out += more
            kb = kb or is_kb
        return out, kb
    raise ConfigError(
        "warm_start must be a study name, a list of study names, a KnowledgeBase, a "
        f"WarmSource, an OptunaSource or an optuna.Study; got {type(spec).__name__} {spec!r}"
    )


def resolve_warm_start(
    spec: Any,
    *,
    storage: Storage,
    name: str,
    space: SearchSpace,
    directions: tuple[str, ...],
    mode: str | WarmStartMode | None = None,
) -> tuple[TransferSampler, dict[str, Any]]:
    """The transfer sampler of a warm start, and the attribute that records it.

    Args:
        spec: The `warm_start` argument (see the module docstring).
        storage: This study's store.
        name: This study's name (refused as its own source).
        space: This study's space.
        directions: This study's directions.
        mode: `WarmStartMode` (None: 'zero_shot' with a knowledge base, else 'transfer').

    Raises:
        ConfigError: An unknown kind of source, no source at all, the study itself as its
            source, or a parameter whose kind changed (see `check_mappable`).
        StudyNotFoundError: A named study is not in the store (the message lists those there).
    """
    sources, from_kb = _sources(spec, storage, name, space, directions)
    if not sources:
        raise ConfigError(
            f"warm_start={spec!r} names no earlier study with COMPLETE trials that shares a "
            "parameter with this one; run such a study first, or drop warm_start"
        )
    unique: dict[tuple[int, str], WarmSource] = {}
    for s in sources:
        if _same_store(s.storage, storage):
            s = WarmSource(storage, s.study)
        if s.study == name and s.storage is storage:
            raise ConfigError(
                f"warm_start: study {name!r} cannot warm-start from itself; name an earlier "
                "study (its own trials already inform its sampler)"
            )
        try:
            info = s.storage.get_study(s.study)
        except StudyNotFoundError as err:
            raise StudyNotFoundError(f"warm_start: {err}") from None
        if len(info.directions) != len(directions):
            raise ConfigError(
                f"warm_start: the earlier study {s.study!r} has {len(info.directions)} "
                f"objective(s) but this study has {len(directions)}; warm start needs the "
                "same number of objectives"
            )
        check_mappable(SearchSpace.from_dict(info.space), space, s.study)
        unique.setdefault((id(s.storage), s.study), s)
    chosen = WarmStartMode.parse(
        mode if mode is not None else (WarmStartMode.ZERO_SHOT if from_kb else "transfer")
    )
    sampler = TransferSampler(list(unique.values()), chosen)
    local = [s.study for s in unique.values() if s.storage is storage]
    return sampler, {"mode": chosen.value, "sources": local}


def _same_store(a: Storage, b: Storage) -> bool:
    """Whether two store objects open the same database (two in-memory ones never do)."""
    if a is b:
        return True
    if isinstance(a, SQLStorage) and isinstance(b, SQLStorage):
        return a.url == b.url and not a._db.memory and not b._db.memory
    return False


def rebuild_sampler(storage: Storage, attrs: Mapping[str, Any]) -> TransferSampler | None:
    """The transfer sampler a study recorded in `WARM_ATTR` (None: it has none, or its
    sources are no longer all in the store)."""
    record = attrs.get(WARM_ATTR)
    if not isinstance(record, Mapping) or not record.get("sources"):
        return None
    known = {s.name for s in storage.list_studies()}
    names = [n for n in record["sources"] if isinstance(n, str)]
    if not names or any(n not in known for n in names):
        return None
    return TransferSampler([WarmSource(storage, n) for n in names], record.get("mode", "transfer"))
