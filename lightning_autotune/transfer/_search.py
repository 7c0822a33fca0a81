"""Transfer settings as search parameters: per-rule `lr_multiplier` and `unfreeze_at`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from lightning_autotune.transfer._errors import TransferError
from lightning_autotune.transfer._rules import Method, RuleSet, parse_rules

__all__ = ["is_transfer_param", "rules_from_params", "transfer_space"]

_MULT = "transfer_lr_multiplier_{}"
_UNFREEZE = "transfer_unfreeze_at_{}"
_NAME = re.compile(r"transfer_(lr_multiplier|unfreeze_at)_\d+")


def is_transfer_param(name: str) -> bool:
    """Whether `name` is a transfer search parameter (`transfer_lr_multiplier_<i>`, ...).

    Example:
        >>> is_transfer_param("transfer_unfreeze_at_0"), is_transfer_param("lr")
        (True, False)
    """
    return _NAME.fullmatch(name) is not None


def rules_from_params(rules: Mapping[str, Any] | RuleSet, params: Mapping[str, Any]) -> RuleSet:
    """The rules with a trial's `transfer_lr_multiplier_<i>` and `transfer_unfreeze_at_<i>` values.

    `<i>` is the rule's position (0 for the first pattern, 'default' not counted). A multiplier
    turns a `copy` rule into `fine_tune`; an `unfreeze_at` of 1.0 or more keeps a `freeze` rule
    frozen for the whole run. Other names of `params` are ignored.

    Raises:
        TransferError: A value that its rule cannot take (e.g. `unfreeze_at` on a `fine_tune`
            rule), or a name whose index has no rule.

    Example:
        >>> rs = rules_from_params({"fc*": "fine_tune"}, {"transfer_lr_multiplier_0": 0.1})
        >>> rs.rules[0][1].lr_multiplier
        0.1
    """
    base = parse_rules(rules)
    n = len(base.rules)
    for key in params:
        for template in (_MULT, _UNFREEZE):
            prefix = template.format("")
            if key.startswith(prefix) and not key[len(prefix) :].isdigit():
                raise TransferError(f"search parameter {key!r}: write {template.format('<i>')}")
            if key.startswith(prefix) and int(key[len(prefix) :]) >= n:
                raise TransferError(
                    f"search parameter {key!r} names rule {key[len(prefix) :]}, but there are "
                    f"{n} rule(s) (numbered from 0 in the order given)"
                )
    out = []
    for i, (pattern, rule) in enumerate(base.rules):
        changes: dict[str, Any] = {}
        if _MULT.format(i) in params:
            changes["lr_multiplier"] = float(params[_MULT.format(i)])
            if rule.method is Method.COPY:
                changes["method"] = Method.FINE_TUNE
        if _UNFREEZE.format(i) in params:
            at = float(params[_UNFREEZE.format(i)])
            changes["unfreeze_at"] = None if at >= 1.0 else at
        out.append((pattern, dataclasses.replace(rule, **changes) if changes else rule))
    return RuleSet(tuple(out), base.default)


def transfer_space(
    rules: Mapping[str, Any] | RuleSet,
    *,
    lr_multiplier: tuple[float, float] = (1e-3, 1.0),
    unfreeze_at: tuple[float, float] = (0.1, 0.9),
) -> dict[str, dict[str, Any]]:
    """Search-space entries (dict format) for the rules worth tuning.

    A `fine_tune` rule gets `transfer_lr_multiplier_<i>` (log scale); a `freeze` rule gets
    `transfer_unfreeze_at_<i>` (a fraction of training) and the multiplier it joins with.

    Example:
        >>> sorted(transfer_space({"conv*": "freeze", "fc*": "fine_tune"}))
        ['transfer_lr_multiplier_0', 'transfer_lr_multiplier_1', 'transfer_unfreeze_at_0']
    """
    space: dict[str, dict[str, Any]] = {}
    low, high = lr_multiplier
    for i, (_, rule) in enumerate(parse_rules(rules).rules):
        if rule.method in (Method.FINE_TUNE, Method.FREEZE):
            space[_MULT.format(i)] = {"type": "continuous", "min": low, "max": high, "scale": "log"}
        if rule.method is Method.FREEZE:
            space[_UNFREEZE.format(i)] = {
                "type": "continuous",
                "min": unfreeze_at[0],
                "max": unfreeze_at[1],
            }
    return space
