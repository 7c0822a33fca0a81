"""The dict format of a search space (the AutoML article's, plus `integer`, `when`, `step`).

`parse_spec` turns `{name: {'type': ..., ...}}` into parameters; `SearchSpace.from_dict` checks
them as a whole. Also: YAML loading that reads `1e-5` as a number, and the repair of mapping keys
that a JSON store turned into strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space._params import (
    Categorical,
    Conditional,
    Float,
    Int,
    Param,
    same_value,
)

__all__ = ["diff_specs", "parse_spec", "yaml_load"]

_TYPES = ("continuous", "integer", "discrete", "categorical", "conditional")


def parse_spec(spec: Mapping[str, Any]) -> dict[str, Param]:
    """Parameters from the dict format, with undeclared conditional parents added first.

    Raises:
        SearchSpaceError: An entry is malformed; the message names it and the fix.
    """
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(
            f"a search space dict maps names to parameter specs, got {type(spec).__name__}"
        )
    params: dict[str, Param] = {}
    for name, entry in spec.items():
        if isinstance(entry, (Float, Int, Categorical, Conditional)):
            params[name] = entry
            continue
        params[name] = _param_from_spec(str(name), entry)
    implied: dict[str, list[Any]] = {}
    for p in params.values():
        if isinstance(p, Conditional) and p.parent not in params:
            keys = implied.setdefault(p.parent, [])
            keys.extend(k for k in p.mapping if not any(same_value(k, o) for o in keys))
    # Undeclared parents come first, as categoricals over every key their children map.
    params = {
        **{parent: Categorical(tuple(keys)) for parent, keys in implied.items()},
        **params,
    }
    return _restore_json_keys(params)


def _restore_json_keys(params: dict[str, Param]) -> dict[str, Param]:
    """Undo JSON's stringification of mapping keys: {'1': [...]} under an Int parent is {1: ...}.

    A store that keeps `to_dict()` as JSON gives back every `Conditional` mapping key as a string;
    a key the parent cannot take as a string but can as the JSON value it spells is restored.
    """
    out = dict(params)
    for name, p in params.items():
        if not isinstance(p, Conditional) or p.parent not in params:
            continue
        parent = params[p.parent]
        mapping: dict[Any, Any] = {}
        for key, choices in p.mapping.items():
            if isinstance(key, str) and not _takes(parent, key):
                try:
                    decoded = json.loads(key)
                except ValueError:
                    decoded = key
                if (decoded is None or isinstance(decoded, (int, float))) and _takes(
                    parent, decoded
                ):
                    key = decoded
            mapping[key] = choices
        if list(mapping) != list(p.mapping):
            out[name] = Conditional(p.parent, mapping, when=p.when)
    return out


def _takes(p: Param, value: Any) -> bool:
    if isinstance(p, Conditional):
        return any(same_value(value, c) for c in p.all_choices)
    return p.contains(value)


def yaml_load(text: str) -> Any:
    """Safe YAML loading that also reads exponent numbers without a dot (`1e-5`) as floats."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # YAML 1.1 needs a dot in a float ("1.0e-5"); accept "1e-5" and "1E+3" as floats too.
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"),
        list("-+0123456789."),
    )
    return yaml.load(text, Loader=Loader)  # a SafeLoader subclass: no arbitrary objects


def _param_from_spec(name: str, entry: Any) -> Param:
    if not isinstance(entry, Mapping):
        raise SearchSpaceError(
            f"parameter {name!r}: spec must be a dict with a 'type', got {entry!r}; write e.g. "
            "{'type': 'continuous', 'min': 0.0, 'max': 1.0}"
        )
    kind = entry.get("type")
    if kind not in _TYPES:
        raise SearchSpaceError(
            f"parameter {name!r}: unknown type {kind!r}; use one of {list(_TYPES)}"
        )
    allowed = {
        "continuous": {"min", "max", "scale", "step"},
        "integer": {"min", "max", "scale", "step"},
        "discrete": {"values"},
        "categorical": {"values"},
        "conditional": {"parent", "mapping"},
    }[kind] | {"type", "when"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise SearchSpaceError(
            f"parameter {name!r}: unknown key(s) {extra} for type {kind!r}; allowed: "
            f"{sorted(allowed)}"
        )
    when = entry.get("when")
    try:
        if kind in ("continuous", "integer"):
            missing = [k for k in ("min", "max") if k not in entry]
            if missing:
                raise SearchSpaceError(
                    f"parameter {name!r}: type {kind!r} needs 'min' and 'max' (missing {missing})"
                )
            scale = entry.get("scale", "linear")
            if scale not in ("linear", "log"):
                raise SearchSpaceError(
                    f"parameter {name!r}: scale must be 'linear' or 'log', got {scale!r}"
                )
            if kind == "continuous":
                return Float(
                    entry["min"],
                    entry["max"],
                    log=scale == "log",
                    step=entry.get("step"),
                    when=when,
                )
            return Int(
                entry["min"],
                entry["max"],
                log=scale == "log",
                step=entry.get("step", 1),
                when=when,
            )
        if kind in ("discrete", "categorical"):
            if "values" not in entry:
                raise SearchSpaceError(f"parameter {name!r}: type {kind!r} needs 'values'")
            return Categorical(entry["values"], when=when)
        if "parent" not in entry or "mapping" not in entry:
            raise SearchSpaceError(
                f"parameter {name!r}: type 'conditional' needs 'parent' and 'mapping'"
            )
        return Conditional(entry["parent"], entry["mapping"], when=when)
    except SearchSpaceError as err:
        if str(err).startswith(f"parameter {name!r}"):
            raise
        raise SearchSpaceError(f"parameter {name!r}: {err}") from None


def diff_specs(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two spaces in the dict format (stored vs new)."""
    out = [f"{k!r} only in the stored space" for k in mine if k not in theirs]
    out += [f"{k!r} only in the new space" for k in theirs if k not in mine]
    out += [
        f"{k!r} changed: {mine[k]} -> {theirs[k]}"
        for k in mine
        if k in theirs and mine[k] != theirs[k]
    ]
    return out
