"""PretrainedTransfer under real 2-process CPU DDP (gloo), run as a script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("ddp_transfer_script.py")
ROOT = Path(__file__).resolve().parents[2]


def test_ddp_frozen_backbone_holds_then_joins_and_ranks_stay_in_step(tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=180,  # a hang would end here, as a failure
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads(Path(f"{out}.{r}").read_text()) for r in (0, 1)]
    for result in ranks:
        weights = pytest.approx(result["weights"])
        assert result["backbone_end"]["0"] == weights  # frozen through epochs 0 and 1
        assert result["backbone_end"]["1"] == weights
        assert result["backbone_end"]["3"] != weights  # trained once it joined at epoch 2
        assert result["groups"]["1"] == [[2, pytest.approx(0.001)]]  # the head, at 0.1 x lr
        assert result["groups"]["2"] == [[2, pytest.approx(0.001)], [2, pytest.approx(0.005)]]
    # DDP kept the late-joining parameters synchronized: both ranks hold the same backbone
    assert ranks[0]["backbone_end"]["3"] == pytest.approx(ranks[1]["backbone_end"]["3"])
