"""How fast the dashboard answers on a big study: 10,000 trials with 100 reports each.

Builds a SQLite store (trial rows written in batches straight into the store's tables, 1,000
trials per transaction: through `report()` one million single-row transactions would take the
better part of an hour), serves it, then measures

- the API: the study endpoint's first answer (which fills the server's cache from the store),
  and its later answers, full and incremental (`since` cursor), plus the curves and studies list;
- the summary endpoint (the page's first paint), built once per study revision, then cached;
- the browser: headless Chromium (Debian's chromium + chromium-driver) opening the study page,
  from the start of navigation to the first paint (table page, history and curves drawn from
  the summary) and to the render of every chart (the page's own `performance.now()`).

Run: `python -m benchmarks.dashboard [--trials 10000] [--steps 100] [--repeats 5] [--out DIR]`.
Writes `results.md` and `results.json` to `--out` (default benchmarks/results/dashboard).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lightning_autotune.dashboard import serve
from lightning_autotune.storage import SQLStorage
from lightning_autotune.storage._schema import dump_json, trial_intermediate, trials
from lightning_autotune.testing._browser import headless_chromium
from lightning_autotune.trial import Direction, TrialState

SPACE = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1e-1, "scale": "log"},
    "layers": {"type": "integer", "min": 1, "max": 8},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.5},
    "optimizer": {"type": "categorical", "values": ["adam", "sgd", "rmsprop"]},
}
BATCH = 1_000


def build_store(path: Path, n_trials: int, n_steps: int, seed: int = 0) -> str:
    """A SQLite store with one study 'big' of `n_trials` finished trials; returns its URL."""
    url = f"sqlite:///{path}"
    store = SQLStorage(url)
    info = store.create_study("big", SPACE, [Direction.MINIMIZE])
    rng = random.Random(seed)
    start = datetime.now(timezone.utc)
    for first in range(0, n_trials, BATCH):
        rows, points = [], []
        for number in range(first, min(first + BATCH, n_trials)):
            params = {
                "lr": 10 ** rng.uniform(-5, -1),
                "layers": rng.randint(1, 8),
                "dropout": rng.uniform(0, 0.5),
                "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
            }
            floor = 0.1 + abs(math.log10(params["lr"]) + 3) * 0.1 + rng.random() * 0.05
            curve = [floor + 2.0 / (1 + 0.1 * s) for s in range(n_steps)]
            pruned = rng.random() < 0.25
            rows.append(
                {
                    "study_id": info.study_id,
                    "number": number,
                    "state": (TrialState.PRUNED if pruned else TrialState.COMPLETE).value,
                    "params": dump_json(params, "params"),
                    "values": None if pruned else dump_json([curve[-1]], "values"),
                    "reason": "pruned at step 99: worse than the median" if pruned else None,
                    "started_at": start,
                    "finished_at": start,
                    "heartbeat_at": start,
                    "user_attrs": "{}",
                }
            )
            points.append(curve)

        def body(conn: Any, rows: list = rows, points: list = points) -> None:
            conn.execute(trials.insert(), rows)
            ids = dict(
                conn.execute(
                    trials.select()
                    .with_only_columns(trials.c.number, trials.c.id)
                    .where(trials.c.study_id == info.study_id, trials.c.number >= rows[0]["number"])
                ).all()
            )
            conn.execute(
                trial_intermediate.insert(),
                [
                    {"trial_id": ids[row["number"]], "step": s, "value": v}
                    for row, curve in zip(rows, points, strict=True)
                    for s, v in enumerate(curve)
                ],
            )

        store._db.write("bulk-insert benchmark trials", body)
    store.close()
    return url


def _get(url: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as reply:
        body = reply.read()
    return time.perf_counter() - began, body


def _page_load_ms(driver: Any, url: str) -> tuple[float, float]:
    """(history, curves and table drawn; every chart drawn), in ms from the start of navigation."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get(url)
    WebDriverWait(driver, 120, poll_frequency=0.05).until(
        lambda d: d.execute_script("return document.body.dataset.allRenderMs")
    )
    marks = driver.execute_script(
        "return [document.body.dataset.firstRenderMs, document.body.dataset.allRenderMs]"
    )
    return float(marks[0]), float(marks[1])


