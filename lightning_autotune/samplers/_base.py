"""`Sampler`: the interface of everything that proposes configurations to try next."""

from __future__ import annotations

import copy
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from lightning_autotune._validation import check_int
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord

__all__ = [
    "Sampler",
    "SamplerWarning",
    "check_seed",
    "renamed",
    "seeded_copy",
    "suggestion_seed",
]

T = TypeVar("T")
S = TypeVar("S", bound="Sampler")


class SamplerWarning(UserWarning):
    """A sampler's model or acquisition failed, so it proposed space-filling points instead.

    The study goes on; the message names the cause. Filter this class to silence both BoTorch
    samplers' fallbacks at once.
    """


class Sampler(ABC):
    """Proposes configurations. Holds no state between calls: all it needs is in its arguments.

    Subclasses implement `suggest`. The study passes every trial recorded so far as `history`
    (finished ones; samplers choose which states to learn from) and the trials still running or
    waiting as `pending`, so parallel workers get distinct proposals.

    Attributes:
        seed: The seed the sampler was given (None: none). With it, the whole sequence of
            proposals repeats exactly, whether or not the study has a seed of its own.
    """

    seed: int | None = None

    @abstractmethod
    def suggest(
        self,
        space: SearchSpace,
        history: Sequence[TrialRecord],
        *,
        directions: Sequence[Direction] = (Direction.MINIMIZE,),
        pending: Sequence[TrialRecord] = (),
        n: int = 1,
        seed: int | None = None,
    ) -> list[dict[str, Any]]:
        """Propose `n` configurations.

        Args:
            space: The search space.
            history: Finished trials (COMPLETE, PRUNED, FAILED), by number.
            directions: One direction per objective; values in `history` are raw.
            pending: Trials running or waiting, whose params should not be proposed again.
            n: Number of configurations to propose.
            seed: Seed for this call (the study derives it from its own seed and trial number).

        Returns:
            `n` valid configurations of `space`.
        """

    def for_study(self, seed: int | None) -> Sampler:
        """The sampler a study seeded with `seed` uses: this one, unless it leaves a choice open.

        The study calls this once, when it is made. A sampler whose study-wide random choice
        (the scramble of a Sobol sequence) was left unset returns a copy that takes it from the
        study's seed, so studies with different seeds explore differently; a sampler given its
        own seed, and every sampler by default, returns itself.
        """
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def seeded_copy(sampler: S, seed: int | None) -> S:
    """`Sampler.for_study` for a sampler whose only study-wide choice is its seed: the sampler
    itself when it has a seed of its own (or the study has none), else a shallow copy that
    takes the study's seed."""
    if sampler.seed is not None or seed is None:
        return sampler
    bound = copy.copy(sampler)
    bound.seed = seed
    return bound


def suggestion_seed(seed: int | None, own: int | None, position: int) -> int:
    """The seed of one call to `Sampler.suggest`.

    Args:
        seed: The seed the call was given (the study derives it from its own seed).
        own: The sampler's seed, from which a call without one derives its seed, so a seeded
            sampler repeats itself on its own too.
        position: Where the call stands in the study (how many trials it holds), so that each
            call of a sequence draws differently.

    Returns:
        `seed` if given; else one derived from (`own`, `position`); else fresh entropy.
    """
    if seed is not None:
        return int(seed)
    entropy = None if own is None else [int(own), int(position)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def renamed(owner: str, old: str, old_value: T | None, new: str, new_value: T, default: T) -> T:
    """The value of a setting that may be given under its deprecated name `old`.

    Args:
        owner: The class, for messages.
        old: The deprecated argument name.
        old_value: What was passed under it (None: nothing).
        new: The argument's name.
        new_value: What was passed under the new name.
        default: The new argument's default, to tell whether both names were given.

    Raises:
        ConfigError: Both names were given.
    """
    if old_value is None:
        return new_value
    if new_value != default:
        raise ConfigError(
            f"{owner}: {old} is the deprecated name of {new}; give {new} only (got "
            f"{new}={new_value!r} and {old}={old_value!r})"
        )
    warnings.warn(
        f"{owner}({old}=...) is deprecated; use {new}=... instead",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def check_seed(seed: int | None, owner: str) -> int | None:
    """Return `seed` if it is None or an integer >= 0; otherwise raise a `ConfigError`."""
    if seed is None:
        return None
    return check_int(seed, f"{owner}: seed", low=0, hint="or None")
