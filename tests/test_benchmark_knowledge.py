"""The knowledge benchmark's merge: runs matched by family, method and (task, seed) pair."""

from __future__ import annotations

import json

import pytest

from benchmarks import knowledge


def _run(path, command, curves, pairs=None):
    path.mkdir()
    meta = {"command": command, "wall_s": 1.0, "date": "d", "versions": {}, "scope": "s"}
    raw = {"meta": meta, "curves": curves, "latency": []}
    if pairs is not None:
        raw["pairs"] = pairs
    (path / "raw.json").write_text(json.dumps(raw))


def test_a_rerun_of_one_method_replaces_its_cells_on_the_same_pairs_only(tmp_path):
    base = "python -m benchmarks.knowledge --families branin --targets 2 --seeds 2"
    # four pairs, seed-major: (0, 0), (1, 0), (0, 1), (1, 1); the pairs are read off the command
    runs = {m: [[1.0 + i, 0.5] for i in range(4)] for m in ("cold", "zero_shot", "transfer")}
    _run(tmp_path / "all", base, {"branin": runs})
    again = [[0.1, 0.01], [0.2, 0.02], [0.3, 0.03], [0.4, 0.04]]
    _run(tmp_path / "zs", base + " --methods zero_shot", {"branin": {"zero_shot": again}})
    knowledge.main(
        ["--merge", str(tmp_path / "all"), str(tmp_path / "zs"), "--out", str(tmp_path / "out")]
    )
    merged = json.loads((tmp_path / "out" / "raw.json").read_text())
    assert merged["curves"]["branin"]["zero_shot"] == again
    assert merged["curves"]["branin"]["transfer"] == runs["transfer"]
    assert merged["curves"]["branin"]["cold"] == runs["cold"]
    assert merged["pairs"]["branin"] == [[0, 0], [1, 0], [0, 1], [1, 1]]


def test_a_method_lacking_some_of_the_cold_pairs_is_refused(tmp_path):
    base = "python -m benchmarks.knowledge --families branin --targets 2 --seeds 2"
    _run(tmp_path / "cold", base, {"branin": {"cold": [[1.0]] * 4}})
    _run(
        tmp_path / "zs",
        base,
        {"branin": {"zero_shot": [[0.5]] * 2}},
        pairs={"branin": [[0, 0], [1, 1]]},
    )
    with pytest.raises(ValueError, match=r"branin zero_shot lacks .*\[\(1, 0\), \(0, 1\)\]"):
        knowledge.main(
            ["--merge", str(tmp_path / "cold"), str(tmp_path / "zs"), "--out", str(tmp_path / "o")]
        )