def measure(url: str, repeats: int) -> dict[str, Any]:
    """API and browser timings (seconds and milliseconds) against a dashboard on `url`."""
    board = serve(url, port=0, block=False)
    base = f"http://127.0.0.1:{board.port}"
    try:
        cold, body = _get(base + "/api/studies/big")
        cursor = json.loads(body)["cursor"]
        full = [_get(base + "/api/studies/big")[0] for _ in range(repeats)]
        time.sleep(0.6)  # past the cache's reuse interval: each call below reads the store
        delta = []
        for _ in range(repeats):
            delta.append(_get(base + f"/api/studies/big?since={cursor}")[0])
            time.sleep(0.6)
        curves = [_get(base + "/api/studies/big/curves")[0] for _ in range(repeats)]
        summary_built, summary_body = _get(base + "/api/studies/big/summary")
        summary = [_get(base + "/api/studies/big/summary")[0] for _ in range(repeats)]
        listing = [_get(base + "/api/studies")[0] for _ in range(repeats)]
        driver = headless_chromium()
        try:
            # The first visit also parses plotly.js (3.5 MB) without the browser's code cache.
            page = [_page_load_ms(driver, base + "/study/big") for _ in range(repeats + 1)]
        finally:
            driver.quit()
    finally:
        board.stop()
    return {
        "api_first_s": cold,
        "api_full_s": statistics.median(full),
        "api_full_bytes": len(body),
        "api_incremental_s": statistics.median(delta),
        "api_curves_s": statistics.median(curves),
        "api_summary_built_s": summary_built,
        "api_summary_s": statistics.median(summary),
        "api_summary_bytes": len(summary_body),
        "api_studies_s": statistics.median(listing),
        "page_first_visit_ms": page[0],
        "page_load_ms": page[1:],
        "page_main_median_ms": statistics.median(p[0] for p in page[1:]),
        "page_all_median_ms": statistics.median(p[1] for p in page[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/dashboard"))
    args = parser.parse_args()
    load = os.getloadavg()[0]  # the timings scale with how busy the machine is
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        url = build_store(Path(folder) / "big.db", args.trials, args.steps)
        built = time.perf_counter() - began
        found = measure(url, args.repeats)
    found.update(
        trials=args.trials,
        steps=args.steps,
        build_s=built,
        machine=platform.platform(),
        cpus=os.cpu_count(),
        load_average=load,
        python=platform.python_version(),
        date=datetime.now(timezone.utc).isoformat(),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(found, indent=2) + "\n")
    lines = [
        f"# Dashboard on {args.trials:,} trials x {args.steps} reports (SQLite)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| study page: navigation to table, history and curves drawn (median of {args.repeats}) "
        f"| {found['page_main_median_ms']:.0f} ms |",
        f"| study page: navigation to every chart drawn (parallel coordinates included) "
        f"| {found['page_all_median_ms']:.0f} ms |",
        f"| study page, first visit (plotly.js not yet in the browser's code cache): main, all "
        f"| {found['page_first_visit_ms'][0]:.0f} ms, {found['page_first_visit_ms'][1]:.0f} ms |",
        f"| API study endpoint, first call (fills the cache from the store) "
        f"| {found['api_first_s'] * 1000:.0f} ms |",
        f"| API study endpoint, full ({found['api_full_bytes'] / 1e6:.1f} MB) "
        f"| {found['api_full_s'] * 1000:.0f} ms |",
        f"| API study endpoint, incremental (`since`) "
        f"| {found['api_incremental_s'] * 1000:.0f} ms |",
        f"| API curves | {found['api_curves_s'] * 1000:.0f} ms |",
        f"| API summary (the first paint, {found['api_summary_bytes'] / 1e3:.0f} kB): built, "
        f"then cached | {found['api_summary_built_s'] * 1000:.0f} ms, "
        f"{found['api_summary_s'] * 1000:.0f} ms |",
        f"| API studies list | {found['api_studies_s'] * 1000:.0f} ms |",
        "",
        f"{found['machine']}, {found['cpus']} CPUs (load average {load:.1f} at the start), "
        f"Python {found['python']}, {found['date'][:10]}; headless Chromium "
        f"with software WebGL (SwiftShader). Store built in {built:.0f} s.",
    ]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
