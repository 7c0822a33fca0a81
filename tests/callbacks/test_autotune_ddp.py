"""AutoTuneCallback under real 2-process CPU DDP (gloo), run as a script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("ddp_autotune_script.py")
ROOT = Path(__file__).resolve().parents[2]


def _run(scenario: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), scenario, str(out)],
        capture_output=True,
        text=True,
        timeout=120,  # a hang would end here, as a failure
        cwd=tmp_path,
        env=env,
    )
    return proc, out


def test_ddp_prune_reaches_every_rank_and_trial_ends_pruned(tmp_path):
    proc, out = _run("prune", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0 = json.loads(Path(f"{out}.0").read_text())
    rank1 = json.loads(Path(f"{out}.1").read_text())
    assert rank0["state"] == "PRUNED" and rank0["steps"] == [2]
    for result in (rank0, rank1):
        assert result["pruned"] and result["should_stop"]
        assert result["global_step"] == 2
        assert "DivergencePruner at step 2" in result["reason"]


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("store_error", "rank 0 failed to talk to the store"),
        ("rank_error", "another rank failed at step 2"),
    ],
)
def test_ddp_error_on_one_rank_raises_everywhere_without_hanging(tmp_path, scenario, message):
    proc, out = _run(scenario, tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-3000:]
    assert not Path(f"{out}.0").exists() and not Path(f"{out}.1").exists()
