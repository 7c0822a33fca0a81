"""Parameter kinds of a search space: Float, Int, Categorical and Conditional.

A parameter knows its own domain: how to check a value, how to map a value to the unit interval
(or to one-hot columns for choices) and back. It does not know its name; the `SearchSpace` that
holds it does, and passes the name in when it reports an error. The kinds live in `_numeric.py`
and `_choices.py`; this module gathers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from lightning_autotune.space._base import Value, same_value
from lightning_autotune.space._choices import Categorical, Conditional
from lightning_autotune.space._numeric import Float, Int

__all__ = [
    "Categorical",
    "Conditional",
    "Float",
    "Int",
    "Param",
    "Value",
    "domain_text",
    "same_value",
]

Param: TypeAlias = Float | Int | Categorical | Conditional


def domain_text(p: Param, config: Mapping[str, Any]) -> str:
    """The values `p` may take under `config`, as an error message shows them."""
    if isinstance(p, Categorical):
        return f"one of {list(p.choices)!r}"
    if isinstance(p, Conditional):
        return (
            f"one of {list(p.choices_for(config))!r} (the choices for {p.parent!r} = "
            f"{config.get(p.parent)!r})"
        )
    return f"a value of {p.to_dict()}"
