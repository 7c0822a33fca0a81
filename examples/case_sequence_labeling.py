"""Case study 2 of the AutoML article: a BiLSTM tagger, baseline vs tuned with schedules.

Data: GENERATED, not a real corpus. No tagged corpus ships inside a pip package that this
project may install (nltk's corpora are a separate download, which examples must not do), so the
script generates a part-of-speech-like task from a small probabilistic grammar: 8 tags, made-up
words with Zipf-distributed frequencies (many rare words, some unseen in training), and words
that are a noun in one sentence and a verb in another, so context decides the tag. 2% of the
training tags are flipped at random. F1 is the macro F1 over the 8 tags on the test sentences.

Baseline: embedding 64, hidden 64, dropout 0.5, Adam lr=0.001, no clipping. Tuned: the study
searches the learning rate, the hidden size and the embedding-to-hidden ratio, a dropout
schedule (`dropout_start`, `dropout_decay`) and adaptive gradient clipping
(`agc_clip_factor`), the schedules applied by `schedule_callbacks`. Both are retrained from
scratch with seeds 0, 1, 2.

Run: `PYTHONPATH=. python examples/case_sequence_labeling.py [--trials 12] [--epochs 8]`.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from _case_results import summary, write_results  # examples/, next to this script
from sklearn.metrics import f1_score
from torch import nn
from torch.utils.data import DataLoader

import lightning_autotune as la
from lightning_autotune.callbacks import schedule_callbacks, schedule_space

TAGS = ["DET", "ADJ", "NOUN", "VERB", "ADV", "PREP", "PRON", "CONJ"]
BASELINE = {"learning_rate": 1e-3, "hidden": 64, "emb_ratio": 1.0, "dropout_start": 0.5}


def make_corpus(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[int]], list[list[int]]]:
    """Generate `n` tagged sentences: (words, tag ids, tag ids with 2% noise)."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "tu", "re", "sa", "vi", "no", "pe", "zu", "gra", "bel"]

    def words(count: int, tag: str) -> list[str]:
        return [
            "".join(rng.choice(syllables, size=rng.integers(2, 4))) + f"_{tag[0].lower()}{i}"
            for i in range(count)
        ]

    lexicon = {
        "DET": ["the", "a", "every", "some", "this"],
        "ADJ": words(400, "ADJ"),
        "NOUN": words(1500, "NOUN"),
        "VERB": words(800, "VERB"),
        "ADV": words(200, "ADV"),
        "PREP": ["in", "on", "with", "under", "near", "from"],
        "PRON": ["she", "he", "they", "it", "we"],
        "CONJ": ["and", "but", "while"],
    }
    shared = words(300, "SHARED")  # noun or verb, by position
    lexicon["NOUN"] += shared
    lexicon["VERB"] += shared
    weights = {t: 1 / np.arange(1, len(ws) + 1) ** 0.9 for t, ws in lexicon.items()}

    def word(tag: str) -> tuple[str, str]:
        p = weights[tag] / weights[tag].sum()
        return str(rng.choice(lexicon[tag], p=p)), tag

    def noun_phrase(depth: int = 0) -> list[tuple[str, str]]:
        if rng.random() < 0.2:
            return [word("PRON")]
        if rng.random() < 0.25:  # a bare noun: no determiner announces it
            return [word("NOUN")]
        out = [word("DET")] + [word("ADJ") for _ in range(rng.poisson(0.7))] + [word("NOUN")]
        if depth < 1 and rng.random() < 0.3:
            out += [word("PREP"), *noun_phrase(depth + 1)]
        return out

    def clause() -> list[tuple[str, str]]:
        out = [*noun_phrase(), word("VERB")]
        if rng.random() < 0.3:  # an adverb before or after the verb
            out.insert(len(out) - 1 if rng.random() < 0.5 else len(out), word("ADV"))
        if rng.random() < 0.7:
            out += noun_phrase()
        return out

    sents, tags, noisy = [], [], []
    for _ in range(n):
        pairs = clause()
        if rng.random() < 0.3:
            pairs += [word("CONJ"), *clause()]
        ids = [TAGS.index(t) for _, t in pairs]
        flips = rng.random(len(ids)) < 0.02
        sents.append([w for w, _ in pairs])
        tags.append(ids)
        noisy.append(
            [int(rng.integers(len(TAGS))) if f else i for i, f in zip(ids, flips, strict=True)]
        )
    return sents, tags, noisy


def load() -> dict[str, Any]:
    """Index the generated corpus: train 500 / validation 250 / test 250 sentences."""
    sents, tags, noisy = make_corpus(1000)
    vocab = {"<pad>": 0, "<unk>": 1}
    for s in sents[:500]:
        for w in s:
            vocab.setdefault(w, len(vocab))

    def encode(lo: int, hi: int, labels: list[list[int]]) -> list[Any]:
        return [
            (torch.tensor([vocab.get(w, 1) for w in s]), torch.tensor(t))
            for s, t in zip(sents[lo:hi], labels[lo:hi], strict=True)
        ]

    return {
        "train": encode(0, 500, noisy),
        "val": encode(500, 750, tags),
        "test": encode(750, 1000, tags),
        "vocab": len(vocab),
    }


