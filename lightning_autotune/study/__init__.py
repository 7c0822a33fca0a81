"""Studies: ask / tell / optimize over a store."""

from lightning_autotune.study._study import Study, create_study, load_study

__all__ = ["Study", "create_study", "load_study"]
