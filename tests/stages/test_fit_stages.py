from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.exceptions import ConfigError, StudyInterrupted
from lightning_autotune.knowledge import WARM_ATTR
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.stages import Narrowing, Stage, stage_study_name
from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

SPACE = {
    "lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
    "hidden": {"type": "integer", "min": 4, "max": 32},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
}
DATA = random_datasets(n=128, n_features=8)
CALLS: list[dict] = []


def build(params):
    CALLS.append(dict(params))
    model = TinyClassifier(
        n_features=8,
        n_classes=3,
        hidden=params["hidden"],
        lr=params["lr"],
        optimizer=params["optimizer"],
    )
    return model, DataLoader(DATA[0], batch_size=32, shuffle=True), DataLoader(DATA[1], 64)


def _fit(url, stages, **kwargs):
    return la.fit(
        build,
        SPACE,
        monitor="val_loss",
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2},
        storage=url,
        study_name="plan",
        sampler=RandomSampler(),
        seed=0,
        progress=False,
        stages=stages,
        **kwargs,
    )


def test_stages_run_at_their_fidelity_and_narrow_the_next(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    plan = [
        Stage(trials=4, data_fraction=0.5, max_epochs=1, narrow=Narrowing(top_k=2)),
        Stage(trials=3, promote=1),
    ]
    final = _fit(url, plan)
    first = la.load_study(stage_study_name("plan", 1), url)
    # 96 training examples, half of them in batches of 32: 2 steps, one epoch
    assert all(sorted(t.intermediate) == [2] for t in first.trials)
    # the full stage: 3 steps an epoch for 2 epochs
    assert all(sorted(t.intermediate) == [3, 6] for t in final.trials)
    assert final.name == "plan.stage2" and len(final.trials) == 3
    best = sorted(first.trials, key=lambda t: t.values[0])[:2]
    lo, hi = final.space["lr"].low, final.space["lr"].high
    assert all(lo <= t.params["lr"] <= hi for t in best)
    assert final.trials[0].params == best[0].params  # promoted, confirmed at full fidelity
    attrs = final.user_attrs
    assert attrs["stage_index"] == 2 and attrs["stage_of"] == "plan"
    assert {c["name"] for c in attrs["stage_changes"]} >= {"lr", "hidden"}


def test_a_crashed_plan_resumes_without_rerunning_finished_stages(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    plan = [Stage(trials=3, data_fraction=0.5, max_epochs=1), Stage(trials=3)]
    CALLS.clear()
    original = build

    def crash_on_fifth(params):
        if len(CALLS) == 4:
            CALLS.append({})
            raise KeyboardInterrupt
        return original(params)

    monkeypatch.setitem(globals(), "build", crash_on_fifth)
    with pytest.raises((KeyboardInterrupt, StudyInterrupted)):
        _fit(url, plan)
    monkeypatch.setitem(globals(), "build", original)
    CALLS.clear()
    final = _fit(url, plan)
    first = la.load_study(stage_study_name("plan", 1), url)
    assert len(first.trials) == 3  # stage 1 was not rerun
    assert [t.state for t in final.get_trials([la.TrialState.COMPLETE])] == [
        la.TrialState.COMPLETE
    ] * 3
    assert len(CALLS) == 2  # only what stage 2 still missed ran


def test_screening_ranks_and_fixes_the_parameters_that_explain_little(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    plan = [Stage(screen=True, data_fraction=0.5, max_epochs=1, threshold=0.99), Stage(trials=2)]
    final = la.fit(
        build,
        SPACE,
        monitor="val_loss",
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1},
        storage=url,
        study_name="scr",
        sampler=RandomSampler(),
        seed=0,
        stages=plan,
    )
    screen = la.load_study(stage_study_name("scr", 1), url)
    ranking = screen.user_attrs["stage_screening"]
    assert {e["name"] for e in ranking} == {"lr", "hidden", "optimizer"}
    assert abs(sum(e["share"] for e in ranking) - 1.0) < 1e-9
    # with a 99% threshold everything but the top parameter is fixed at its best value
    fixed = [e for e in ranking if e["fixed"]]
    assert len(fixed) == 2
    for e in fixed:
        assert {t.params[e["name"]] for t in final.trials} == {e["best_value"]}
    assert "screening ranks" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        ([Stage(trials=2, data_fraction=0.0), Stage(trials=2)], r"stage 1: data_fraction.*got 0.0"),
        ([Stage(trials=2, data_fraction=1.5)], r"stage 1: data_fraction.*got 1.5"),
        (
            [Stage(trials=2, max_epochs=5), Stage(trials=2)],
            "stage 1: max_epochs=5 is above the final stage's 2",
        ),
        ([Stage()], "stage 1: give trials or time_budget"),
        ([Stage(trials=2, params={"depth": 3})], r"params \['depth'\] are not in the search space"),
        ([], "stages must be a non-empty list"),
    ],
)
def test_bad_plans_are_refused_before_any_trial(tmp_path, plan, match):
    CALLS.clear()
    with pytest.raises(ConfigError, match=match):
        _fit(f"sqlite:///{tmp_path / 's.db'}", plan)
    assert CALLS == []


