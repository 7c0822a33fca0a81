"""The case-study protocol of examples/_case_results.py and its stored results.

The stored `results.md` of a case must be the table its `results.json` renders to, so that the
table docs/schedules.md includes cannot drift from the raw runs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from _case_results import (  # noqa: E402
    Row,
    Sweep,
    ablations,
    active_schedules,
    plateau_epoch,
    retrain_all,
    sweep_lines,
    table,
    write,
)

SCHEDULED = {
    "learning_rate": 0.01,
    "switch_at": 0.5,
    "switch_lr_scale": 2.0,
    "batch_size_ramp_at": 0.5,
    "batch_size_factor": 2,
    "agc_clip_factor": 0.05,
}


def test_active_schedules_ignores_values_that_change_nothing():
    params = {**SCHEDULED, "batch_size_factor": 1}
    assert active_schedules(params) == ["optimizer switch", "adaptive clipping"]
    assert active_schedules({"learning_rate": 0.01}) == []


def test_ablations_remove_one_schedule_each_then_all():
    rows = ablations(Row("best", "arm", SCHEDULED))
    names = [r.name for r in rows]
    assert names == [
        "best without optimizer switch",
        "best without batch-size ramp",
        "best without adaptive clipping",
        "best without any schedule",
    ]
    assert "switch_at" not in rows[0].params and "agc_clip_factor" in rows[0].params
    assert rows[-1].params == {"learning_rate": 0.01}
    assert all(r.kind == "ablation" for r in rows)


def test_ablations_keep_a_constant_in_place_of_a_removed_schedule():
    params = {**SCHEDULED, "dropout_start": 0.3, "dropout_decay": 0.05}
    keep = {"dropout decay": lambda p: {"dropout": p["dropout_start"]}}
    rows = {r.name: r.params for r in ablations(Row("best", "arm", params), keep)}
    assert rows["best without dropout decay"]["dropout"] == 0.3
    assert "dropout_start" not in rows["best without dropout decay"]
    assert "dropout" not in rows["best without adaptive clipping"]
    assert rows["best without any schedule"] == {"learning_rate": 0.01, "dropout": 0.3}


def test_ablations_of_a_configuration_without_schedules_are_empty():
    assert ablations(Row("best", "arm", {"learning_rate": 0.01})) == []


def test_plateau_epoch_is_the_first_within_tolerance():
    assert plateau_epoch([0.5, 0.9, 0.905, 0.91, 0.89], 0.01) == 2
    assert plateau_epoch([0.5, 0.9, 0.905, 0.91], 0.0) == 4


def test_plateau_epoch_rejects_bad_input():
    with pytest.raises(ValueError, match=r"at least one epoch, got \[\]"):
        plateau_epoch([], 0.01)
    with pytest.raises(ValueError, match=r"tolerance must be >= 0, got -0\.1"):
        plateau_epoch([0.5], -0.1)


def test_retrain_all_interleaves_seeds_and_flags_collapsed_runs():
    calls = []

    def retrain(params, seed):
        calls.append((params["name"], seed))
        return (0.1 if params["name"] == "b" and seed == 1 else 0.9), 1.0

    rows = [Row("a", "arm", {"name": "a"}), Row("b", "arm", {"name": "b"})]
    retrain_all(rows, 2, retrain, floor=0.2)
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert rows[1].collapsed == [False, True]
    assert "| b | 0.500 ± 0.566 | 1/2 | 1.0 ± 0.0 | - |" in table(rows, "acc")


def test_write_renders_the_table_and_the_arms_not_run(tmp_path):
    row = Row("x", "arm", {}, [0.9, 0.8], [1.0, 2.0], [False, False], 12.3, 4)
    write(tmp_path, {"case": "t"}, [row], metric_label="acc", preamble=["P"], not_run={"n": "why"})
    text = (tmp_path / "results.md").read_text()
    assert "| x | 0.850 ± 0.071 | 0/2 | 1.5 ± 0.7 | 12 (4) |" in text
    assert text.startswith("P\n") and "- n: not run (why)." in text
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["search_trials"] == 4


def test_sweep_lines_render_the_sweep_and_the_best_trials():
    sweep = Sweep("emb_ratio", "ratio", "val F1", "best", {"0.5": [0.8, 0.9], "2": [0.7, 0.7]})
    sweep.trials = [(0.3, 0.5), (1.5, 0.9), (2.5, 0.7)]
    lines = sweep_lines(sweep, top=2)
    assert lines[0] == "Sweep of the ratio around best (val F1, 2 seeds each):"
    assert "| 0.5 | 0.850 ± 0.071 |" in lines and "| 2 | 0.700 ± 0.000 |" in lines
    assert lines[-1] == "The 2 best search trials' ratio (score): 1.50 (0.900), 2.50 (0.700)."


def test_write_stores_the_sweep_with_the_table(tmp_path):
    sweep = Sweep("emb_ratio", "ratio", "val F1", "best", {"1": [0.8, 0.9]}, [(1.0, 0.9)])
    row = Row("x", "arm", {}, [0.9, 0.8], [1.0, 2.0], [False, False])
    write(tmp_path, {}, [row], metric_label="acc", preamble=[], not_run={}, sweep=sweep)
    stored = json.loads((tmp_path / "results.json").read_text())["sweep"]
    assert Sweep(**stored).runs == {"1": [0.8, 0.9]}
    assert "\n".join(sweep_lines(sweep)) in (tmp_path / "results.md").read_text()


def stored_cases() -> list[Path]:
    found = []
    for path in sorted((ROOT / "benchmarks" / "results").glob("case_*/results.json")):
        if isinstance(json.loads(path.read_text()).get("rows"), list):
            found.append(path)
    return found


@pytest.mark.parametrize("path", stored_cases(), ids=lambda p: p.parent.name)
def test_stored_table_is_the_one_its_json_renders(path):
    data = json.loads(path.read_text())
    names = {f.name for f in fields(Row)}
    rows = [Row(**{k: v for k, v in r.items() if k in names}) for r in data["rows"]]
    label = data.get("metric_label", "test accuracy")
    text = (path.parent / "results.md").read_text()
    assert "\n".join(table(rows, label)) in text
    if "sweep" in data:
        sweep = Sweep(**data["sweep"])
        sweep.trials = [tuple(t) for t in sweep.trials]
        assert "\n".join(sweep_lines(sweep)) in text


def test_read_conllu_skips_comments_and_multiword_lines_and_folds_rare_tags():
    from _tagging import read_conllu

    text = (
        "# sent_id = 1\n1-2\tGeldim\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "1\tGel\tgel\tVERB\t_\t_\t0\troot\t_\t_\n"
        "2\tdim\t_\tVERB\t_\t_\t1\tig\t_\t_\n3\tHop\thop\tONOM\t_\t_\t1\tx\t_\t_\n\n"
        "1\t.\t.\tPUNCT\t_\t_\t0\troot\t_\t_\n"
    )
    assert read_conllu(text) == [
        [("gel", "VERB"), ("dim", "VERB"), ("hop", "X")],
        [(".", "PUNCT")],
    ]


def test_length_batches_cover_every_sentence_once_in_batches_of_similar_length():
    from _tagging import length_batches

    lengths = [(7 * i) % 100 for i in range(100)]
    batches = length_batches(lengths, 10, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(100))
    assert all(len(b) == 10 for b in batches)
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) == 9 for b in batches)
    assert batches != length_batches(lengths, 10, seed=1)


def test_tagger_trains_logs_validation_f1_and_collects_test_predictions():
    import lightning.pytorch as pl
    import torch
    from _tagging import TAGS, BiLSTMTagger

    gen = torch.Generator().manual_seed(0)
    sents = [
        (
            torch.randint(2, 20, (n,), generator=gen),
            torch.randint(0, len(TAGS), (n,), generator=gen),
        )
        for n in (3, 5, 4, 6, 2, 5)
    ]
    data = {"train": sents, "val": sents[:3], "test": sents[3:], "vocab": 20}
    model = BiLSTMTagger(data, {"learning_rate": 0.01, "hidden": 8, "batch_size": 2})
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model)
    assert 0.0 <= float(trainer.callback_metrics["val_f1"]) <= 1.0
    trainer.test(model, verbose=False)
    assert sum(len(p) for p, _ in model.test_pairs) == 6 + 2 + 5


@pytest.mark.parametrize("path", stored_cases(), ids=lambda p: p.parent.name)
def test_docs_include_the_stored_table_of_every_case(path):
    docs = (ROOT / "docs" / "schedules.md").read_text()
    assert f'--8<-- "benchmarks/results/{path.parent.name}/results.md"' in docs


def test_a_source_treebank_split_uses_only_sentences_the_target_split_leaves_unused():
    from _tagging import split

    named = [("web" if i % 3 else "wiki", [(f"w{i}", "NOUN")]) for i in range(30)]
    test, val, train = split(named, val=4, test=5, train=6)
    assert len(test) == 5 and len(val) == 4 and len(train) == 6
    _, s_val, s_train = split(named, val=4, test=5, train=6, treebank="web")
    used = {s[0][0] for s in test + val + train}
    source = {s[0][0] for s in s_val + s_train}
    assert len(source) == 10 and not source & used
    assert all(int(w[1:]) % 3 for w in source)  # every one from the web treebank


def test_a_source_treebank_split_rejects_an_unknown_treebank_or_too_few_sentences():
    from _tagging import split

    named = [("web", [(f"w{i}", "NOUN")]) for i in range(30)]
    with pytest.raises(ValueError, match=r"treebank='news': a source task needs one of \['web'\]"):
        split(named, val=4, test=5, train=6, treebank="news")
    with pytest.raises(ValueError, match=r"at least val \+ train = 4 \+ 20 sentences .* found 1;"):
        split(named, val=4, test=5, train=20, treebank="web")


def test_curve_records_the_metric_after_every_epoch_but_not_the_sanity_check():
    import lightning.pytorch as pl
    from _case_results import Curve

    from lightning_autotune.testing import (
        TINY_TRAINER_KWARGS,
        TinyClassifier,
        loaders,
        random_datasets,
    )

    train, val = random_datasets(n=64, n_features=4, n_classes=2)
    curve = Curve("val_accuracy")
    trainer = pl.Trainer(**{**TINY_TRAINER_KWARGS, "max_epochs": 3}, callbacks=[curve])
    trainer.fit(TinyClassifier(n_features=4, n_classes=2), *loaders(train, val))
    assert len(curve.values) == 3 and all(0.0 <= v <= 1.0 for v in curve.values)
    assert curve.values[-1] == float(trainer.callback_metrics["val_accuracy"])
