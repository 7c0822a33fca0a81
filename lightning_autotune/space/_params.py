"""Parameter kinds of a search space: Float, Int, Categorical and Conditional.

A parameter knows its own domain: how to check a value, how to map a value to the unit interval
(or to one-hot columns for choices) and back. It does not know its name; the `SearchSpace` that
holds it does, and passes the name in when it reports an error. The kinds live in `_numeric.py`
and `_choices.py`; this module gathers them.
"""

from __future__ import annotations

from typing import TypeAlias

from lightning_autotune.space._base import Value, same_value
from lightning_autotune.space._choices import Categorical, Conditional
from lightning_autotune.space._numeric import Float, Int

__all__ = ["Categorical", "Conditional", "Float", "Int", "Param", "Value", "same_value"]

Param: TypeAlias = Float | Int | Categorical | Conditional
