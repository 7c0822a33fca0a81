"""`SearchSpace`: named parameters, their conditions, validation, sampling and (de)serialization."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import SearchSpaceError
from lightning_autotune.space import _encoding, _feasible, _parsed
from lightning_autotune.space._params import (
    Categorical,
    Conditional,
    Float,
    Int,
    Param,
    domain_text,
)
from lightning_autotune.space._reserved import SCHEDULE_PARAMS
from lightning_autotune.space._spec import diff_specs, parse_spec, yaml_load
from lightning_autotune.space._structure import check_parents, topological_order

if TYPE_CHECKING:
    from lightning_autotune.constraints import Constraint, ParameterRule

__all__ = ["SearchSpace"]

# Keys of the dict format that hold constraints and rules rather than a parameter.
_CONSTRAINTS_KEY = "_constraints"
_RULES_KEY = "_rules"


class SearchSpace(Mapping[str, Param]):
    """An ordered set of named parameters, checked at construction; immutable once built.

    `from_dict` parses each distinct dict once per process and hands the same space to every
    caller (each study opened, each trial process forked), which immutability makes safe.

    Args:
        params: Parameter name -> `Float`, `Int`, `Categorical` or `Conditional`.
        constraints: Feasibility constraints every configuration must satisfy: strings such as
            'hidden_dim >= 4 * embedding_dim' or `Constraint` objects (see docs/constraints.md).
        rules: `ParameterRule`s (or {'condition': ..., 'action': ...} dicts) applied, in order,
            to every sampled configuration before the constraints are checked.

    Raises:
        SearchSpaceError: A parameter is malformed, a condition names a parent that does not
            exist, or the conditions form a cycle.
        ConstraintError: A constraint or rule is malformed or names an unknown parameter.

    Example:
        >>> space = SearchSpace({
        ...     "optimizer": Categorical(["adam", "sgd"]),
        ...     "momentum": Float(0.5, 0.99, when={"optimizer": "sgd"}),
        ... })
        >>> space.active_names({"optimizer": "adam"})
        ('optimizer',)
    """

    def __init__(
        self,
        params: Mapping[str, Param],
        *,
        constraints: Sequence[str | Constraint] = (),
        rules: Sequence[ParameterRule | Mapping[str, str]] = (),
    ) -> None:
        if not isinstance(params, Mapping):
            raise SearchSpaceError(
                f"a search space is a mapping of names to parameters, got {type(params).__name__}"
                "; write SearchSpace({'lr': Float(1e-5, 1e-1, log=True)}) or use from_dict"
            )
        if not params:
            raise SearchSpaceError("the search space is empty; add at least one parameter")
        for name, p in params.items():
            if not isinstance(name, str) or not name:
                raise SearchSpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if not isinstance(p, (Float, Int, Categorical, Conditional)):
                raise SearchSpaceError(
                    f"parameter {name!r}: {p!r} is not a parameter; use Float, Int, Categorical "
                    "or Conditional"
                )
            p.check(name)
        self._params: dict[str, Param] = dict(params)
        self.order: tuple[str, ...] = topological_order(self._params)
        for name, p in self._params.items():
            check_parents(self._params, name, p)
        self.constraints, self.rules = _feasible.bind(self, constraints, rules)
        self.__dict__["_frozen"] = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen"):
            raise AttributeError(
                f"a SearchSpace is immutable (the same space may be shared by several studies); "
                f"cannot set {name!r}. Build a new space instead, e.g. "
                "SearchSpace({**space, 'lr': Float(1e-4, 1e-2)})"
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a SearchSpace is immutable; cannot delete {name!r}")

    # Mapping protocol
    def __getitem__(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(
                f"no parameter {name!r} in the search space; it has {list(self._params)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def __repr__(self) -> str:
        reserved = self.schedule_names
        note = f"; schedule parameters: {list(reserved)}" if reserved else ""
        return f"SearchSpace({self._params!r}{note})"

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(self._params)

    @property
    def schedule_names(self) -> tuple[str, ...]:
        """The names of this space that entry points read as in-run schedules (`SCHEDULE_PARAMS`).

        Example:
            >>> SearchSpace({"lr": Float(1e-4, 1e-1), "switch_at": Float(0.2, 0.8)}).schedule_names
            ('switch_at',)
        """
        return tuple(n for n in self._params if n in SCHEDULE_PARAMS)

    # Configurations
    def active_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of the parameters that are active under `config`, in dependency order."""
        partial: dict[str, Any] = {}
        names: list[str] = []
        for name in self.order:
            if self._params[name].is_active(partial):
                names.append(name)
                if name in config:
                    partial[name] = config[name]
        return tuple(names)

    def validate(
        self, config: Mapping[str, Any], *, check_constraints: bool = True
    ) -> dict[str, Any]:
        """Check a configuration and return it with only its active parameters, in space order.

        Args:
            config: Parameter name -> value.
            check_constraints: Also require the space's constraints to hold (False checks the
                parameters' domains only, e.g. to encode a candidate that a model scores).

        Raises:
            SearchSpaceError: An active parameter is missing or out of its domain, or a name is
                unknown.
            ConstraintError: The configuration violates one of the space's constraints.
        """
        if not isinstance(config, Mapping):
            raise SearchSpaceError(
                f"a configuration is a dict of parameter name -> value, got {type(config).__name__}"
            )
        unknown = [k for k in config if k not in self._params]
        if unknown:
            raise SearchSpaceError(
                f"configuration has unknown parameter(s) {unknown}; the space has "
                f"{list(self._params)}: remove them or fix the names"
            )
        out: dict[str, Any] = {}
        for name in self.order:
            p = self._params[name]
            if not p.is_active(out):
                continue
            if name not in config:
                raise SearchSpaceError(
                    f"parameter {name!r} is active in this configuration but missing; give it "
                    f"a value ({domain_text(p, out)})"
                )
            v = config[name]
            ok = p.contains_under(v, out) if isinstance(p, Conditional) else p.contains(v)
            if not ok:
                raise SearchSpaceError(
                    f"parameter {name!r}: value {v!r} is not allowed; use {domain_text(p, out)}"
                )
            out[name] = v
        if check_constraints:
            _feasible.check(self, out)
        return {k: out[k] for k in self.names if k in out}

    def is_feasible(self, config: Mapping[str, Any]) -> bool:
        """True when `config` satisfies every constraint of the space (see `Constraint.holds`)."""
        return all(c.holds(config) for c in self.constraints)

    def apply_rules(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return `config` with the space's rules applied in order (clipped to the bounds)."""
        out = dict(config)
        for rule in self.rules:
            out = rule.apply(out, self)
        return out

    # Sampling and encoding
    @cached_property
    def columns(self) -> tuple[_encoding.Column, ...]:
        """The columns of the encoded unit cube (see `encode`)."""
        return _encoding.columns_of(self)

    def column_span(self, name: str) -> tuple[int, int]:
        """The columns `start, stop` of parameter `name` in the encoded cube (`X[:, start:stop]`).

        A numeric parameter has one column, a choice parameter one per choice.

        Raises:
            KeyError: `name` is not a parameter of the space.

        Example:
            >>> SearchSpace({"a": Categorical(["x", "y"]), "b": Float(0, 1)}).column_span("b")
            (2, 3)
        """
        if name not in self._params:
            raise KeyError(f"no parameter {name!r} in the search space; it has {list(self)}")
        return self._spans[name]

    @cached_property
    def _spans(self) -> dict[str, tuple[int, int]]:
        return _encoding.spans_of(self.columns)

    @cached_property
    def _encoded_rows(self) -> dict[tuple[Any, ...], np.ndarray]:
        """Rows already encoded, by configuration (see `_encoding.encode`); not pickled."""
        return {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_encoded_rows", None)
        return state

    @property
    def dim(self) -> int:
        """Number of columns of the encoded unit cube."""
        return len(self.columns)

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode configurations as an `n x dim` array in [0, 1]."""
        return _encoding.encode(self, configs)

    def decode(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Decode an `n x dim` array into configurations."""
        return _encoding.decode(self, X)

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[dict[str, Any]]:
        """Draw `n` configurations uniformly (on each parameter's own scale).

        With constraints or rules, each draw has the rules applied and infeasible draws are
        rejected (without rules the result is uniform over the feasible region).

        Raises:
            ConstraintError: No feasible configuration was found (the constraints seem to leave
                no feasible region).
        """
        rng = np.random.default_rng(seed)
        if not self.constraints and not self.rules:
            return self.decode(rng.random((_count(n), self.dim)))
        return _feasible.rejection_sample(self, lambda k: rng.random((k, self.dim)), _count(n), 0)

    def sample_sobol(
        self, n: int, seed: int | None = None, *, start: int = 0
    ) -> list[dict[str, Any]]:
        """Draw `n` configurations from a scrambled Sobol sequence over the encoded cube.

        Any `n` works; a power of 2 keeps the sequence's balance properties best.

        Args:
            n: Number of configurations.
            seed: Scrambling seed.
            start: Skip this many points of the sequence first. With constraints or rules the
                sequence is the subsequence of feasible points, so calls with increasing `start`
                never repeat a point.

        Raises:
            ConstraintError: No feasible configuration was found.
        """
        import warnings

        from scipy.stats import qmc

        sobol = qmc.Sobol(d=self.dim, scramble=True, seed=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            if self.constraints or self.rules:
                return _feasible.rejection_sample(self, sobol.random, _count(n), start)
            if start:
                sobol.fast_forward(start)
            return self.decode(sobol.random(_count(n)))

    # Serialization
    def to_dict(self) -> dict[str, Any]:
        """The space in the article's dict format (accepted back by `from_dict`).

        Constraints and rules, when there are any, are stored as strings under the reserved keys
        '_constraints' (a list of expressions) and '_rules' (a list of condition/action dicts).
        """
        out: dict[str, Any] = {name: p.to_dict() for name, p in self._params.items()}
        if self.constraints:
            out[_CONSTRAINTS_KEY] = [c.text for c in self.constraints]
        if self.rules:
            out[_RULES_KEY] = [r.to_dict() for r in self.rules]
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """Build a space from the dict format of the AutoML article.

        Each entry has a `type`: `continuous` (`min`, `max`, optional `scale: log`, `step`),
        `integer` (`min`, `max`, optional `scale`, `step`), `discrete` or `categorical`
        (`values`), or `conditional` (`parent`, `mapping` of parent value -> choices). Any entry
        may carry `when: {parent: value or [values]}`. A `conditional` parent that is not declared
        becomes a categorical over the mapping's keys.

        Raises:
            SearchSpaceError: An entry is malformed; the message names it and the fix.
        """
        if isinstance(spec, SearchSpace):
            return spec
        if not isinstance(spec, Mapping):
            raise SearchSpaceError(
                f"a search space dict maps names to parameter specs, got {type(spec).__name__}"
            )
        key = _parsed.key(cls, spec)
        if key is not None and (space := _parsed.get(key)) is not None:
            return space
        rest = {k: v for k, v in spec.items() if k not in (_CONSTRAINTS_KEY, _RULES_KEY)}
        space = cls(
            parse_spec(rest),
            constraints=spec.get(_CONSTRAINTS_KEY, ()),
            rules=spec.get(_RULES_KEY, ()),
        )
        if key is not None:
            _parsed.put(key, space)
        return space

    def to_yaml(self) -> str:
        """The space as YAML text (the `to_dict` format)."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> SearchSpace:
        """Build a space from YAML text in the `from_dict` format.

        Numbers such as `1e-5` are read as numbers (plain YAML 1.1 would read them as strings).
        """
        return cls.from_dict(yaml_load(text))

    def diff(self, other: SearchSpace) -> list[str]:
        """Human-readable differences between two spaces (empty when they are equal)."""
        return diff_specs(self.to_dict(), other.to_dict())


def _count(n: Any) -> int:
    hint = "give how many configurations to draw"
    return check_int(n, "the number of samples n", low=0, hint=hint, error=SearchSpaceError)
