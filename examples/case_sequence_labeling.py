"""Case study 2 of the AutoML article, redone to a protocol: a BiLSTM part-of-speech tagger.

Data: a real corpus, the Turkish Web and Wikipedia treebanks that the PyPI package
`turkish-treebanks` ships (examples/_tagging.py says how they are read); 1,000 test and 300
validation sentences, and `--train-sentences` training sentences, the same fixed split for every
run. The score is the macro F1 over the 12 universal part-of-speech tags.

Protocol (`--seeds 5` in the full protocol; flags allow a reduced run), as in case 1:

- Epoch budget: unless `--epochs` is given, baseline (2) is trained once (seed 0) for
  `--max-epochs` and the budget is the first epoch whose validation F1 is within `--plateau-tol`
  of the curve's best.
- Baselines (embedding 64, hidden 64, one BiLSTM layer, no dropout as in PyTorch's defaults):
  (1) the article's start (plain SGD, lr 0.001, batch 32); (2) Adam, lr 1e-3, batch 32; (3) (2)
  with only the learning rate tuned.
- Arms (`--trials` trials each, BoTorchSampler, seed 0, validation macro F1): a full search
  (learning rate, optimizer, batch size, hidden size, embedding-to-hidden ratio, dropout) without
  schedules, and the same with the four schedules of `schedule_space` (its dropout schedule
  replacing the fixed dropout). Ablation: the best schedule configuration with each active
  schedule removed (without the dropout schedule, its start value stays as a fixed dropout).
- Population-based training (learning rate, optimizer, batch size, dropout; `--trials` members
  of the budget's epochs each, the full search's epochs), its best member's schedule replayed
  in each retrain; transfer: the full search without schedules, warm-started from the same
  search on Web-treebank sentences this split leaves unused (its compute reported apart).
  `--only pbt,transfer` runs only these and merges them into the stored run under `--out`,
  refusing one of another protocol.
- Every configuration is retrained from scratch with seeds 0..`--seeds`-1 and scored once on the
  test set: mean ± std, collapsed seeds (test F1 below 0.1), training time, search compute.
- The embedding-to-hidden ratio: the best configuration without schedules retrained with each
  ratio of `--ratios` (`--ratio-seeds` seeds, validation F1), next to the ratios of the searches'
  best trials.

Run: `PYTHONPATH=. python examples/case_sequence_labeling.py [--trials 12] [--seeds 5]`.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import lightning.pytorch as pl
import torch
from _case_arms import (
    ARMS,
    added_note,
    check_protocol,
    load_note,
    load_stored,
    parse_only,
    population_arm,
    population_interval,
    replay_setup,
    transfer_arm,
    write_merged,
)
from _case_results import (
    Curve,
    Row,
    Sweep,
    ablations,
    plateau_epoch,
    retrain_all,
    trainer_kwargs,
    write,
)
from _tagging import TAGS, BiLSTMTagger, load, macro_f1

import lightning_autotune as la
from lightning_autotune.callbacks import schedule_callbacks, schedule_space

ARTICLE = "F1 87.3 -> 90.1 (article's claim, on its own NER corpus)"
SGD = {"learning_rate": 1e-3, "optimizer": "sgd", "batch_size": 32}
ADAM = {"learning_rate": 1e-3, "optimizer": "adam", "batch_size": 32}
LR = {"learning_rate": {"type": "continuous", "min": 1e-4, "max": 1e-1, "scale": "log"}}
MODEL = {
    "optimizer": {"type": "categorical", "values": ["adam", "momentum"]},
    "batch_size": {"type": "discrete", "values": [16, 32, 64, 128]},
    "hidden": {"type": "integer", "min": 32, "max": 128, "scale": "log"},
    "emb_ratio": {"type": "continuous", "min": 0.25, "max": 4.0, "scale": "log"},
}
DROPOUT = {"dropout": {"type": "continuous", "min": 0.0, "max": 0.5}}
# What a population changes in a running tagger ('sgd': its SGD with momentum 0.9); the
# architecture stays at the baselines' (hidden 64, ratio 1), see `new_arms`.
POPULATION_SPACE = {
    **LR,
    "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
    "batch_size": MODEL["batch_size"],
    **DROPOUT,
}
SOURCE = "web"
# The arguments that fix the protocol: `--only` merges only into a run with the same.
PROTOCOL = ("trials", "seeds", "max_epochs", "plateau_tol", "train_sentences")


def plateau(data: dict, params: dict, max_epochs: int, tol: float) -> tuple[int, list[float]]:
    """Epochs after which `params` (seed 0) is within `tol` of its best validation F1."""
    pl.seed_everything(0, verbose=False)
    curve = Curve("val_f1")
    pl.Trainer(**trainer_kwargs(max_epochs), callbacks=[curve]).fit(BiLSTMTagger(data, params))
    return plateau_epoch(curve.values, tol), curve.values


def train(data: dict, epochs: int, params: dict, seed: int) -> tuple[BiLSTMTagger, pl.Trainer]:
    pl.seed_everything(seed, verbose=False)
    params, replayed = replay_setup(params)  # a population's best member: its schedule
    model = BiLSTMTagger(data, params)
    callbacks = [*schedule_callbacks(params), *replayed]
    trainer = pl.Trainer(**trainer_kwargs(epochs), callbacks=callbacks)
    return model, trainer


def retrain(data: dict, epochs: int, params: dict, seed: int) -> tuple[float, float]:
    """Train `params` from scratch with `seed`; return (test macro F1, training seconds)."""
    model, trainer = train(data, epochs, params, seed)
    start = time.perf_counter()
    trainer.fit(model)
    seconds = time.perf_counter() - start
    trainer.test(model, verbose=False)
    return macro_f1(model.test_pairs), seconds


def validation_f1(data: dict, epochs: int, params: dict, seed: int) -> float:
    """Train `params` from scratch with `seed`; return its last validation macro F1."""
    model, trainer = train(data, epochs, params, seed)
    trainer.fit(model)
    return float(trainer.callback_metrics["val_f1"])


def search(
    data: dict, space: dict, fixed: dict, trials: int, epochs: int, name: str
) -> tuple[Row, list[tuple[float, float]]]:
    """A study over `space`; its best configuration as a row, and (emb_ratio, score) per trial."""
    started = time.perf_counter()
    study = la.fit(
        lambda params: BiLSTMTagger(data, {**fixed, **params}),
        space,
        monitor="val_f1",
        mode="max",
        max_trials=trials,
        trainer_kwargs=trainer_kwargs(epochs),
        storage=None,
        seed=0,
        progress=False,
    )
    seconds = time.perf_counter() - started
    best = {**fixed, **study.best_params}
    print(f"{name}: {len(study.trials)} trials in {seconds:.0f} s, best {best}", flush=True)
    ratios = [
        (float(t.params["emb_ratio"]), float(t.values[0]))
        for t in study.trials
        if "emb_ratio" in t.params and t.values
    ]
    return Row(name, "arm", best, search_seconds=seconds, search_trials=len(study.trials)), ratios


def new_arms(
    data: dict, args: argparse.Namespace, epochs: int, arms: list[str]
) -> tuple[list[Row], list[str]]:
    """The population-based-training and transfer arms named in `arms`, and a note on each."""
    rows, notes = [], []
    kwargs = trainer_kwargs(epochs)
    if "pbt" in arms:
        name = "population-based training, best member replayed"
        row, copies = population_arm(
            lambda p: BiLSTMTagger(data, p),
            POPULATION_SPACE,
            monitor="val_f1",
            members=args.trials,
            trainer_kwargs=kwargs,
            name=name,
        )
        rows.append(row)
        notes.append(
            f"Population-based training: {args.trials} members x {epochs} epochs = "
            f"{args.trials * epochs} epochs, the full search's budget ({args.trials} trials x "
            f"{epochs} epochs, no pruner), over what a running tagger can change (learning "
            "rate, optimizer, batch size, dropout); the architecture stays at hidden 64, ratio "
            "1 (a member copies only members of its architecture, and a searched one would "
            f"leave none to copy); interval {population_interval(epochs)} epochs, quantile "
            "0.25, seed 0. The members train side by side, one process each, on a throwaway "
            f"SQLite store; they made {copies} copies in all. Each retrain replays the best "
            "member's schedule from scratch."
        )
    if "transfer" in arms:
        source = load(val=300, test=1000, train=args.train_sentences, treebank=SOURCE)
        row, seconds = transfer_arm(
            lambda p: BiLSTMTagger(source, p),
            lambda p: BiLSTMTagger(data, p),
            {**LR, **MODEL, **DROPOUT},
            fixed={},
            monitor="val_f1",
            trials=args.trials,
            trainer_kwargs=kwargs,
            name=f"full search, no schedules, warm-started from the {SOURCE} treebank",
        )
        rows.append(row)
        notes.append(
            "Transfer: the full search without schedules, warm-started (`warm_start`, mode "
            f"'transfer') from a study of {args.trials} trials of the same space on the Web "
            f"treebank alone: {source['sizes']['train']} training and {source['sizes']['val']} "
            "validation sentences that this split leaves unused (the split pools both "
            "treebanks, so tuning on one and testing on the other would need a new split and "
            f"every arm rerun). The source study took {seconds:.0f} s, not counted in the "
            "arm's search compute."
        )
    return rows, notes


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12, help="trials per search")
    parser.add_argument("--seeds", type=int, default=5, help="retrain seeds per configuration")
    parser.add_argument("--epochs", type=int, default=None, help="skip the plateau check")
    parser.add_argument("--max-epochs", type=int, default=20, help="plateau check length")
    parser.add_argument("--plateau-tol", type=float, default=0.01)
    parser.add_argument("--train-sentences", type=int, default=1000)
    parser.add_argument("--ratios", type=str, default="0.25,0.5,1,2,4")
    parser.add_argument("--ratio-seeds", type=int, default=2)
    parser.add_argument(
        "--only",
        default=None,
        help="run only these arms (pbt, transfer; comma-separated) and merge them into the "
        "results.json under --out, whose run must have used the same protocol flags",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/case_sequence_labeling"),
        help="folder for results.json and results.md",
    )
    return parser


def command_line() -> str:
    return "PYTHONPATH=. python " + " ".join(["examples/case_sequence_labeling.py", *sys.argv[1:]])


def merge_only(args: argparse.Namespace, arms: list[str]) -> None:
    """Run only `arms` and merge them into the stored run under `args.out`."""
    stored = load_stored(args.out)
    epochs = check_protocol(stored, parser(), args, PROTOCOL)
    started = time.perf_counter()
    data = load(val=300, test=1000, train=args.train_sentences)
    rows, notes = new_arms(data, args, epochs, arms)
    retrain_all(rows, args.seeds, lambda p, s: retrain(data, epochs, p, s), floor=0.1)
    seconds = time.perf_counter() - started
    added = added_note(command_line(), arms, seconds, epochs, args.seeds)
    write_merged(args.out, stored, rows, arms, notes, added=added)


def main() -> None:
    args = parser().parse_args()
    arms = parse_only(args.only)
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    if arms:
        merge_only(args, arms)
        return
    started = time.perf_counter()
    data = load(val=300, test=1000, train=args.train_sentences)
    curve: list[float] = []
    epochs = args.epochs
    if epochs is None:
        epochs, curve = plateau(data, ADAM, args.max_epochs, args.plateau_tol)
    print(f"epoch budget {epochs}; baseline (2) validation curve {curve}", flush=True)

    lr_only, _ = search(
        data,
        LR,
        {"optimizer": "adam", "batch_size": 32},
        args.trials,
        epochs,
        "(3) Adam, batch 32, lr tuned",
    )
    lr_only.kind = "baseline"
    plain, plain_ratios = search(
        data, {**LR, **MODEL, **DROPOUT}, {}, args.trials, epochs, "full search, no schedules"
    )
    sched, sched_ratios = search(
        data,
        {**LR, **MODEL, **schedule_space()},
        {},
        args.trials,
        epochs,
        "full search with schedules",
    )
    extra, notes = new_arms(data, args, epochs, list(ARMS))
    rows = [
        Row("(1) article start: SGD, lr 0.001, batch 32", "baseline", SGD),
        Row("(2) Adam, lr 0.001, batch 32", "baseline", ADAM),
        lr_only,
        plain,
        sched,
        *ablations(sched, {"dropout decay": lambda p: {"dropout": p["dropout_start"]}}),
        *extra,
    ]
    retrain_all(rows, args.seeds, lambda p, s: retrain(data, epochs, p, s), floor=0.1)

    sweep = Sweep(
        "emb_ratio",
        "embedding-to-hidden ratio",
        "validation macro F1",
        f"the best configuration without schedules (hidden {plain.params['hidden']})",
        trials=plain_ratios + sched_ratios,
    )
    for ratio in args.ratios.split(","):
        params = {**plain.params, "emb_ratio": float(ratio)}
        sweep.runs[ratio] = [
            validation_f1(data, epochs, params, seed) for seed in range(args.ratio_seeds)
        ]
        print(f"ratio {ratio}: {sweep.runs[ratio]}", flush=True)

    command = command_line()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sizes = data["sizes"]
    preamble = [
        f"Test macro F1 over {len(TAGS)} part-of-speech tags on the Turkish Web and Wikipedia "
        f"treebanks (PyPI `turkish-treebanks`; {sizes['train']} training sentences, "
        f"{sizes['train_tokens']} tokens, {sizes['val']} validation, {sizes['test']} test), "
        f"{args.seeds} retrain seeds, {epochs} epochs per run, {args.trials} trials per search "
        "(BoTorchSampler, seed 0).",
        f"Epoch budget: {'given' if not curve else 'plateau of baseline (2)'}; "
        f"total wall-clock {time.perf_counter() - started:.0f} s.",
        f"Article: {ARTICLE}.",
        f"Command: `{command}` ({stamp}; torch {torch.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, 1 thread per run, shared machine, "
        f"{load_note()} at the end).",
    ]
    payload = {
        "case": "sequence_labeling",
        "metric_label": "test macro F1",
        "data": "turkish-treebanks (web + wiki)",
        "sizes": sizes,
        "trials": args.trials,
        "seeds": args.seeds,
        "epochs": epochs,
        "plateau_curve": curve,
        "plateau_tol": args.plateau_tol,
        "command": command,
        "date": stamp,
        "article": ARTICLE,
    }
    write(
        args.out,
        payload,
        rows,
        metric_label="test macro F1",
        preamble=preamble,
        not_run={},
        sweep=sweep,
        notes=notes,
    )


if __name__ == "__main__":
    main()
