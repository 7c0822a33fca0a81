"""Search spaces: parameter kinds, conditions, sampling and the unit-cube encoding."""

from lightning_autotune.space._encoding import Column, ColumnKind
from lightning_autotune.space._params import Categorical, Conditional, Float, Int, Param, Value
from lightning_autotune.space._reserved import SCHEDULE_PARAMS
from lightning_autotune.space._space import SearchSpace

__all__ = [
    "SCHEDULE_PARAMS",
    "Categorical",
    "Column",
    "ColumnKind",
    "Conditional",
    "Float",
    "Int",
    "Param",
    "SearchSpace",
    "Value",
]
