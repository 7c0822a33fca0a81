"""Several objectives at once: Pareto fronts and hypervolume."""

from lightning_autotune.multiobjective._pareto import hypervolume, nondominated_mask, pareto_front

__all__ = ["hypervolume", "nondominated_mask", "pareto_front"]
