"""The dashboard's JSON API, token check and read-only surface, over HTTP on a real SQLite store."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from lightning_autotune.analysis._payload import MAX_CURVES, MAX_POINTS, curves_payload, decimate
from lightning_autotune.cli import main
from lightning_autotune.dashboard import TOKEN_ENV, serve
from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.storage import InMemoryStorage
from lightning_autotune.study import create_study
from lightning_autotune.trial import Direction, TrialRecord, TrialState
from tests.dashboard._writers import HOSTILE, SPACE, write_trials
from tests.dashboard.conftest import api_path, fill_study, http


def test_studies_list_gives_directions_counts_best_and_last_activity(base: str) -> None:
    (row,) = http(base + "/api/studies").json()
    assert row["name"] == HOSTILE
    assert row["directions"] == ["minimize"]
    assert row["counts"] == {"WAITING": 0, "RUNNING": 1, "COMPLETE": 2, "PRUNED": 1, "FAILED": 1}
    assert row["best"] == {"number": 0, "values": [1.0]}
    assert row["last_activity"] >= row["created_at"]


def test_study_endpoint_sends_only_what_changed_since_the_cursor(base: str, store_url: str) -> None:
    first = http(base + api_path(HOSTILE)).json()
    assert first["full"] is True
    assert [t["number"] for t in first["trials"]] == [0, 1, 2, 3, 4]
    pruned = first["trials"][1]
    assert (pruned["state"], pruned["last_step"]) == ("PRUNED", 1)
    assert pruned["reason"] == "pruned at step 1: worse than the median of earlier trials"
    assert "intermediate" not in pruned

    quiet = http(base + api_path(HOSTILE) + f"?since={first['cursor']}").json()
    assert (quiet["full"], quiet["trials"], quiet["cursor"]) == (False, [], first["cursor"])

    study = create_study(HOSTILE, space=SPACE, storage=store_url)
    study.tell(4, 0.5)  # the running trial finishes
    study.ask({"lr": 0.02, HOSTILE: 3})
    delta = http(base + api_path(HOSTILE) + f"?since={first['cursor']}").json()
    assert delta["full"] is False
    assert [(t["number"], t["state"]) for t in delta["trials"]] == [(4, "COMPLETE"), (5, "RUNNING")]

    stale = http(base + api_path(HOSTILE) + "?since=feedbeef.3&intermediate=1").json()
    assert stale["full"] is True and len(stale["trials"]) == 6
    assert stale["trials"][0]["intermediate"] == {"steps": [0, 1, 2], "values": [2.0, 1.9, 1.8]}


def test_trial_endpoint_gives_metrics_over_steps_attrs_and_timing(base: str) -> None:
    trial = http(base + api_path(HOSTILE, "trials", "0")).json()
    assert trial["params"] == {"lr": 0.001, HOSTILE: 1}
    assert trial["metrics"]["acc"]["steps"] == [0, 1, 2]
    assert trial["objective"]["values"] == [2.0, 1.9, 1.8]
    assert trial["user_attrs"] == {"schedule": {"lr": [0.1, 0.01]}}
    assert trial["duration"] >= 0 and trial["finished_at"] >= trial["started_at"]


def test_unknown_study_trial_or_endpoint_is_a_404_with_a_message(base: str) -> None:
    missing = http(base + api_path("nope"))
    assert missing.status == 404 and "no study named 'nope'" in missing.json()["error"]
    trial = http(base + api_path(HOSTILE, "trials", "99"))
    assert trial.status == 404 and "has no trial 99" in trial.json()["error"]
    bad = http(base + api_path(HOSTILE, "trials", "x"))
    assert "trial number must be an integer >= 0, got 'x'" in bad.json()["error"]
    assert http(base + "/api/nothing").status == 404


def test_hostile_names_are_escaped_in_json_and_absent_from_html(base: str) -> None:
    reply = http(base + api_path(HOSTILE))
    assert b"<script>" not in reply.body and b"\\u003cscript\\u003e" in reply.body
    assert reply.json()["trials"][0]["params"][HOSTILE] == 1
    page = http(base + "/study/" + quote(HOSTILE, safe=""))
    assert page.status == 200 and b"alert(1)" not in page.body
    assert "script-src 'self' 'unsafe-eval';" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_dashboard_is_read_only(base: str) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        reply = http(base + api_path(HOSTILE), method=method)
        assert reply.status == 405 and "read-only" in reply.json()["error"]
    assert len(http(base + api_path(HOSTILE)).json()["trials"]) == 5


def test_pages_and_plotly_are_served_locally(base: str) -> None:
    for path in ("/", "/study/x", "/study/x/trial/3", "/static/study.js", "/static/app.css"):
        assert http(base + path).status == 200, path
    js = http(base + "/static/plotly.min.js")
    assert js.status == 200 and b"plotly" in js.body[:2000].lower()
    assert http(base + "/static/../../etc/passwd").status == 404


def test_curves_are_decimated_and_pruned_stops_listed() -> None:
    assert decimate({s: float(s) for s in range(5)}) == {s: float(s) for s in range(5)}
    long = decimate({s: float(s) for s in range(1000)})
    assert len(long) == MAX_POINTS and min(long) == 0 and max(long) == 999
    curve = {s: 1.0 for s in range(3)}
    records = [
        TrialRecord(i, i, TrialState.PRUNED if i % 2 else TrialState.COMPLETE, {}, None, curve)
        for i in range(3 * MAX_CURVES)
    ]
    payload = curves_payload(
        type("Info", (), {"directions": (Direction.MINIMIZE,)})(),  # type: ignore[arg-type]
        records,
    )
    assert len(payload["curves"]) == MAX_CURVES and payload["n_with_curve"] == 3 * MAX_CURVES
    assert len(payload["pruned_stops"]) == 3 * MAX_CURVES // 2
    assert payload["pruned_stops"][0] == {"number": 1, "step": 2, "value": 1.0}


def test_token_is_required_off_loopback_and_checked_on_every_request(store_url: str) -> None:
    with pytest.raises(ConfigError, match=r"host='0.0.0.0' .* needs a token: pass --token"):
        serve(store_url, host="0.0.0.0", port=0, block=False)
    for bad in ("", " ", "a;b"):
        with pytest.raises(ConfigError, match=r"token must be a non-empty secret of letters"):
            serve(store_url, port=0, token=bad, block=False)
    board = serve(store_url, port=0, token="s3cret", block=False)
    base = f"http://127.0.0.1:{board.port}"
    try:
        assert board.url.endswith("/?token=s3cret")
        for path in ("/api/studies", "/", "/static/plotly.min.js"):
            refused = http(base + path)
            assert refused.status == 401 and "valid token is required" in refused.json()["error"]
        assert http(base + "/api/studies", headers={"X-Autotune-Token": "wrong"}).status == 401
        assert http(base + "/api/studies", headers={"X-Autotune-Token": "s3cret"}).status == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert http(base + "/api/studies", headers=bearer).status == 200
        visit = http(base + "/?token=s3cret")
        assert visit.status == 200 and "HttpOnly" in visit.headers["Set-Cookie"]
        cookie = {"Cookie": visit.headers["Set-Cookie"].split(";")[0]}
        assert http(base + "/api/studies", headers=cookie).status == 200
    finally:
        board.stop()


def test_token_from_the_environment(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    board = serve(store_url, host="0.0.0.0", port=0, block=False)
    try:
        assert http(f"http://127.0.0.1:{board.port}/api/studies").status == 401
        assert http(f"http://127.0.0.1:{board.port}/api/studies?token=from-env").status == 200
    finally:
        board.stop()


def test_a_missing_sqlite_file_is_refused_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(StorageError, match=r"no store at .*typo.db.*--storage sqlite:///"):
        serve(f"sqlite:///{path}", port=0, block=False)
    assert not path.exists()


def test_cli_registers_dashboard_and_refuses_a_public_host_without_token(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboard", "--storage", store_url, "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "needs a token" in err
    with pytest.raises(SystemExit):
        main(["dashboard"])  # --storage is required


def test_an_in_memory_store_is_read_whole_and_diffed() -> None:
    store = InMemoryStorage()
    info = store.create_study("mem", SPACE, [Direction.MAXIMIZE])
    trial = store.create_trial(info.study_id, {"lr": 0.01, HOSTILE: 1})
    board = serve(store, port=0, block=False, min_interval=0.0)
    base = f"http://127.0.0.1:{board.port}"
    try:
        first = http(base + api_path("mem")).json()
        assert [t["state"] for t in first["trials"]] == ["RUNNING"]
        store.finish_trial(trial.trial_id, TrialState.COMPLETE, [0.9])
        delta = http(base + api_path("mem") + f"?since={first['cursor']}").json()
        assert [(t["state"], t["values"]) for t in delta["trials"]] == [("COMPLETE", [0.9])]
        assert http(base + "/api/studies").json()[0]["best"] == {"number": 0, "values": [0.9]}
    finally:
        board.stop()


@pytest.mark.slow
def test_two_writer_processes_are_never_blocked_by_polling(store_url: str) -> None:
    fill_study(store_url, "busy")
    board = serve(store_url, port=0, block=False, min_interval=0.0)
    base = f"http://127.0.0.1:{board.port}"
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(target=write_trials, args=(store_url, "busy", w, 12, 0.005)) for w in range(2)
    ]
    try:
        for w in writers:
            w.start()
        cursor, seen, polls = "", 0, 0
        while any(w.is_alive() for w in writers) or polls == 0:
            reply = http(base + api_path("busy") + f"?since={cursor}").json()
            cursor, seen, polls = reply["cursor"], seen + len(reply["trials"]), polls + 1
            http(base + "/api/studies")
            time.sleep(0.01)
        for w in writers:
            w.join(60)
        assert [w.exitcode for w in writers] == [0, 0]  # no write gave up on a lock
        final = http(base + api_path("busy")).json()["trials"]
        assert len(final) == 5 + 24 and polls > 1
        assert sum(t["state"] == "PRUNED" for t in final) == 1 + 2 * 4
    finally:
        board.stop()


@pytest.mark.postgres
def test_incremental_reads_on_postgresql() -> None:
    base_url = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip('AUTOTUNE_TEST_POSTGRES_URL is not set; eval "$(.ci/postgres.sh)" sets it')
    pytest.importorskip("psycopg")
    from lightning_autotune.testing.storage_contract import fresh_postgres_database

    with fresh_postgres_database(base_url) as url:
        fill_study(url, "pg")
        board = serve(url, port=0, block=False, min_interval=0.0)
        base = f"http://127.0.0.1:{board.port}"
        try:
            first = http(base + api_path("pg")).json()
            assert [t["state"] for t in first["trials"]] == [
                "COMPLETE",
                "PRUNED",
                "COMPLETE",
                "FAILED",
                "RUNNING",
            ]
            create_study("pg", space=SPACE, storage=url).tell(4, 0.5)
            delta = http(base + api_path("pg") + f"?since={first['cursor']}").json()
            assert [(t["number"], t["state"]) for t in delta["trials"]] == [(4, "COMPLETE")]
        finally:
            board.stop()


def test_study_endpoint_shows_the_space_with_its_constraints_and_rules(store_url: str) -> None:
    space = {
        "learning_rate": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"},
        "batch_size": {"type": "integer", "min": 16, "max": 256},
        HOSTILE: {"type": "categorical", "values": [HOSTILE, "b"]},
        "_constraints": ["learning_rate < 0.05"],
        "_rules": [{"condition": "batch_size > 64", "action": "increase_learning_rate_by_0.5x"}],
    }
    create_study("spaced", space=space, storage=store_url)
    board = serve(store_url, port=0, block=False)
    try:
        reply = http(f"http://127.0.0.1:{board.port}" + api_path("spaced"))
    finally:
        board.stop()
    view = reply.json()["study"]["space_view"]
    assert [p["name"] for p in view["params"]] == ["learning_rate", "batch_size", HOSTILE]
    assert view["params"][2]["spec"]["values"] == [HOSTILE, "b"]
    assert view["constraints"] == ["learning_rate < 0.05"]
    assert view["rules"] == ["if batch_size > 64 then increase_learning_rate_by_0.5x"]
    assert b"<script>" not in reply.body


def test_trial_endpoint_gives_schedules_locations_and_transfer(store_url: str) -> None:
    study = create_study("sched", space=SPACE, storage=store_url)
    trial = study.ask({"lr": 0.01, HOSTILE: 2})
    for step in range(3):
        trial.report(step, 1.0 / (step + 1), {"dropout_p": 0.5 - 0.1 * step, "acc": 0.3})
    trial.set_user_attr("log_dir", f"/runs/{HOSTILE}/trial_0000")
    trial.set_user_attr("resumed_from", "/ckpt/trial_0/last.ckpt")
    trial.set_user_attr("transfer", {"frozen": ["backbone.0.weight"], "unfreeze_epochs": {}})
    study.tell(trial, 0.3)
    bare = study.ask({"lr": 0.02, HOSTILE: 3})
    study.tell(bare, 0.4)
    board = serve(store_url, port=0, block=False)
    try:
        base = f"http://127.0.0.1:{board.port}"
        full = http(base + api_path("sched", "trials", "0")).json()
        plain = http(base + api_path("sched", "trials", "1")).json()
    finally:
        board.stop()
    assert full["schedules"] == {
        "dropout_p": {"steps": [0, 1, 2], "values": pytest.approx([0.5, 0.4, 0.3])}
    }
    assert set(full["metrics"]) == {"acc", "dropout_p"}
    assert full["locations"] == {
        "log_dir": f"/runs/{HOSTILE}/trial_0000",
        "resumed_from": "/ckpt/trial_0/last.ckpt",
    }
    assert full["transfer"] == {"frozen": ["backbone.0.weight"], "unfreeze_epochs": {}}
    assert (plain["schedules"], plain["locations"], plain["transfer"]) == ({}, {}, None)


def test_a_fit_with_log_dir_records_it_and_the_applied_clipping(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    import lightning_autotune as la
    from lightning_autotune.analysis._payload import trial_detail
    from lightning_autotune.callbacks import AdaptiveGradientClipping
    from lightning_autotune.samplers import RandomSampler
    from lightning_autotune.testing import TINY_TRAINER_KWARGS, TinyClassifier, random_datasets

    train, val = random_datasets(n=64, n_features=8)

    def build(params: dict) -> tuple:
        model = TinyClassifier(n_features=8, n_classes=3, hidden=8, lr=params["lr"])
        return model, DataLoader(train, batch_size=32), DataLoader(val, 64)

    study = la.fit(
        build,
        {"lr": {"type": "continuous", "min": 1e-3, "max": 1e-1, "scale": "log"}},
        max_trials=1,
        trainer_kwargs={**TINY_TRAINER_KWARGS, "max_epochs": 3},
        storage=None,
        study_name="logged",
        sampler=RandomSampler(),
        callbacks=lambda params: [AdaptiveGradientClipping(clip_factor=0.05)],
        log_dir=str(tmp_path),
    )
    detail = trial_detail(study.trials[0])
    folder = Path(detail["locations"]["log_dir"])
    assert folder == tmp_path / "lightning_logs" / "logged_trial_0000" and folder.is_dir()
    assert set(detail["schedules"]) == {"agc_clipped_fraction"}
    assert detail["schedules"]["agc_clipped_fraction"]["steps"] == [4, 6]


def test_every_metric_a_schedule_callback_logs_is_shown_as_a_schedule() -> None:
    import re

    import lightning_autotune.callbacks as callbacks
    from lightning_autotune.analysis._payload import SCHEDULE_METRICS

    logged = set()
    for source in Path(callbacks.__file__).parent.glob("_*.py"):
        text = source.read_text()
        logged |= set(re.findall(r'log_value\(pl_module, "(\w+)"', text))
        logged |= set(re.findall(r'_epoch_stats\.setdefault\("(\w+)"', text))
    assert logged == set(SCHEDULE_METRICS)


def test_summary_endpoint_gives_the_first_paint(base: str, store_url: str) -> None:
    first = http(base + api_path(HOSTILE, "summary")).json()
    assert first["study"]["name"] == HOSTILE and first["n_trials"] == 5
    assert first["counts"] == {"RUNNING": 1, "COMPLETE": 2, "PRUNED": 1, "FAILED": 1}
    assert first["history"] == {
        "n_complete": 2,
        "markers": {"x": [0, 2], "y": [1.0, 3.0]},
        "best": {"x": [0, 2], "y": [1.0, 1.0]},
    }
    assert [t["number"] for t in first["table"]] == [0, 1, 2, 3, 4]
    assert first["curves"]["pruned_stops"] == [{"number": 1, "step": 1, "value": 2.9}]
    assert http(base + api_path(HOSTILE, "summary")).json() == first  # unchanged: cached
    study = create_study(HOSTILE, space=SPACE, storage=store_url)
    study.tell(4, 0.5)
    later = http(base + api_path(HOSTILE, "summary")).json()
    assert later["cursor"] != first["cursor"] and later["history"]["best"]["x"] == [0, 4]


def test_summary_decimates_the_history_and_keeps_the_best_line_exact() -> None:
    from lightning_autotune.dashboard._summary import MAX_MARKERS, TABLE_ROWS, first_paint

    n = 3 * MAX_MARKERS
    values = [float((7 * i) % 1000) + 1000.0 / (i + 1) for i in range(n)]
    records = [TrialRecord(i, i, TrialState.COMPLETE, {}, (v,)) for i, v in enumerate(values)]
    info = type("Info", (), {"directions": (Direction.MINIMIZE,)})()
    paint = first_paint(info, records)  # type: ignore[arg-type]
    history = paint["history"]
    assert history["n_complete"] == n and len(history["markers"]["x"]) == MAX_MARKERS
    assert min(values) in history["markers"]["y"]
    # The step line through the change points is the running minimum at every trial.
    xs, ys = history["best"]["x"], history["best"]["y"]
    assert xs[-1] == n - 1 and len(xs) < n
    for i in range(n):
        drawn = ys[max(k for k, x in enumerate(xs) if x <= i)]
        assert drawn == min(values[: i + 1])
    assert [t["number"] for t in paint["table"]] == list(range(TABLE_ROWS))
