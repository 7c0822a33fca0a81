"""Transfer rules: which method each parameter or buffer gets, by glob pattern."""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightning_autotune._validation import check_number
from lightning_autotune.transfer._errors import TransferError

__all__ = ["DEFAULT_RULE", "Method", "RuleSet", "TransferRule", "parse_rules"]


class Method(str, enum.Enum):
    """What a rule does with the tensors it matches."""

    COPY = "copy"  # load, train normally
    FINE_TUNE = "fine_tune"  # load, learning rate times lr_multiplier
    FREEZE = "freeze"  # load, no gradient, out of the optimizer (until unfreeze_at)
    REINIT = "reinit"  # not loaded; the owning module's reset_parameters() runs
    SKIP = "skip"  # not loaded; the model's tensor is left as it is


_LOADS = (Method.COPY, Method.FINE_TUNE, Method.FREEZE)
_RULE_KEYS = ("method", "lr_multiplier", "unfreeze_at", "strict")


@dataclass(frozen=True)
class TransferRule:
    """One rule: a method and its settings.

    Args:
        method: A `Method` or its name.
        lr_multiplier: The learning rate of the matched parameters is the optimizer's times this
            (> 0). Not allowed with `copy` (which is `fine_tune` at 1.0).
        unfreeze_at: With `freeze` only: the epoch (int >= 1) or fraction of training (float in
            (0, 1)) where the parameters join the optimizer, with `lr_multiplier`.
        strict: For loading methods: a name missing from the weights, or of another shape, is an
            error (True) or is left as the model initialized it (False).
        pattern: The glob pattern the rule was given under (for messages).

    Raises:
        TransferError: An unknown method, a multiplier that is not > 0, or a bad `unfreeze_at`.
    """

    method: Method
    lr_multiplier: float = 1.0
    unfreeze_at: int | float | None = None
    strict: bool = True
    pattern: str = "default"

    def __post_init__(self) -> None:
        where = f"transfer rule {self.pattern!r}"
        try:
            method = Method(self.method)
        except ValueError:
            raise TransferError(
                f"{where}: method must be one of {[m.value for m in Method]}, got {self.method!r}"
            ) from None
        object.__setattr__(self, "method", method)
        mult = check_number(
            self.lr_multiplier,
            f"{where}: lr_multiplier",
            low=0.0,
            strict_low=True,
            hint="use method 'freeze' for parameters that should not train",
            error=TransferError,
        )
        object.__setattr__(self, "lr_multiplier", mult)
        if method is Method.COPY and mult != 1.0:
            raise TransferError(
                f"{where}: method 'copy' trains at the optimizer's learning rate, but "
                f"lr_multiplier={mult:g} was given; use method 'fine_tune' for a multiplier"
            )
        at = self.unfreeze_at
        if at is not None:
            if method is not Method.FREEZE:
                raise TransferError(
                    f"{where}: unfreeze_at applies to method 'freeze' only, got method "
                    f"{method.value!r}"
                )
            bad_int = isinstance(at, int) and not isinstance(at, bool) and at < 1
            bad_float = isinstance(at, float) and not 0.0 < at < 1.0
            if isinstance(at, bool) or not isinstance(at, (int, float)) or bad_int or bad_float:
                raise TransferError(
                    f"{where}: unfreeze_at must be an epoch >= 1 (int) or a fraction of "
                    f"training in (0, 1) (float), got {at!r}"
                )

    @property
    def loads(self) -> bool:
        """Whether the rule copies tensors from the weights."""
        return self.method in _LOADS

    @property
    def trains_from_start(self) -> bool:
        """Whether the matched parameters are in the optimizer from the first step."""
        return self.method is not Method.FREEZE


# The documented default for names no pattern matches: copy where the shape matches.
DEFAULT_RULE = TransferRule(Method.COPY, strict=False)


@dataclass(frozen=True)
class RuleSet:
    """Ordered rules; the first pattern that matches a name wins, else `default`."""

    rules: tuple[tuple[str, TransferRule], ...]
    default: TransferRule = DEFAULT_RULE

    def rule_for(self, *names: str) -> TransferRule:
        """The rule of a tensor known by `names`: the first pattern matching any, else the default.

        A tensor has two names when the model wraps the pretrained network (`model.fc.weight`
        in the model, `fc.weight` in the weights); a pattern may be written for either.
        """
        for pattern, rule in self.rules:
            if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                return rule
        return self.default

    def unmatched(self, names: list[tuple[str, ...]]) -> list[str]:
        """Patterns that match no tensor of `names` (each tensor given by its names)."""
        return [
            p
            for p, _ in self.rules
            if not any(fnmatch.fnmatchcase(n, p) for aliases in names for n in aliases)
        ]


def _rule(pattern: str, spec: Any) -> TransferRule:
    if isinstance(spec, TransferRule):
        return TransferRule(
            spec.method, spec.lr_multiplier, spec.unfreeze_at, spec.strict, pattern=pattern
        )
    if isinstance(spec, (str, Method)):
        return TransferRule(Method(spec) if isinstance(spec, Method) else spec, pattern=pattern)  # type: ignore[arg-type]
    if not isinstance(spec, Mapping):
        raise TransferError(
            f"transfer rule {pattern!r} must be a method name or a mapping like "
            f"{{'method': 'fine_tune', 'lr_multiplier': 0.1}}, got {spec!r}"
        )
    unknown = sorted(set(spec) - set(_RULE_KEYS))
    if unknown:
        raise TransferError(
            f"transfer rule {pattern!r}: unknown keys {unknown}; a rule has {list(_RULE_KEYS)}"
        )
    if "method" not in spec:
        raise TransferError(f"transfer rule {pattern!r} needs a 'method', e.g. 'copy'")
    return TransferRule(
        spec["method"],
        spec.get("lr_multiplier", 1.0),
        spec.get("unfreeze_at"),
        bool(spec.get("strict", True)),
        pattern=pattern,
    )


def parse_rules(rules: Mapping[str, Any] | RuleSet | None) -> RuleSet:
    """Check `{pattern: rule}` and return it as a `RuleSet`, keeping the order given.

    A rule is a method name ('copy', 'fine_tune', 'freeze', 'reinit', 'skip'), a mapping
    `{'method': ..., 'lr_multiplier': ..., 'unfreeze_at': ..., 'strict': ...}` or a
    `TransferRule`. The key 'default' gives the rule of names no pattern matches.

    Raises:
        TransferError: A malformed rule (see `TransferRule`) or a pattern that is not a string.

    Example:
        >>> rs = parse_rules({"fc*": {"method": "fine_tune", "lr_multiplier": 0.1}})
        >>> rs.rule_for("fc.weight").lr_multiplier, rs.rule_for("conv.weight").method.value
        (0.1, 'copy')
    """
    if isinstance(rules, RuleSet):
        return rules
    if rules is None:
        return RuleSet(())
    if not isinstance(rules, Mapping):
        raise TransferError(
            f"transfer rules must be a mapping {{pattern: rule}}, got {type(rules).__name__}"
        )
    parsed, default = [], DEFAULT_RULE
    for pattern, spec in rules.items():
        if not isinstance(pattern, str) or not pattern:
            raise TransferError(
                f"transfer rule patterns must be non-empty strings, got {pattern!r}"
            )
        if pattern == "default":
            default = _rule(pattern, spec)
        else:
            parsed.append((pattern, _rule(pattern, spec)))
    return RuleSet(tuple(parsed), default)
