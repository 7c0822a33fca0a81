"""`set_warm_start` for `HyperTuner` (kept beside the warm start it configures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from lightning_autotune.samplers._transfer import WarmStartMode

__all__ = ["WarmStartMixin"]


class WarmStartMixin:
    """Gives a tuner `set_warm_start(source, mode, tags)` and the settings it records."""

    warm_start: Any = None
    warm_start_mode: WarmStartMode | None = None
    task_tags: Mapping[str, Any] | None = None

    def set_warm_start(
        self,
        source: Any,
        mode: str | WarmStartMode | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Self:
        """Let earlier studies inform this search (as `fit(warm_start=...)`).

        Args:
            source: A study name in the same store or a list of them, a `KnowledgeBase`, a
                `WarmSource`, an `OptunaSource` or an `optuna.Study` (see docs/knowledge.md).
            mode: 'transfer', 'zero_shot' or 'same_task' (None: 'zero_shot' with a knowledge
                base, else 'transfer').
            tags: User tags recorded in this study's task descriptor.

        Returns:
            The tuner, for chaining.

        Raises:
            ConfigError: An unknown mode.

        Example:
            >>> # tuner.set_warm_start(KnowledgeBase("sqlite:///autotune.db"))
        """
        self.warm_start = source
        self.warm_start_mode = None if mode is None else WarmStartMode.parse(mode)
        self.task_tags = None if tags is None else dict(tags)
        return self
