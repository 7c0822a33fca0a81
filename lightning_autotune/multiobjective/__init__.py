"""Several objectives at once: Pareto fronts, hypervolume and a Pareto plot."""

from lightning_autotune.multiobjective._pareto import hypervolume, nondominated_mask, pareto_front
from lightning_autotune.multiobjective._plot import plot_pareto_front

__all__ = ["hypervolume", "nondominated_mask", "pareto_front", "plot_pareto_front"]
