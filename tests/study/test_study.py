"""Study: ask/tell, enqueue, failures, best trial, reopening, seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_autotune.exceptions import (
    ConfigError,
    DuplicateStudyError,
    StudyMismatchError,
    StudyNotFoundError,
    TrialStateError,
)
from lightning_autotune.pruners import MedianPruner
from lightning_autotune.samplers import (
    BoTorchSampler,
    MultiObjectiveBoTorchSampler,
    RandomSampler,
    SobolSampler,
)
from lightning_autotune.space import SearchSpace
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import Study, create_study, load_study
from lightning_autotune.trial import Direction, Trial, TrialState

SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    "layers": {"type": "integer", "min": 1, "max": 4},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    "momentum": {"type": "continuous", "min": 0.5, "max": 0.99, "when": {"optimizer": "sgd"}},
}


def _study(**kwargs) -> Study:
    return create_study(space=SPACE, sampler=RandomSampler(), seed=0, **kwargs)


def test_ask_gives_a_valid_running_trial():
    study = _study()
    trial = study.ask()
    assert isinstance(trial, Trial) and trial.number == 0
    assert study.space.validate(trial.params) == trial.params
    assert study.trials[0].state is TrialState.RUNNING
    assert "Trial(number=0" in repr(trial)


def test_tell_completes_with_the_value():
    study = _study()
    trial = study.ask()
    record = study.tell(trial, 0.25)
    assert record.state is TrialState.COMPLETE and record.values == (0.25,)
    assert record.value == 0.25
    assert study.trials[0] == record


def test_tell_by_number_and_unknown_number():
    study = _study()
    study.ask()
    assert study.tell(0, 1.5).value == 1.5
    with pytest.raises(TrialStateError, match=r"study 'study-0' has no trial number 7"):
        study.tell(7, 1.0)


def test_tell_accepts_numpy_and_0d_arrays():
    study = _study()
    assert study.tell(study.ask(), np.float32(0.5)).value == 0.5
    assert study.tell(study.ask(), np.array(0.75)).value == 0.75
    assert study.tell(study.ask(), [1]).value == 1.0


def test_tell_accepts_a_0d_tensor():
    torch = pytest.importorskip("torch")
    study = _study()
    assert study.tell(study.ask(), torch.tensor(0.5)).value == 0.5


@pytest.mark.parametrize("bad", ["0.5", {"loss": 0.5}, [None], True])
def test_tell_refuses_non_numbers(bad):
    study = _study()
    trial = study.ask()
    with pytest.raises(ConfigError, match=r"trial 0: the objective value must be a number"):
        study.tell(trial, bad)
    assert study.trials[0].state is TrialState.RUNNING


def test_enqueued_config_runs_first():
    study = _study()
    baseline = {"lr": 1e-3, "layers": 2, "optimizer": "sgd", "momentum": 0.9}
    queued = study.enqueue(baseline)
    assert queued.state is TrialState.WAITING
    trial = study.ask()
    assert trial.params == baseline and trial.number == queued.number
    assert study.trials[0].state is TrialState.RUNNING
    assert study.ask().number == 1  # the queue is empty again: the sampler proposes


def test_enqueue_checks_the_config():
    study = _study()
    with pytest.raises(Exception, match=r"'momentum' is active in this configuration but missing"):
        study.enqueue({"lr": 1e-3, "layers": 2, "optimizer": "sgd"})


def test_ask_with_params_drops_inactive_ones():
    study = _study()
    trial = study.ask({"lr": 1e-3, "layers": 2, "optimizer": "adam", "momentum": 0.9})
    assert trial.params == {"lr": 1e-3, "layers": 2, "optimizer": "adam"}


def test_nan_value_fails_the_trial_with_a_reason():
    study = _study()
    record = study.tell(study.ask(), math.nan)
    assert record.state is TrialState.FAILED
    assert record.reason == "objective value was nan"
    inf = study.tell(study.ask(), -math.inf)
    assert inf.state is TrialState.FAILED and inf.reason == "objective value was -inf"


def test_late_result_after_failure_is_refused():
    study = _study()
    trial = study.ask()
    study.tell(trial, state=TrialState.FAILED, reason="worker died")
    with pytest.raises(TrialStateError, match=r"already finished as FAILED \(worker died\)"):
        study.tell(trial, 0.5)
    assert study.trials[0].state is TrialState.FAILED


def test_repeated_identical_completion_is_harmless():
    study = _study()
    trial = study.ask()
    first = study.tell(trial, 0.5)
    assert study.tell(trial, 0.5) == first
    with pytest.raises(TrialStateError, match=r"already finished as COMPLETE"):
        study.tell(trial, 0.6)


def test_wrong_number_of_values():
    study = _study()
    with pytest.raises(
        ConfigError,
        match=r"study 'study-0' has 1 objective\(s\) but trial 0 was told 2 value\(s\): "
        r"\[0.1, 0.2\]; return one value per direction",
    ):
        study.tell(study.ask(), [0.1, 0.2])
    multi = create_study(space=SPACE, directions=["min", "max"], sampler=RandomSampler())
    with pytest.raises(ConfigError, match=r"has 2 objective\(s\) but trial 0 was told 1 value"):
        multi.tell(multi.ask(), 0.1)
    assert multi.tell(0, (0.1, 0.9)).values == (0.1, 0.9)


def test_complete_needs_a_value_and_state_must_be_a_state():
    study = _study()
    trial = study.ask()
    with pytest.raises(ConfigError, match=r"trial 0: state COMPLETE needs a value, got value=None"):
        study.tell(trial, state=TrialState.COMPLETE)
    with pytest.raises(ConfigError, match=r"state must be a TrialState .* got 'PRUNED'"):
        study.tell(trial, state="PRUNED")  # type: ignore[arg-type]
    assert study.tell(trial).state is TrialState.FAILED  # no value, no state: a failure


def test_pruned_trial_keeps_its_last_intermediate_value():
    study = _study()
    trial = study.ask()
    trial.report(1, 0.9)
    trial.report(2, 0.7)
    record = study.tell(trial, state=TrialState.PRUNED, reason="manual")
    assert record.state is TrialState.PRUNED and record.values == (0.7,)
    assert record.reason == "manual"


def _finish(study: Study, values: list[float]) -> None:
    for v in values:
        study.tell(study.ask(), v)


def test_best_trial_minimize():
    study = _study()
    _finish(study, [0.5, 0.2, 0.9, 0.2])
    study.tell(study.ask(), state=TrialState.FAILED)
    assert study.best_trial.number == 1  # ties go to the earlier trial
    assert study.best_value == 0.2
    assert study.best_params == dict(study.trials[1].params)


def test_best_trial_maximize():
    study = _study(direction="maximize")
    _finish(study, [0.5, 0.2, 0.9])
    trial = study.ask()
    trial.report(1, 5.0)
    study.tell(trial, state=TrialState.PRUNED)  # pruned trials never count as best
    assert study.direction is Direction.MAXIMIZE
    assert study.best_trial.number == 2 and study.best_value == 0.9


def test_best_trial_without_complete_trial():
    study = _study(name="empty")
    study.tell(study.ask(), math.nan)
    with pytest.raises(ValueError, match=r"study 'empty' has no COMPLETE trial yet"):
        _ = study.best_trial
    with pytest.raises(ValueError, match=r"no COMPLETE trial yet"):
        _ = study.best_params


def test_best_trial_of_several_objectives():
    study = create_study(space=SPACE, directions=["min", "max"], sampler=RandomSampler())
    with pytest.raises(ValueError, match=r"has 2 objectives; use best_trials"):
        _ = study.best_trial


def test_get_trials_by_state():
    study = _study()
    _finish(study, [0.1, 0.2])
    study.ask()
    assert [t.number for t in study.get_trials([TrialState.RUNNING])] == [2]
    assert len(study.get_trials()) == 3
    assert "trials=3" in repr(study)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "minimise"}, r"direction must be 'minimize' or 'maximize' .*'minimise'"),
        ({"directions": ["min", "up"]}, r"directions must be 'minimize' or 'maximize' .*'up'"),
        ({"directions": []}, r"directions must be a non-empty list .* got \[\]"),
        ({"directions": "min"}, r"directions must be a non-empty list .* got 'min'"),
        (
            {"direction": "min", "directions": ["min"]},
            r"give direction or directions, not both \(got direction='min'",
        ),
    ],
)
def test_create_study_bad_direction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        create_study(space=SPACE, **kwargs)


def test_create_study_needs_a_space():
    with pytest.raises(ConfigError, match=r"create_study needs a search space"):
        create_study("x")


def test_default_names_are_unique_in_a_store():
    store = InMemoryStorage()
    a = create_study(space=SPACE, storage=store)
    b = create_study(space=SPACE, storage=store)
    assert (a.name, b.name) == ("study-0", "study-1")


def test_reopening_continues_with_every_trial():
    store = InMemoryStorage()
    study = create_study("s", SPACE, store, sampler=RandomSampler(), seed=3)
    _finish(study, [0.3, 0.1])
    again = create_study("s", SearchSpace.from_dict(SPACE), store, sampler=RandomSampler())
    assert again.study_id == study.study_id
    assert [t.values for t in again.trials] == [(0.3,), (0.1,)]
    assert again.best_value == 0.1
    loaded = load_study("s", store, sampler=RandomSampler())
    assert loaded.seed == 3  # taken from the store
    assert loaded.space == study.space and loaded.directions == study.directions


def test_reopening_with_a_changed_space_lists_the_differences():
    store = InMemoryStorage()
    create_study("s", SPACE, store)
    changed = {
        **SPACE,
        "layers": {"type": "integer", "min": 1, "max": 8},
        "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
    }
    changed.pop("momentum")
    with pytest.raises(StudyMismatchError) as err:
        create_study("s", changed, store)
    message = str(err.value)
    assert message.startswith("study 's' already exists with a different definition: ")
    assert "'momentum' only in the stored space" in message
    assert "'dropout' only in the new space" in message
    assert "'layers' changed: " in message and "'max': 4" in message and "'max': 8" in message
    assert message.endswith("Use a new study name, or delete the old study first.")


def test_reopening_with_a_changed_direction():
    store = InMemoryStorage()
    create_study("s", SPACE, store)
    with pytest.raises(
        StudyMismatchError, match=r"directions changed: \['minimize'\] -> \['maximize'\]"
    ):
        create_study("s", SPACE, store, direction="maximize")


def test_duplicate_name_without_load_if_exists():
    store = InMemoryStorage()
    create_study("s", SPACE, store)
    with pytest.raises(DuplicateStudyError, match=r"a study named 's' already exists"):
        create_study("s", SPACE, store, load_if_exists=False)


def test_load_missing_study():
    with pytest.raises(StudyNotFoundError, match=r"no study named 'nope'; the store has \[\]"):
        load_study("nope", InMemoryStorage())


def _params_sequence(seed: int | None, sampler=None) -> list[dict]:
    study = create_study(space=SPACE, sampler=sampler or RandomSampler(), seed=seed)
    out = []
    for i in range(6):
        trial = study.ask()
        out.append(trial.params)
        study.tell(trial, float(i))
    return out


def test_seeded_studies_are_reproducible():
    assert _params_sequence(1) == _params_sequence(1)
    assert _params_sequence(1) != _params_sequence(2)
    first = _params_sequence(None)
    assert len({repr(p) for p in first}) == 6


def test_sobol_studies_are_reproducible_and_do_not_repeat():
    a = _params_sequence(0, SobolSampler(seed=4))
    assert a == _params_sequence(0, SobolSampler(seed=4))
    assert len({repr(p) for p in a}) == len(a)


def _first_points(sampler, seed: int | None) -> list[dict]:
    study = create_study(space=SPACE, sampler=sampler, seed=seed)
    return [study.ask().params for _ in range(3)]


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: SobolSampler(**kw),
        lambda **kw: BoTorchSampler(**kw),
        lambda **kw: MultiObjectiveBoTorchSampler(**{f"sobol_{k}": v for k, v in kw.items()}),
    ],
    ids=["sobol", "botorch", "multiobjective"],
)
def test_a_sampler_without_its_own_seed_scrambles_with_the_studys(make):
    unseeded = make()
    # the study's seed decides the design, as if the sampler had been given it ...
    assert _first_points(unseeded, 7) == _first_points(make(seed=7), 123)
    assert _first_points(unseeded, 7) != _first_points(unseeded, 8)
    # ... 0 without one; a sampler's own seed wins over the study's
    assert _first_points(unseeded, None) == _first_points(make(seed=0), 5)
    assert _first_points(make(seed=3), 7) == _first_points(make(seed=3), 8)
    # the user's object is left as it was, to be given to other studies
    assert create_study(space=SPACE, sampler=unseeded, seed=7).sampler is not unseeded
    assert _first_points(unseeded, 9) == _first_points(make(seed=9), 1)


def test_user_attrs_and_study_properties():
    study = _study(pruner=MedianPruner())
    assert study.user_attrs["seed"] == 0
    assert isinstance(study.sampler, RandomSampler) and isinstance(study.pruner, MedianPruner)
    assert isinstance(study.storage, InMemoryStorage)
    assert study.directions == (Direction.MINIMIZE,)


def test_suggest_gives_valid_configs_without_recording_them():
    study = _study()
    configs = study.suggest(3)
    assert len(configs) == 3 and study.trials == []
    for c in configs:
        assert study.space.validate(c) == c


def test_tell_refuses_a_trial_of_another_study():
    store = InMemoryStorage()
    a = create_study("a", SPACE, store, sampler=RandomSampler())
    b = create_study("b", SPACE, store, sampler=RandomSampler())
    trial = a.ask()
    with pytest.raises(ConfigError, match=r"trial 0 belongs to study 'a', not 'b'; tell it to"):
        b.tell(trial, 0.5)
    assert a.trials[0].state is TrialState.RUNNING


def test_reopening_from_sqlite_keeps_non_string_conditional_keys(tmp_path):
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    space = {
        "n_layers": {"type": "integer", "min": 1, "max": 3},
        "width": {"type": "conditional", "parent": "n_layers", "mapping": {1: [64], 3: [8, 16]}},
        "bn": {"type": "categorical", "values": [True, False]},
        "bn_momentum": {"type": "conditional", "parent": "bn", "mapping": {True: [0.1, 0.01]}},
        "lr": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
    }
    study = create_study("s", space, url, sampler=RandomSampler(), seed=0)
    study.optimize(lambda t: t.params["lr"], n_trials=3)
    # The store keeps the space as JSON, where mapping keys become strings.
    again = create_study("s", space, url, sampler=RandomSampler())
    assert again.space == SearchSpace.from_dict(space)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    assert again.best_value == study.best_value
    again.optimize(lambda t: t.params["lr"], n_trials=1)
    assert len(load_study("s", url).trials) == 4
