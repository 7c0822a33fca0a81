"""Sample efficiency and overhead of BoTorchSampler against Optuna, Ax, HEBO and SMAC3.

Run: `python -m benchmarks.bo [--quick] [--out benchmarks/results/bo]`. Ours and Optuna's
samplers run in this process, interleaved (for each seed, each peer), single-threaded; Ax, HEBO
and SMAC3 run in their own environment (`benchmarks/_external.py`), one subprocess per peer and
problem. Problems of 20 parameters and more are run at `--budgets-high` evaluations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks._bo_report import HIGH_DIM, write_results
from benchmarks._external import EXTERNAL, run_external
from benchmarks._functions import PROBLEMS
from benchmarks._peers import BATCH_PEERS, EXTRA_PEERS, PEERS, history_latency, run_peer

QUICK_PROBLEMS = ("branin", "hartmann6", "ackley4", "mixed", "conditional")
LATENCY_SIZES = (25, 100, 400)


def _limit_threads() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        pass


def _n_init(dim: int) -> int:
    # BoTorchSampler's automatic size, given to every peer that lets us set it.
    return int(min(10, max(5, dim + 1)))


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("lightning-autotune", "botorch", "torch", "optuna"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer seeds and problems (dev)")
    parser.add_argument("--out", default="benchmarks/results/bo")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--problems", nargs="*", default=None, help="none given: latency only")
    parser.add_argument("--budgets", nargs="*", type=int, default=None)
    parser.add_argument(
        "--budgets-high",
        nargs="*",
        type=int,
        default=[100, 200],
        help=f"budgets of problems with {HIGH_DIM} parameters or more",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        choices=[*PEERS, *EXTRA_PEERS, *BATCH_PEERS, *EXTERNAL],
        help="ours_q4, optuna_gp_q4, ax_q4 and hebo_q4 (4 suggestions at a time), ours_async4 "
        "and optuna_gp_async4 (4 workers refilled as trials of random length end) form the "
        "batch table; ours_mo (the default sampler of constrained or multi-objective "
        "studies) is a table column; ax, hebo, smac_hpo and smac_bb run in their own "
        "environment",
    )
    parser.add_argument("--latency-repeats", type=int, default=None)
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    parser.add_argument(
        "--merge", nargs="*", default=None, help="combine the raw.json of earlier runs into --out"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        raws = [json.loads((Path(d) / "raw.json").read_text()) for d in args.merge]
        return write_results(out, raws)
    _limit_threads()

    seeds = args.seeds or (3 if args.quick else 10)
    problems = (
        list(QUICK_PROBLEMS if args.quick else PROBLEMS) if args.problems is None else args.problems
    )
    budgets = sorted(args.budgets or ([20, 50] if args.quick else [20, 50, 100]))
    budgets_high = sorted(args.budgets_high)
    repeats = args.latency_repeats or (5 if args.quick else 25)
    started = time.time()
    local = [p for p in args.peers if p not in EXTERNAL]
    external = [p for p in args.peers if p in EXTERNAL]

    curves: dict[str, dict[str, list[list[float]]]] = {}
    errors: dict[str, dict[str, str]] = {}
    seconds: dict[str, float] = {k: 0.0 for k in args.peers}
    versions = _versions()
    latency: dict[str, dict[str, list[float]]] = {}
    command = "python -m benchmarks.bo " + " ".join(argv if argv is not None else sys.argv[1:])

    def save() -> dict:  # type: ignore[type-arg]
        # written after every problem, so an interrupted run keeps what it finished
        raw = {
            "meta": {
                "command": command,
                "quick": args.quick,
                "seeds": seeds,
                "budgets": budgets,
                "budgets_high": budgets_high,
                "peers": args.peers,
                "problems": list(curves),
                "wall_s": time.time() - started,
                "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
                "versions": versions,
            },
            "curves": curves,
            "errors": errors,
            "latency": latency,
            "seconds": seconds,
        }
        (out / "raw.json").write_text(json.dumps(raw))
        return raw

    if not args.no_latency:
        lat_problem = PROBLEMS["hartmann6"]
        for size in LATENCY_SIZES:
            for peer in ("ours", "optuna_gp"):
                if peer in args.peers:
                    latency.setdefault(peer, {})[str(size)] = history_latency(
                        peer, lat_problem, size, repeats
                    )
            print(f"latency at {size} done ({time.time() - started:.0f} s)", flush=True)
        save()

    for name in problems:
        problem = PROBLEMS[name]
        n_init = _n_init(problem.space.dim)
        budget = (budgets_high if len(problem.space.names) >= HIGH_DIM else budgets)[-1]
        runs: dict[str, list[list[float]]] = {k: [] for k in local}
        for seed in range(seeds):
            # peers interleaved within each seed, so they meet the same machine state
            for peer in local:
                t0 = time.perf_counter()
                runs[peer].append(run_peer(peer, problem, budget, seed, n_init))
                seconds[peer] += time.perf_counter() - t0
            print(f"{name} seed {seed} done ({time.time() - started:.0f} s)", flush=True)
        for peer in external:
            result = run_external(peer, name, budget, list(range(seeds)), n_init)
            if result.error is not None:
                errors.setdefault(name, {})[peer] = result.error
                print(f"{name} {peer}: {result.error}", flush=True)
                continue
            runs[peer] = result.traces
            seconds[peer] += sum(result.seconds)
            versions.update(result.versions)
            curves[name] = runs
            save()  # each slow peer's runs kept as soon as they end
            print(f"{name} {peer} done ({time.time() - started:.0f} s)", flush=True)
        curves[name] = runs
        save()
    return write_results(out, [save()])


if __name__ == "__main__":
    raise SystemExit(main())
