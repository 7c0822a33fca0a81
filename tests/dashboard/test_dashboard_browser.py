"""End to end in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Two writer processes run a study while the dashboard is open. Screenshots of each page go to
$AUTOTUNE_SCREENSHOT_DIR (default: the test's temporary folder).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (extra [dashboard])")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from lightning_autotune.dashboard import Dashboard, serve  # noqa: E402
from lightning_autotune.storage import SQLStorage  # noqa: E402
from lightning_autotune.testing._browser import chromium_paths, headless_chromium  # noqa: E402
from tests.dashboard._writers import HOSTILE, train_tiny, write_trials  # noqa: E402
from tests.dashboard.conftest import fill_study  # noqa: E402

CHROMIUM, DRIVER = chromium_paths()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="needs Chromium and its driver: apt-get install -y chromium chromium-driver",
    ),
]
LIVE = "live"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("AUTOTUNE_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = headless_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dashboard, list[Any]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'autotune.db'}"
    fill_study(url, HOSTILE)
    fill_study(url, LIVE)
    board = serve(url, port=0, block=False)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=write_trials, args=(url, LIVE, w, 30, 0.05)) for w in range(2)]
    for w in writers:
        w.start()
    yield board, writers
    for w in writers:
        w.join(120)
    board.stop()


def _wait(browser: Any, condition: Any, timeout: float = 30) -> Any:
    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(condition)


def _rows(browser: Any) -> list[int]:
    """The trial numbers shown in the table, read at once (the table re-renders as it polls)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('#trials-table tbody tr')]"
        ".map((r) => Number(r.dataset.number))"
    )


def _base(board: Dashboard) -> str:
    return f"http://127.0.0.1:{board.port}"


def test_trials_appear_and_a_pruned_trial_is_marked(browser: Any, live: Any, shots: Path) -> None:
    board, _ = live
    browser.get(f"{_base(board)}/study/{LIVE}")
    _wait(browser, lambda b: b.execute_script("return document.body.dataset.rendered"))
    counts = browser.find_element(By.ID, "counts")
    before = browser.execute_script("return document.querySelectorAll('#trials-table tbody tr')")
    stamp = browser.execute_script("return document.body.dataset.rendered")
    # More trials arrive without a reload: the page re-renders itself from the poll.
    _wait(browser, lambda b: b.execute_script("return document.body.dataset.rendered") != stamp)
    assert browser.execute_script("return performance.getEntriesByType('navigation').length") == 1
    _wait(browser, lambda b: "PRUNED" in counts.text)
    pruned = _wait(
        browser,
        lambda b: b.execute_script(
            "const t = document.getElementById('curves').data || [];"
            "const m = t.find((x) => x.name === 'pruned here'); return m && m.x.length"
        ),
    )
    assert pruned >= 1 and len(before) >= 1
    _wait(browser, lambda b: b.execute_script("return document.getElementById('importance').data"))
    browser.save_screenshot(str(shots / "dashboard-study.png"))


def test_sorting_the_table_by_number(browser: Any, live: Any) -> None:
    board, _ = live
    browser.get(f"{_base(board)}/study/{LIVE}")
    _wait(browser, lambda b: len(_rows(b)) >= 5)
    assert _rows(browser) == sorted(_rows(browser))
    # Sorted ascending by number at first: a click on the header turns it descending.
    browser.execute_script("document.querySelector(\"th[data-key='number']\").click()")
    descending = _wait(
        browser,
        lambda b: (
            b.execute_script("return document.querySelector(\"th[data-key='number']\").className")
            == "desc"
        ),
    )
    numbers = _rows(browser)
    assert descending and numbers == sorted(numbers, reverse=True) and numbers[0] >= 5


def test_opening_a_pruned_trial_shows_its_reason_and_metrics(
    browser: Any, live: Any, shots: Path
) -> None:
    board, _ = live
    browser.get(f"{_base(board)}/study/{LIVE}")
    href = _wait(
        browser,
        lambda b: b.execute_script(
            "const a = document.querySelector(\"tr[data-state='PRUNED'] a\"); return a && a.href"
        ),
    )
    browser.get(href)
    _wait(browser, lambda b: b.execute_script("return document.body.dataset.rendered"))
    outcome = browser.find_element(By.ID, "outcome-table").text
    assert "PRUNED" in outcome and "worse than the median" in outcome
    assert browser.execute_script("return document.getElementById('metrics').data[0].name") == "acc"
    schedules = "return document.getElementById('schedules-chart').data.map((t) => t.name)"
    assert browser.execute_script(schedules) == ["dropout_p"]
    places = browser.find_element(By.ID, "locations-table").text
    assert places == f"log_dir runs/{HOSTILE}/trial_0001"
    assert not browser.find_element(By.ID, "transfer").is_displayed()
    browser.save_screenshot(str(shots / "dashboard-trial.png"))


