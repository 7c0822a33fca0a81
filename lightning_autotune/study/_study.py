"""`Study`: one optimization over its store, sampler and pruner (ask, tell, optimize, best)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import (
    ConfigError,
    StudyInterrupted,
    TrialStateError,
)
from lightning_autotune.pruners import Pruner
from lightning_autotune.samplers import Sampler
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import Storage, StudyInfo
from lightning_autotune.study._faults import check_dead_trials, fail_dead_trials, worker_id
from lightning_autotune.study._history import SplitMemo
from lightning_autotune.study._propose import Proposing
from lightning_autotune.study._values import objective_values
from lightning_autotune.trial import Direction, FailureKind, Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from lightning_autotune.progress import ProgressReporter
    from lightning_autotune.study._executors import Executor

log = logging.getLogger("lightning_autotune")

__all__ = ["Study"]


class Study(Proposing):
    """An optimization over a search space, recorded in a store.

    Made by `create_study` or `load_study`. Use `ask`/`tell` to drive it by hand, or `optimize`
    to let it run an objective. `with create_study(...) as study:` closes the store's
    connections at the end of the block (`close`).

    Attributes:
        name: The study's unique name in its store.
        space: The search space.
        directions: One `Direction` per objective.
        sampler: Proposes configurations.
        pruner: Decides early stops (None: never prune).
        storage: The store, the single source of truth.
        seed: Seed from which each trial's sampling seed is derived (None: not reproducible).
    """

    def __init__(
        self,
        storage: Storage,
        info: StudyInfo,
        sampler: Sampler,
        pruner: Pruner | None,
        seed: int | None,
    ) -> None:
        self.storage = storage
        self.study_id = info.study_id
        self.name = info.name
        self.space = SearchSpace.from_dict(info.space)
        self.directions: tuple[Direction, ...] = tuple(info.directions)
        # a sampler that leaves its Sobol scramble unset takes the study's seed here
        self.sampler = sampler.for_study(seed)
        self.pruner = pruner
        self.seed = seed
        self.stale_after: float | None = info.user_attrs.get("stale_after")
        self._splits = SplitMemo()

    def __repr__(self) -> str:
        return (
            f"Study(name={self.name!r}, trials={len(self.trials)}, "
            f"directions={[d.value for d in self.directions]})"
        )

    def close(self) -> None:
        """Close the store's connections; the study reopens them if used again.

        A study that is dropped without `close` releases them when it is garbage-collected.
        """
        self.storage.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def direction(self) -> Direction:
        """The direction of a single-objective study (the first one otherwise)."""
        return self.directions[0]

    @property
    def user_attrs(self) -> Mapping[str, Any]:
        """Annotations stored with the study."""
        return self.storage.get_study(self.name).user_attrs

    # ask / tell
    def ask(self, params: Mapping[str, Any] | None = None) -> Trial:
        """Start a trial: a WAITING one if any (see `enqueue`), else the sampler's proposal.

        Args:
            params: Run exactly this configuration instead (checked against the space).
        """
        _, read = check_dead_trials(self, self.stale_after)
        me = worker_id()
        if params is not None:
            record = self.storage.create_trial(
                self.study_id, self.space.validate(params), worker=me
            )
            return Trial(self, record)
        # The read that looked for dead trials serves the proposal too: one read per ask. A
        # trial enqueued after it is claimed by the next ask, as if it came a moment later.
        if read is None or any(t.state is TrialState.WAITING for t in read.unfinished()):
            claimed = self.storage.claim_waiting(self.study_id, worker=me)
            if claimed is not None:
                return Trial(self, claimed)
            read = None
        return Trial(self, self._create_proposed(1, worker=me, snapshot=read)[0])

    def fail_dead_trials(self) -> list[TrialRecord]:
        """Fail the RUNNING trials whose process is gone, so they stop counting as pending.

        A trial started by a process of this host that no longer exists (killed, crashed) is
        recorded FAILED 'process died' (kind PROCESS_DIED). With `stale_after` set, a trial
        whose last heartbeat (`Trial.heartbeat`, `report`, `should_prune`) is older
        than that is failed as 'heartbeat lost' (kind HEARTBEAT_LOST), wherever it ran. Called by
        `ask` and when the study is opened.

        Returns:
            The trials this call failed.
        """
        return fail_dead_trials(self, self.stale_after)

    def enqueue(self, params: Mapping[str, Any]) -> TrialRecord:
        """Queue a configuration to be run by the next `ask` (e.g. a known good baseline)."""
        return self.storage.create_trial(
            self.study_id, self.space.validate(params), state=TrialState.WAITING
        )

    def tell(
        self,
        trial: Trial | int,
        value: float | Sequence[float] | None = None,
        *,
        state: TrialState | None = None,
        reason: str | None = None,
        kind: FailureKind | None = None,
    ) -> TrialRecord:
        """Finish a trial with its objective value(s), or as PRUNED / FAILED.

        A NaN or infinite value is recorded as FAILED (kind DIVERGED) with that reason; the
        study goes on.

        Args:
            trial: The trial (or its number).
            value: The final objective value, or one value per objective.
            state: COMPLETE (default when a value is given), PRUNED or FAILED.
            reason: Why it was pruned or failed, in words.
            kind: Why it was pruned or failed, as decisions read it (default: EXCEPTION for
                FAILED, PRUNED for PRUNED).

        Raises:
            TrialStateError: The trial already finished differently (a late result), or the
                study has no trial of that number.
            ConfigError: The value is not a number (or not one per objective), COMPLETE was
                asked without a value, or the trial belongs to another study.
        """
        if state is not None and not isinstance(state, TrialState):
            raise ConfigError(
                f"tell: state must be a TrialState (COMPLETE, PRUNED or FAILED), got {state!r}"
            )
        if state is None:
            state = TrialState.COMPLETE if value is not None else TrialState.FAILED
        # A PRUNED trial without a value takes its last report, which only the store has; the
        # store checks every other outcome against the trial's state when it records it.
        fresh = state is TrialState.PRUNED and value is None
        trial_id, number = self._id_and_number(trial)
        values = None if value is None else objective_values(value, self, number)
        if state is TrialState.COMPLETE:
            if values is None:
                raise ConfigError(
                    f"trial {number}: state COMPLETE needs a value, got value=None; pass "
                    "the objective value, or state=TrialState.FAILED with a reason"
                )
            bad = [v for v in values if not math.isfinite(v)]
            if bad:
                state, reason = TrialState.FAILED, f"objective value was {bad[0]}"
                kind = FailureKind.DIVERGED
        if fresh and len(self.directions) == 1:
            record = self.storage.get_trial(trial_id)
            if record.last_step is not None:
                values = (record.intermediate[record.last_step],)
        return self.storage.finish_trial(trial_id, state, values, reason, kind)

    def _id_and_number(self, trial: Trial | int) -> tuple[int, int]:
        """The store id and number of `trial`: a `Trial` of this study carries both (nothing is
        read); a trial number is looked up."""
        if isinstance(trial, Trial):
            if trial.study.name != self.name:
                raise ConfigError(
                    f"trial {trial.number} belongs to study {trial.study.name!r}, not "
                    f"{self.name!r}; tell it to the study that asked for it"
                )
            return trial.trial_id, trial.number
        for t in self.storage.read_trials(self.study_id).trials:
            if t.number == trial:
                return t.trial_id, t.number
        raise TrialStateError(f"study {self.name!r} has no trial number {trial}")

    # Results
    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, by number."""
        return self.storage.get_trials(self.study_id)

    def get_trials(self, states: Iterable[TrialState] | None = None) -> list[TrialRecord]:
        """Trials in the given states (all when None), by number."""
        return self.storage.get_trials(self.study_id, states)

    @property
    def best_trial(self) -> TrialRecord:
        """The COMPLETE trial with the best value (single objective).

        Raises:
            ValueError: No trial has completed yet, or the study has several objectives.
        """
        if len(self.directions) != 1:
            raise ValueError(
                f"study {self.name!r} has {len(self.directions)} objectives; use best_trials"
            )
        done = self.get_trials([TrialState.COMPLETE])
        if not done:
            raise ValueError(f"study {self.name!r} has no COMPLETE trial yet")
        sign = self.direction.sign
        return min(done, key=lambda t: (sign * t.values[0], t.number))  # type: ignore[index]

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The COMPLETE trials on the Pareto front, by number (any number of objectives).

        With one objective this is every trial tied for the best value; it is empty before any
        trial has completed.
        """
        from lightning_autotune.multiobjective import pareto_front

        return pareto_front(self.get_trials([TrialState.COMPLETE]), self.directions)

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of `best_trial`."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        """Value of `best_trial`."""
        return self.best_trial.values[0]  # type: ignore[index]

    def export(self, path: str | Path) -> Path:
        """Write the trial table to a `.csv` or `.json` file and return its path."""
        from lightning_autotune.study._export import export_trials

        return export_trials(self, Path(path))

    # The loop
    def optimize(
        self,
        objective: Callable[[Trial], float | Sequence[float]],
        n_trials: int | None = None,
        timeout: float | str | None = None,
        *,
        max_trials: int | None = None,
        n_workers: int = 1,
        executor: Executor | None = None,
        trial_timeout: float | str | None = None,
        catch: tuple[type[BaseException], ...] = (Exception,),
        max_retries: int = 1,
        failure_threshold: float | tuple[float, int] | None = None,
        heartbeat_interval: float = 5.0,
        heartbeat_grace: float = 60.0,
        stop_grace: float = 10.0,
        progress: bool | ProgressReporter = False,
    ) -> Study:
        """Run `objective(trial)` until `n_trials`, `max_trials` or `timeout` is reached.

        An objective that raises one of `catch` ends its trial FAILED with the exception's type,
        message and place (kind OOM for out-of-memory errors, and that configuration is not
        proposed again); `TrialPruned` ends it PRUNED. A trial whose process died or lost its
        heartbeat is retried with the same parameters (`retry_of` set) up to `max_retries`.
        Running the same call again after a crash or Ctrl-C resumes the study. On Ctrl-C the
        running trials are recorded as interrupted (kind INTERRUPTED; they run again, with the
        same parameters, when the study resumes), trial processes are stopped, and
        `StudyInterrupted` is raised with the one-line message to show.

        Args:
            objective: Takes a `Trial`, returns the objective value(s). With several workers it
                runs in other processes (sent with cloudpickle; `__main__` functions work).
            n_trials: Trials this call starts, retries included (None: no limit).
            timeout: Seconds, or 'HH:MM:SS', for this call. When it ends (plus `stop_grace`),
                running trial processes are stopped and recorded FAILED
                'stopped: time budget reached'. In process, no trial starts after it, and
                a `LightningObjective` stops at it; a plain objective's running trial ends
                by itself.
            max_trials: Total trials the study may hold, retries and trials ended by a setup
                error not counted: a resumed call only runs what is missing.
            n_workers: Trials at once; more than 1 runs each trial in its own process
                (`ProcessExecutor`), which needs a URL store such as 'sqlite:///autotune.db'.
            executor: Where trials run (overrides `n_workers`): `InProcessExecutor`,
                `ProcessExecutor`, `RayExecutor`.
            trial_timeout: Seconds one trial may run before it is stopped. A plain objective
                needs its own process for this (`n_workers > 1` or
                `executor=ProcessExecutor(n_workers=1)`; refused in process); a
                `LightningObjective` applies it in process through `max_time`.
            catch: Exceptions recorded as failures instead of stopping the study.
            max_retries: Retries of a trial whose process died or lost its heartbeat (a trial
                interrupted by Ctrl-C is always run again on resume, spending no retry).
            failure_threshold: A fraction, or (fraction, min_trials): stop with
                `StudyFailedError` once more than that share of finished trials failed.
            heartbeat_interval: Seconds between heartbeats of a running trial.
            heartbeat_grace: Seconds without a heartbeat after which a RUNNING trial (of any
                worker) is marked FAILED 'heartbeat lost' and retried. This call renews the
                lease of the trials it sees running on its executor, so the test fails only
                trials whose loop is gone.
            stop_grace: Seconds trial processes get after the timeout to finish by themselves
                (fit's trials stop at the deadline through Lightning's `max_time`), and after
                a stop signal before they are killed.
            progress: True shows progress (a live panel on a terminal, plain lines otherwise):
                trials done, running trials with their last value, the best so far and the
                time left; or pass a configured `progress.ProgressReporter`.

        Raises:
            ConfigError: A bad argument, or several workers on an in-memory store.
            StudyFailedError: The failure threshold was passed; the message counts the reasons.
            StudyInterrupted: Ctrl-C (a `KeyboardInterrupt`): print its message, exit 130.
        """
        from lightning_autotune.study._executors import InProcessExecutor, RunSettings
        from lightning_autotune.study._optimize import Budget, in_process_objective, run_study
        from lightning_autotune.study._process import ProcessExecutor
        from lightning_autotune.study._signals import received as interrupt_received
        from lightning_autotune.study._signals import report_if_uncaught, watch_interrupts

        interval = check_number(
            heartbeat_interval, "heartbeat_interval", low=0.0, strict_low=True, hint="e.g. 5"
        )
        settings = RunSettings(catch=catch, heartbeat_interval=interval)
        if executor is None:
            executor = InProcessExecutor() if n_workers == 1 else ProcessExecutor(n_workers)
        executor.settings = settings
        budget = Budget.make(
            n_trials,
            max_trials,
            timeout,
            trial_timeout,
            max_retries=max_retries,
            failure_threshold=failure_threshold,
            heartbeat_grace=heartbeat_grace,
            stop_grace=stop_grace,
        )
        if isinstance(executor, InProcessExecutor):
            objective = in_process_objective(objective, budget)
        reporter = progress if not isinstance(progress, bool) else None
        if progress is True:
            from lightning_autotune.progress import ProgressReporter

            reporter = ProgressReporter()
        with watch_interrupts():
            try:
                run_study(self, objective, executor, budget, reporter)
            except BaseException as err:
                # Lightning turns Ctrl-C into SystemExit: the noted signal tells them apart.
                if isinstance(err, KeyboardInterrupt) or interrupt_received():
                    report_if_uncaught()
                    raise StudyInterrupted() from None
                raise
        return self
