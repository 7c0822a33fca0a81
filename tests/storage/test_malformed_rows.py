"""Rows written by something else (raw SQL) that do not decode: quarantined, never fatal.

Each test damages one column of a real store with raw SQL, then goes through every public read:
the store's reads, `Study` (trials, ask/tell, best, export) and the `studies` CLI.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lightning_autotune import create_study, load_study
from lightning_autotune.cli import main
from lightning_autotune.exceptions import StorageError
from lightning_autotune.samplers import RandomSampler
from lightning_autotune.storage import SQLStorage, _problems
from lightning_autotune.trial import TrialState

SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}

# column, raw SQL value, what the warning says about it
DAMAGE = [
    ("params", "'{not json'", r"column trials\.params is not valid JSON"),
    ("params", "'[1, 2]'", r"column trials\.params must hold a JSON dict, got \[1, 2\]"),
    ("state", "'EXPLODED'", r"column trials\.state must be one of WAITING, .*got 'EXPLODED'"),
    ("values", "'[\"a\"]'", r"column trials\.values must be a list of numbers"),
    ("kind", "'gremlins'", r"column trials\.kind must be one of .*got 'gremlins'"),
    ("started_at", "'yesterday'", r"column trials\.started_at is not a timestamp: 'yesterday'"),
    ("user_attrs", "'7'", r"column trials\.user_attrs must hold a JSON dict, got 7"),
]


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    """Each test sees the once-per-process warnings afresh (PostgreSQL reuses trial ids)."""
    _problems._warned.clear()
    yield
    _problems._warned.clear()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_db"))


def _sql(url: str, statement: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def _study_with_trials(url: str, name: str = "s") -> None:
    """Four finished trials (numbers 0-3, values 0.4, 0.1, 0.3, 0.2) with a report each."""
    study = create_study(name, SPACE, url, sampler=RandomSampler(), seed=0)
    for value in (0.4, 0.1, 0.3, 0.2):
        trial = study.ask()
        trial.report(0, value)
        study.tell(trial, value)
    study.close()


def _damage(url: str, column: str, value: str, number: int = 1) -> None:
    target = f'"{column}"' if column == "values" else column
    _sql(
        url,
        f"UPDATE trials SET {target} = {value} WHERE number = {number} "
        "AND study_id = (SELECT id FROM studies WHERE name = 's')",
    )


@pytest.mark.parametrize(("column", "value", "says"), DAMAGE)
def test_a_malformed_trial_is_skipped_with_one_warning_naming_it(
    url: str, column: str, value: str, says: str
) -> None:
    if column == "started_at" and url.startswith("postgresql"):
        pytest.skip("PostgreSQL's timestamp column holds only timestamps ('yesterday' is one)")
    _study_with_trials(url)
    _damage(url, column, value)
    store = SQLStorage(url)
    sid = store.get_study("s").study_id
    with pytest.warns(UserWarning, match=rf"study 's' trial 1: {says}.*quarantined"):
        assert [t.number for t in store.get_trials(sid)] == [0, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per row per process: no second warning
        assert [t.number for t in store.get_trials(sid)] == [0, 2, 3]
        read = store.read_trials(sid)
    assert [t.number for t in read.trials] == [0, 2, 3] and read.next_number == 4
    assert [(m.number, m.column) for m in read.malformed] == [(1, f"trials.{column}")]
    trial_id = read.malformed[0].trial_id
    assert trial_id is not None
    with pytest.raises(StorageError, match=rf"study 's' trial 1: {says}.*cannot be read"):
        store.get_trial(trial_id)
    store.close()


def test_the_study_stays_usable_around_a_quarantined_row(url: str, tmp_path: Path) -> None:
    _study_with_trials(url)
    _damage(url, "params", "'{not json'")  # trial 1, the best one
    _damage(url, "state", "'EXPLODED'", number=3)  # the last one
    with pytest.warns(UserWarning, match="quarantined"):
        study = load_study("s", url, sampler=RandomSampler())
        assert [t.number for t in study.trials] == [0, 2]
        assert study.best_value == 0.3 and study.best_trial.number == 2
        trial = study.ask()
    assert trial.number == 4  # above the quarantined trial 3: numbers never collide
    trial.report(0, 0.05)
    assert study.tell(trial, 0.05).state is TrialState.COMPLETE
    assert study.tell(4, 0.05).value == 0.05  # by number, a harmless repeat
    assert study.best_trial.number == 4
    rows = list(csv.DictReader(study.export(tmp_path / "t.csv").open()))
    assert [r["number"] for r in rows] == ["0", "2", "4"]
    data = json.loads(study.export(tmp_path / "t.json").read_text())
    assert [r["number"] for r in data] == [0, 2, 4]
    study.close()


def test_a_malformed_intermediate_value_quarantines_its_trial(url: str) -> None:
    if url.startswith("postgresql"):
        pytest.skip("PostgreSQL's REAL column refuses text: the damage cannot be written")
    _study_with_trials(url)
    _sql(
        url,
        "UPDATE trial_intermediate SET value = 'lots' WHERE trial_id = "
        "(SELECT id FROM trials WHERE number = 2)",
    )
    store = SQLStorage(url)
    says = r"study 's' trial 2: column trial_intermediate\.value \(step 0\) must be a number"
    with pytest.warns(UserWarning, match=says):
        assert [t.number for t in store.get_trials(store.get_study("s").study_id)] == [0, 1, 3]
    store.close()


def test_a_number_written_as_text_does_not_break_numbering(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _study_with_trials(url)
    _damage(url, "number", "'three'", number=3)
    with pytest.warns(UserWarning, match=r"study 's' trial id \d+: column trials\.number must"):
        study = load_study("s", url, sampler=RandomSampler())
        assert [t.number for t in study.trials] == [0, 1, 2]
    assert study.ask().number == 3  # the text sorts above every integer in SQLite
    study.close()


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("space", "'{{'", r"column studies\.space is not valid JSON"),
        ("directions", "'[\"up\"]'", r"column studies\.directions must be one of minimize"),
        ("user_attrs", "'null'", r"column studies\.user_attrs must hold a JSON dict, got None"),
    ],
)
def test_a_malformed_study_row_is_one_storage_error(
    url: str, column: str, value: str, says: str
) -> None:
    _study_with_trials(url, "bad")
    _study_with_trials(url, "good")
    _sql(url, f"UPDATE studies SET {column} = {value} WHERE name = 'bad'")
    with pytest.raises(StorageError, match=rf"^study 'bad' cannot be read: {says}"):
        load_study("bad", url)
    store = SQLStorage(url)
    with pytest.warns(UserWarning, match=rf"study 'bad': {says}.*study is skipped"):
        assert [s.name for s in store.list_studies()] == ["good"]
    assert len(load_study("good", store).trials) == 4
    store.close()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_show_export_and_check(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _study_with_trials(url)
    _study_with_trials(url, "clean")
    _damage(url, "params", "'{not json'")
    _problems._warned.clear()
    with pytest.warns(UserWarning, match="study 's' trial 1"):
        code, out, _ = _cli(capsys, "studies", "show", "s", "--storage", url)
    assert code == 0 and out.splitlines()[0] == "study 's': 3 of 3 trial(s)"
    target = tmp_path / "s.csv"
    code, _, _ = _cli(capsys, "studies", "export", "s", "--storage", url, "--out", str(target))
    assert code == 0 and len(list(csv.DictReader(target.open()))) == 3
    code, out, _ = _cli(capsys, "studies", "best", "s", "--storage", url)
    assert code == 0 and out.startswith("best trial 3: value 0.2")

    code, out, _ = _cli(capsys, "studies", "check", "--storage", url)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("study 's' trial 1: column trials.params is not valid JSON")
    assert lines[-1] == "1 problem(s) in 2 studies"
    code, out, _ = _cli(capsys, "studies", "check", "clean", "--storage", url)
    assert (code, out) == (0, "no problems in 1 study\n")
    code, _, err = _cli(capsys, "studies", "check", "absent", "--storage", url)
    assert code == 1 and "no study named 'absent'" in err


def test_cli_check_lists_stale_trials_waiting_retries_and_bad_studies(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _study_with_trials(url)
    store = SQLStorage(url)
    sid = store.get_study("s").study_id
    stuck = store.create_trial(sid, {"x": 0.5}, worker="elsewhere:1")
    long_ago = "'2000-01-01 00:00:00" + ("+00'" if url.startswith("postgresql") else "'")
    _sql(url, f"UPDATE trials SET heartbeat_at = {long_ago} WHERE id = {stuck.trial_id}")
    store.create_trial(sid, {"x": 0.25}, state=TrialState.WAITING, retry_of=2)
    store.create_study("broken", SPACE, ["minimize"])
    _sql(url, "UPDATE studies SET space = 'oops' WHERE name = 'broken'")
    code, out, _ = _cli(capsys, "studies", "check", "--storage", url, "--stale-after", "600")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("study 'broken': column studies.space is not valid JSON")
    assert lines[1].startswith("study 's' trial 4: RUNNING with no heartbeat for ")
    assert "(worker elsewhere:1)" in lines[1]
    assert lines[2] == (
        "study 's' trial 5: a retry of trial 2 is still WAITING; run the study again to run it"
    )
    assert lines[3] == "3 problem(s) in 2 studies"
    code, _, err = _cli(capsys, "studies", "check", "--storage", url, "--stale-after", "-1")
    assert code == 2 and "--stale-after must be" in err
    store.close()
