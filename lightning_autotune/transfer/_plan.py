"""Planning a transfer (every name's method, checked in full) and applying it at once."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lightning_autotune.transfer._errors import TransferError
from lightning_autotune.transfer._rules import Method, RuleSet, TransferRule
from lightning_autotune.transfer._weights import KeyMatch, match_keys

__all__ = ["Assignment", "TransferPlan", "apply_transfer", "plan_transfer"]


@dataclass(frozen=True)
class Assignment:
    """What happens to one parameter or buffer of the model.

    Attributes:
        name: The model's name for it.
        rule: The rule that matched (its `pattern` is 'default' for the default rule).
        source: The weights' name it is loaded from, or None when it is not loaded.
        is_parameter: A parameter (True) or a buffer (False).
    """

    name: str
    rule: TransferRule
    source: str | None
    is_parameter: bool

    @property
    def outcome(self) -> str:
        """The method name, or 'kept' for a lenient rule that found nothing to load."""
        if self.rule.loads and self.source is None:
            return "kept"
        return self.rule.method.value


@dataclass(frozen=True)
class TransferPlan:
    """Every name's assignment, in the model's order, plus how the names were matched.

    Attributes:
        assignments: One per parameter and buffer of the model.
        key_match: The prefix change that lined up the weights' names with the model's.
        unused: Weights names that no model name takes.
    """

    assignments: tuple[Assignment, ...]
    key_match: KeyMatch
    unused: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        """How many parameters and buffers each outcome covers, e.g. {'copy': 4, 'freeze': 2}."""
        return dict(collections.Counter(a.outcome for a in self.assignments))

    def multipliers(self) -> dict[str, float]:
        """Learning-rate multiplier of every parameter that has one other than 1."""
        return {
            a.name: a.rule.lr_multiplier
            for a in self.assignments
            if a.is_parameter and a.rule.lr_multiplier != 1.0
        }

    def summary(self) -> dict[str, Any]:
        """A JSON-ready record: counts per outcome, the name match and the unused weights."""
        return {
            "counts": self.counts(),
            "key_match": self.key_match.describe(),
            "loaded": sum(a.source is not None for a in self.assignments),
            "multiplied": len(self.multipliers()),
            "unused_weights": len(self.unused),
        }

    def describe(self) -> str:
        """One log line, e.g. 'transfer: copy 4, freeze 2 (names matched as they are)'."""
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items()))
        return f"transfer: {counts} ({self.key_match.describe()})"


def plan_transfer(
    module: nn.Module, weights: Mapping[str, torch.Tensor], rules: RuleSet
) -> TransferPlan:
    """Assign a rule to each of `module`'s parameters and buffers, and check all of it.

    Patterns match the model's names; where the model holds the pretrained network under a
    prefix the weights lack (`model.`), they match the weights' names too, so rules written
    for the pretrained network (`'conv*.weight'`) apply to the wrapping LightningModule.

    Every problem is collected and raised together, so one run shows them all.

    Raises:
        TransferError: A pattern that matches nothing; a strict loading rule whose name is
            missing from the weights or has another shape (key, model shape and weights shape
            named); `reinit` of a tensor whose module has no `reset_parameters()`.
    """
    params = dict(module.named_parameters())
    tensors = {**dict(module.named_buffers()), **params}
    names = [n for n in module.state_dict() if n in tensors]
    key_match = match_keys(set(names), set(weights))
    by_model_name = {}
    for key in weights:
        renamed = key_match.rename(key)
        if renamed is not None:
            by_model_name[renamed] = key
    aliases = {name: _aliases(name, key_match) for name in names}
    problems = [
        f"pattern {p!r} matches no parameter or buffer of {type(module).__name__}"
        for p in rules.unmatched(list(aliases.values()))
    ]
    assignments, used = [], set()
    for name in names:
        rule = rules.rule_for(*aliases[name])
        source = by_model_name.get(name) if rule.loads else None
        if source is not None and weights[source].shape != tensors[name].shape:
            if rule.strict:
                problems.append(
                    f"{name!r} (rule {rule.pattern!r}, {rule.method.value}): model shape "
                    f"{tuple(tensors[name].shape)}, weights shape "
                    f"{tuple(weights[source].shape)} (weights key {source!r}); give it a rule "
                    "with method 'reinit' or 'skip'"
                )
            source = None
        elif source is None and rule.loads and rule.strict:
            problems.append(
                f"{name!r} (rule {rule.pattern!r}, {rule.method.value}) is not in the weights "
                f"({key_match.describe()}); give it a rule with method 'reinit' or 'skip'"
            )
        if rule.method is Method.REINIT and not hasattr(_owner(module, name), "reset_parameters"):
            problems.append(
                f"{name!r} (rule {rule.pattern!r}): reinit calls reset_parameters() of its "
                f"module, which {type(_owner(module, name)).__name__} lacks; use 'skip' to keep "
                "the model's own initialization"
            )
        if source is not None:
            used.add(source)
        assignments.append(Assignment(name, rule, source, name in params))
    if problems:
        raise TransferError(
            f"transfer rules cannot be applied ({len(problems)} problem(s); nothing was "
            "loaded):\n  " + "\n  ".join(problems)
        )
    unused = tuple(k for k in weights if k not in used)
    return TransferPlan(tuple(assignments), key_match, unused)


def _aliases(name: str, key_match: KeyMatch) -> tuple[str, ...]:
    """The model's name and, where the model wraps the pretrained network, the weights' name."""
    if key_match.add and name.startswith(key_match.add):
        return (name, name[len(key_match.add) :])
    return (name,)


def _owner(module: nn.Module, name: str) -> nn.Module:
    path = name.rpartition(".")[0]
    return module.get_submodule(path) if path else module


def apply_transfer(
    module: nn.Module, weights: Mapping[str, torch.Tensor], plan: TransferPlan
) -> None:
    """Reinitialize, then load, as `plan` says (the plan was checked in full beforehand).

    Reinitialization runs first, so a loaded sibling of a reinitialized tensor keeps its weights.
    """
    owners = {
        id(m): m
        for a in plan.assignments
        if a.rule.method is Method.REINIT
        for m in [_owner(module, a.name)]
    }
    for owner in owners.values():
        owner.reset_parameters()  # type: ignore[operator]
    state = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for a in plan.assignments:
            if a.source is not None:
                state[a.name].copy_(weights[a.source])