def test_a_same_task_warm_start_is_refused_before_anything_is_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    CALLS.clear()
    with pytest.raises(ConfigError, match="stages with warm_start_mode='same_task' would model"):
        _fit(url, [Stage(trials=1)], warm_start=["earlier"], warm_start_mode="same_task")
    assert CALLS == [] and not (tmp_path / "s.db").exists()


def test_a_warm_start_feeds_the_first_stage_only(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    earlier = la.create_study("earlier", SPACE, url, sampler=RandomSampler(), seed=1)
    for value in (0.9, 0.2, 0.5):
        trial = earlier.ask()
        earlier.tell(trial, value)
    best = earlier.best_params
    plan = [Stage(trials=2, data_fraction=0.5, narrow=None), Stage(trials=1, promote=0)]
    la.fit(
        build, SPACE, monitor="val_loss",
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 1}, storage=url,
        study_name="warm", seed=0, progress=False, stages=plan, warm_start="earlier",
        warm_start_mode="zero_shot",
    )  # fmt: skip
    first = la.load_study(stage_study_name("warm", 1), url)
    second = la.load_study(stage_study_name("warm", 2), url)
    # the zero-shot portfolio starts with the earlier study's best configuration
    assert first.trials[0].params == best
    assert WARM_ATTR in first.user_attrs and WARM_ATTR not in second.user_attrs


def test_rerunning_a_plan_with_another_objective_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    plan = [Stage(trials=1, data_fraction=0.5, max_epochs=1), Stage(trials=1)]
    _fit(url, plan)
    with pytest.raises(ConfigError, match=r"measured \['val_loss'\].*measures \['val_accuracy'\]"):
        la.fit(
            build,
            SPACE,
            monitor="val_accuracy",
            mode="min",
            trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 2},
            storage=url,
            study_name="plan",
            sampler=RandomSampler(),
            seed=0,
            progress=False,
            stages=[Stage(trials=1, data_fraction=0.5, max_epochs=1), Stage(trials=2)],
        )


def test_hypertuner_runs_a_staged_plan(tmp_path):
    from torch import nn

    from lightning_autotune import HyperTuner

    class MLP(nn.Module):
        def __init__(self, hidden_size: int = 8):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(8, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 3)
            )

        def forward(self, x):
            return self.net(x)

    tuner = HyperTuner(MLP, nn.CrossEntropyLoss(), metric="accuracy", direction="maximize")
    tuner.set_search_space(
        {
            "learning_rate": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"},
            "hidden_size": {"type": "integer", "min": 4, "max": 16},
        }
    )
    tuner.set_search_strategy(method="random", seed=0)
    tuner.set_stages([Stage(trials=3, data_fraction=0.5, max_epochs=1), Stage(trials=2)])
    best = tuner.optimize(
        DATA[0],
        DATA[1],
        max_epochs=2,
        storage=f"sqlite:///{tmp_path / 'h.db'}",
        study_name="tuned",
        progress=False,
    )
    assert tuner.study is not None and tuner.study.name == "tuned.stage2"
    assert len(tuner.study.trials) == 2 and set(best) == {"learning_rate", "hidden_size"}


@pytest.mark.slow
def test_stages_run_with_several_workers_and_a_pruner(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    plan = [Stage(trials=2, data_fraction=0.5, max_epochs=1), Stage(trials=2)]
    final = _fit(url, plan, n_workers=2, pruner="median")
    first = la.load_study(stage_study_name("plan", 1), url)
    assert len(first.trials) == 2 and len(final.trials) == 2
    assert all(t.state is la.TrialState.COMPLETE for t in [*first.trials, *final.trials])
    assert all(sorted(t.intermediate) == [2] for t in first.trials)