def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    x = nn.utils.rnn.pad_sequence([b[0] for b in batch], batch_first=True, padding_value=0)
    y = nn.utils.rnn.pad_sequence([b[1] for b in batch], batch_first=True, padding_value=-100)
    return x, y


class BiLSTMTagger(pl.LightningModule):
    """Embedding -> dropout -> 2-layer BiLSTM -> dropout -> linear, per token."""

    def __init__(self, data: dict, params: dict, batch_size: int = 32) -> None:
        super().__init__()
        self.data, self.batch_size, self.lr = data, batch_size, params["learning_rate"]
        hidden = int(params["hidden"])
        emb = max(8, round(hidden * params["emb_ratio"]))
        p = params.get("dropout_start", 0.5)
        self.embed = nn.Embedding(data["vocab"], emb, padding_idx=0)
        self.drop_in = nn.Dropout(p)
        self.lstm = nn.LSTM(
            emb, hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=p
        )
        self.drop_out = nn.Dropout(p)
        self.head = nn.Linear(2 * hidden, len(TAGS))
        self.predictions: list[tuple[np.ndarray, np.ndarray]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.drop_in(self.embed(x)))
        return self.head(self.drop_out(h))

    def _loss(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self(x)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()), logits, y

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._loss(batch)[0]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, logits, y = self._loss(batch)
        mask = y != -100
        self.log("val_loss", loss)
        self.log("val_acc", (logits.argmax(-1)[mask] == y[mask]).float().mean())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, logits, y = self._loss(batch)
        mask = y != -100
        self.predictions.append((logits.argmax(-1)[mask].numpy(), y[mask].numpy()))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data["train"], self.batch_size, shuffle=True, collate_fn=collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data["val"], 250, collate_fn=collate)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.data["test"], 250, collate_fn=collate)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def trainer_kwargs(epochs: int) -> dict[str, Any]:
    return {
        "max_epochs": epochs,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }


def retrain(params: dict, data: dict, epochs: int, seed: int) -> tuple[float, float]:
    """Train `params` from scratch with `seed`; return (test macro F1, training seconds)."""
    pl.seed_everything(seed, verbose=False)
    model = BiLSTMTagger(data, params)
    trainer = pl.Trainer(**trainer_kwargs(epochs), callbacks=schedule_callbacks(params))
    start = time.perf_counter()
    trainer.fit(model)
    seconds = time.perf_counter() - start
    trainer.test(model, verbose=False)
    pred = np.concatenate([p for p, _ in model.predictions])
    true = np.concatenate([t for _, t in model.predictions])
    return float(f1_score(true, pred, average="macro")), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/case_sequence_labeling"),
        help="folder for results.json and results.md",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    data = load()

    space = {
        "learning_rate": {"type": "continuous", "min": 3e-4, "max": 3e-2, "scale": "log"},
        "hidden": {"type": "integer", "min": 32, "max": 128, "scale": "log"},
        "emb_ratio": {"type": "continuous", "min": 0.25, "max": 2.0, "scale": "log"},
        **schedule_space(switch=False, batch_size=False),  # dropout_start/decay, agc_clip_factor
    }
    started = time.perf_counter()
    study = la.fit(
        lambda params: BiLSTMTagger(data, params),
        space,
        monitor="val_acc",
        mode="max",
        max_trials=args.trials,
        trainer_kwargs=trainer_kwargs(args.epochs),
        storage=None,
        seed=0,
    )
    tuned = study.best_params
    print(
        f"study: {len(study.trials)} trials with {type(study.sampler).__name__} in "
        f"{time.perf_counter() - started:.0f} s; best validation accuracy {study.best_value:.3f}"
    )
    print("best params:", {k: round(v, 4) if isinstance(v, float) else v for k, v in tuned.items()})

    configs = {"baseline (Adam 0.001, dropout 0.5, no clipping)": BASELINE, "tuned": tuned}
    rows: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in configs}
    for seed in range(args.seeds):  # interleaved, so machine load hits both alike
        for name, params in configs.items():
            f1, secs = retrain(params, data, args.epochs, seed)
            rows[name][0].append(f1)
            rows[name][1].append(secs)
    print(f"\ngenerated tagging task, {args.epochs} epochs, {args.seeds} seeds (mean ± std)\n")
    print("| configuration | test macro F1 | training time (s) |")
    print("|---|---|---|")
    for name, (f1s, secs) in rows.items():
        print(f"| {name} | {summary(f1s, '.3f')} | {summary(secs, '.1f')} |")
    payload = {
        "case": "sequence_labeling",
        "data": "generated",
        "trials": args.trials,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "sampler": type(study.sampler).__name__,
        "best_validation_accuracy": study.best_value,
        "best_params": tuned,
    }
    write_results(args.out, payload, rows, metric_key="test_macro_f1", metric_label="test macro F1")


if __name__ == "__main__":
    main()
