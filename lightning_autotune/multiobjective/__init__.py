"""Several objectives at once: Pareto fronts and hypervolume.

The Pareto plot is `lightning_autotune.analysis.plot_pareto_front`, beside the other plots.
"""

from lightning_autotune.multiobjective._pareto import hypervolume, nondominated_mask, pareto_front

__all__ = ["hypervolume", "nondominated_mask", "pareto_front"]
