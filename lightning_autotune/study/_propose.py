"""How a study proposes configurations: the sampler over a snapshot of the store, with the
pending trials, the configurations that ran out of memory and the space's rules taken into
account, and each proposal recorded under a trial number no other process took."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.study._history import SplitMemo
from lightning_autotune.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.samplers import Sampler
    from lightning_autotune.space import SearchSpace
    from lightning_autotune.storage import Storage, StudyTrials
    from lightning_autotune.trial import Direction

log = logging.getLogger("lightning_autotune")

__all__ = ["Proposing"]

_PENDING = (TrialState.RUNNING, TrialState.WAITING)
_PROPOSAL_ROUNDS = 20
"""Fresh reads a proposal may take when other processes keep recording trials meanwhile."""


class Proposing:
    """The proposal half of `Study` (`suggest` and what `optimize` records from it)."""

    name: str
    space: SearchSpace
    directions: tuple[Direction, ...]
    sampler: Sampler
    storage: Storage
    study_id: int
    seed: int | None
    _splits: SplitMemo

    def suggest(self, n: int = 1) -> list[dict[str, Any]]:
        """Ask the sampler for `n` configurations, given the history and the pending trials.

        Configurations that already ran out of memory (kind OOM) are
        passed to the sampler as pending, so that model-based samplers steer away from them.
        Exact repeats of them, and of any RUNNING or WAITING trial, are replaced by fresh
        proposals.
        """
        read = self.storage.read_trials(self.study_id)
        return self._suggest_from(read, n)

    def _create_proposed(
        self,
        n: int,
        worker: str | None,
        max_proposals: int | None = None,
        snapshot: StudyTrials | None = None,
    ) -> list[TrialRecord]:
        """Record up to `n` RUNNING trials with the sampler's proposals, unique across processes.

        Each round reads the study afresh, proposes with every RUNNING and WAITING trial of the
        store as pending, and records the proposals under the numbers that were next at that
        read (`Storage.create_trial_if_next`). A trial number is a position in the initial
        design, so proposals recorded this way never share a design point, and each one was
        made knowing every trial before it. When another process created a trial meanwhile,
        the round ends and the proposals not yet recorded are made again from a fresh read.

        With `max_proposals` (the study's `max_trials`), fewer than `n` trials are returned
        once the study holds that many proposals; the store counts and inserts in one step.
        `snapshot`, a read the caller just made, serves the first round.
        """
        records: list[TrialRecord] = []
        for _ in range(_PROPOSAL_ROUNDS):
            read = snapshot if snapshot is not None else self.storage.read_trials(self.study_id)
            snapshot = None
            number = read.next_number
            if max_proposals is not None:
                room = max_proposals - self._splits.split(read.trials).proposals
                if room <= 0:
                    return records
            for config in self._suggest_from(read, n - len(records)):
                record = self.storage.create_trial_if_next(
                    self.study_id, number, config, worker=worker, max_proposals=max_proposals
                )
                if record is None:  # another process recorded a trial since the read
                    break
                records.append(record)
                number += 1
            if len(records) == n:
                return records
        # Other processes kept recording trials faster than this one proposes: record the
        # latest proposals as they are rather than stall.
        log.debug("study %r: proposing under contention", self.name)
        read = self.storage.read_trials(self.study_id)
        for config in self._suggest_from(read, n - len(records)):
            record = self.storage.create_trial_if_next(
                self.study_id, None, config, worker=worker, max_proposals=max_proposals
            )
            if record is None:  # the study is full
                break
            records.append(record)
        return records

    def _suggest_from(self, read: StudyTrials, n: int) -> list[dict[str, Any]]:
        """`suggest(n)` on a snapshot `read` of the study."""
        first = read.next_number
        # A setup error says nothing about its configuration: the sampler never sees it.
        split = self._splits.split(read.trials)
        history, oom, index = split.history, split.oom, split.proposals
        pending = [t for t in read.unfinished() if t.state in _PENDING]
        banned = {_key(t.params) for t in (*oom, *pending)}
        configs: list[dict[str, Any]] = []
        for attempt in range(10):
            proposed = self.sampler.suggest(
                self.space,
                history,
                directions=self.directions,
                pending=[*pending, *oom],
                n=n - len(configs),
                seed=self._seed_for(index, attempt),
            )
            for config in proposed:
                config = self.space.validate(self._feasible(config, first + len(configs)))
                key = _key(config)
                if key not in banned:
                    banned.add(key)
                    configs.append(config)
            if len(configs) >= n:
                break
        else:  # the sampler keeps proposing what ran out of memory: run it rather than stall
            configs.extend(self.space.validate(c) for c in proposed[: n - len(configs)])
        return configs[:n]

    def _feasible(self, config: dict[str, Any], number: int) -> dict[str, Any]:
        """Apply the space's rules; replace an infeasible proposal by a feasible random one.

        Constraint-aware samplers never hit the replacement; it keeps every other sampler's
        proposals inside the feasible region. `number` is the trial's, which seeds the draw.
        """
        if not (self.space.constraints or self.space.rules):
            return config
        config = self.space.apply_rules(config)
        if self.space.is_feasible(config):
            return config
        log.debug(
            "%s proposed an infeasible configuration; using a feasible random one",
            type(self.sampler).__name__,
        )
        seed = self._seed_for(number)
        return self.space.sample(1, seed)[0]

    def _seed_for(self, index: int, attempt: int = 0) -> int | None:
        # `index` counts the study's proposals (retries excluded), so a study that was killed
        # and resumed, whose dead trial is retried, proposes what it would have proposed. A
        # study without a seed of its own takes its sampler's.
        seed = self.seed if self.seed is not None else self.sampler.seed
        if seed is None:
            return None
        entropy = [seed, index] if attempt == 0 else [seed, index, attempt]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)