def test_a_hostile_name_renders_as_text(browser: Any, live: Any, shots: Path) -> None:
    board, _ = live
    browser.get(_base(board) + "/")
    link = _wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, f"tr[data-name='{LIVE}']"))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#studies-table td a")]
    assert HOSTILE in names and link is not None
    browser.save_screenshot(str(shots / "dashboard-studies.png"))
    browser.get(f"{_base(board)}/study/{quote(HOSTILE, safe='')}")
    _wait(browser, lambda b: len(_rows(b)) >= 5)
    assert browser.find_element(By.TAG_NAME, "h1").text == HOSTILE
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#trials-table th")]
    assert HOSTILE in headers
    space = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#space-table th")]
    assert space == ["lr", HOSTILE]
    assert browser.find_element(By.ID, "space-rules").text == "none"
    options = browser.execute_script(
        "return [...document.querySelectorAll('#slice-param option')].map((o) => o.textContent)"
    )
    assert HOSTILE in options
    browser.execute_script(
        "const s = document.getElementById('slice-param'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('change'))",
        HOSTILE,
    )
    drawn = _wait(
        browser,
        lambda b: b.execute_script(
            "const t = document.querySelector('#slice .gtitle'); return t && t.textContent"
        ),
    )
    assert drawn == f"Slice: objective against {HOSTILE}"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert not browser.find_elements(By.XPATH, "//main//script")


def test_a_request_without_the_token_is_refused(browser: Any, live: Any, tmp_path: Path) -> None:
    board, _ = live
    url = board._server.reader.store.url  # type: ignore[attr-defined]
    guarded = serve(url, port=0, token="s3cret", block=False)
    try:
        browser.delete_all_cookies()
        browser.get(_base(guarded) + "/")
        assert "valid token is required" in browser.find_element(By.TAG_NAME, "body").text
        browser.get(guarded.url)
        _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#studies-table tbody tr"))
    finally:
        guarded.stop()


def test_a_large_study_is_decimated(browser: Any, tmp_path: Path) -> None:
    from benchmarks.dashboard import build_store

    url = build_store(tmp_path / "big.db", n_trials=2_500, n_steps=5)
    board = serve(url, port=0, block=False)
    try:
        browser.get(f"{_base(board)}/study/big")
        _wait(browser, lambda b: b.execute_script("return document.body.dataset.allRenderMs"), 120)
        title = browser.execute_script(
            "return document.getElementById('history').layout.title.text"
        )
        assert title.startswith("Optimization history (1500 of ")
        lines = browser.execute_script(
            "return document.getElementById('parallel').data[0].dimensions[0].values.length"
        )
        assert lines == 1000
        assert len(_rows(browser)) == 50
        assert "page 1 of 50 (2500 trials)" in browser.find_element(By.ID, "page-info").text
    finally:
        board.stop()


def test_a_tiny_lightning_study_shows_up_live(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fit.db'}"
    SQLStorage(url).close()
    board = serve(url, port=0, block=False)
    trainer = multiprocessing.get_context("spawn").Process(target=train_tiny, args=(url, "tiny", 3))
    trainer.start()
    try:
        browser.get(_base(board) + "/")
        _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "tr[data-name='tiny']"), 120)
        browser.get(f"{_base(board)}/study/tiny")
        complete = "return document.querySelectorAll(\"tr[data-state='COMPLETE']\").length"
        _wait(browser, lambda b: b.execute_script(complete) == 3, 180)
        browser.get(f"{_base(board)}/study/tiny/trial/0")
        _wait(browser, lambda b: b.execute_script("return document.body.dataset.rendered"))
        names = browser.execute_script(
            "return document.getElementById('metrics').data.map((t) => t.name)"
        )
        assert "val_accuracy" in names
    finally:
        trainer.join(180)
        board.stop()
    assert trainer.exitcode == 0


def test_the_interactive_report_draws_offline(browser: Any, tmp_path: Path, shots: Path) -> None:
    from lightning_autotune.analysis import write_report
    from lightning_autotune.study import load_study

    url = f"sqlite:///{tmp_path / 'report.db'}"
    SQLStorage(url).close()
    fill_study(url, HOSTILE)
    path = write_report(load_study(HOSTILE, storage=url), tmp_path / "report.html")
    browser.get(path.as_uri())
    drawn = (
        "return ['history', 'curves', 'parallel', 'slice-1'].every((id) => "
        "document.getElementById(id).data)"
    )
    _wait(browser, lambda b: b.execute_script(drawn))
    stops = browser.execute_script(
        "return document.getElementById('curves').data.find((t) => t.name === 'pruned here').x"
    )
    assert stops == [1]
    title = browser.execute_script("return document.querySelector('#slice-1 .gtitle').textContent")
    assert title == f"Slice: objective against {HOSTILE}"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    browser.save_screenshot(str(shots / "report.png"))
