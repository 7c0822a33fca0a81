"""The corpus and the BiLSTM tagger of case study 2 (examples/case_sequence_labeling.py).

Corpus: the Turkish Web Treebank and the Turkish Wikipedia treebank of Google Research (Apache
2.0), which the PyPI package `turkish-treebanks` ships as CoNLL-U files (`data/web.conllu`,
`data/wiki.conllu`), so no download happens at run time. The tag is the universal part of speech
(column 4); ONOM and AFFIX (16 tokens in all) are folded into X. Words are lowercased; a word not
seen in training maps to `<unk>`.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from torch.utils.data import DataLoader

TAGS = [
    "NOUN",
    "VERB",
    "PUNCT",
    "ADJ",
    "ADP",
    "ADV",
    "CONJ",
    "DET",
    "NUM",
    "PRON",
    "PRT",
    "X",
]
FOLDED = {"ONOM": "X", "AFFIX": "X"}

Sentence = list[tuple[str, str]]


def conllu_files() -> list[Path]:
    """The CoNLL-U files that `turkish-treebanks` installed.

    Raises:
        RuntimeError: The package is not installed.
    """
    try:
        files = importlib.metadata.files("turkish-treebanks") or []
    except importlib.metadata.PackageNotFoundError as err:
        raise RuntimeError(
            "case study 2 reads the Turkish treebanks of the PyPI package 'turkish-treebanks'; "
            "install it with `pip install turkish-treebanks`"
        ) from err
    return sorted(Path(str(f.locate())) for f in files if str(f).endswith(".conllu"))


def read_conllu(text: str) -> list[Sentence]:
    """(word, tag) sentences of a CoNLL-U text; multiword and empty-node lines are skipped."""
    sentences: list[Sentence] = []
    current: Sentence = []
    for line in text.splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if "-" in cols[0] or "." in cols[0]:
                continue
            current.append((cols[1].lower(), FOLDED.get(cols[3], cols[3])))
    if current:
        sentences.append(current)
    return sentences


def load(
    val: int = 500, test: int = 1000, train: int | None = None, treebank: str | None = None
) -> dict[str, Any]:
    """Index the corpus, shuffled once (seed 0): test, validation, then training sentences.

    Args:
        val: Validation sentences.
        test: Test sentences.
        train: Training sentences (None: all the rest).
        treebank: A source task instead ('web' or 'wiki'): that treebank's sentences which the
            split of the other arguments leaves unused, `val` for validation then `train` for
            training, and no test set; so a study on it sees no sentence of that split.

    Raises:
        ValueError: `treebank` is not a treebank, or leaves too few unused sentences.
    """
    named = [(p.stem, s) for p in conllu_files() for s in read_conllu(p.read_text("utf-8"))]
    order = np.random.default_rng(0).permutation(len(named))
    test_s, val_s, train_s = split([named[i] for i in order], val, test, train, treebank)
    vocab = {"<pad>": 0, "<unk>": 1}
    for s in train_s:
        for w, _ in s:
            vocab.setdefault(w, len(vocab))

    def encode(part: list[Sentence]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [
            (
                torch.tensor([vocab.get(w, 1) for w, _ in s]),
                torch.tensor([TAGS.index(t) for _, t in s]),
            )
            for s in part
        ]

    return {
        "train": encode(train_s),
        "val": encode(val_s),
        "test": encode(test_s),
        "vocab": len(vocab),
        "sizes": {
            "train": len(train_s),
            "val": len(val_s),
            "test": len(test_s),
            "train_tokens": sum(len(s) for s in train_s),
            "vocab": len(vocab),
        },
    }


def split(
    named: list[tuple[str, Sentence]],
    val: int,
    test: int,
    train: int | None,
    treebank: str | None = None,
) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """Test, validation and training sentences of (treebank, sentence) pairs, as `load` says.

    Raises:
        ValueError: `treebank` is not a treebank, or leaves too few unused sentences.
    """
    sentences = [s for _, s in named]
    test_s, val_s = sentences[:test], sentences[test : test + val]
    train_s = sentences[test + val :][:train]
    if treebank is None:
        return test_s, val_s, train_s
    stems = sorted({n for n, _ in named})
    rest = [s for n, s in named[test + val + len(train_s) :] if n == treebank]
    if treebank not in stems or train is None or len(rest) < val + train:
        raise ValueError(
            f"treebank={treebank!r}: a source task needs one of {stems} with at least "
            f"val + train = {val} + {train} sentences that the split leaves unused, found "
            f"{len(rest)}; lower --train-sentences or choose the other treebank"
        )
    return [], rest[:val], rest[val : val + train]


def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    x = nn.utils.rnn.pad_sequence([b[0] for b in batch], batch_first=True, padding_value=0)
    y = nn.utils.rnn.pad_sequence([b[1] for b in batch], batch_first=True, padding_value=-100)
    return x, y


def length_batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of sentence indices, each drawn from sentences of similar length.

    A random batch pads to its longest sentence (on this corpus about three times the mean), so
    sorting each pool of 50 batches by length before cutting it cuts the LSTM's steps by as much;
    the batches are then shuffled, so the order still varies from epoch to epoch.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    pool = 50 * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [
            [int(i) for i in chunk[k : k + batch_size]] for k in range(0, len(chunk), batch_size)
        ]
    return [batches[i] for i in rng.permutation(len(batches))]


def macro_f1(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Macro F1 over every tag of `TAGS` of (predicted, true) token arrays."""
    pred = np.concatenate([p for p, _ in pairs])
    true = np.concatenate([t for _, t in pairs])
    labels = list(range(len(TAGS)))
    return float(f1_score(true, pred, labels=labels, average="macro", zero_division=0))


class BiLSTMTagger(pl.LightningModule):
    """Embedding -> dropout -> BiLSTM -> dropout -> linear, per token.

    Params: `learning_rate`; optional `optimizer` ('adam', 'sgd', 'momentum'; 'adam'),
    `batch_size` (32), `hidden` (64), `emb_ratio` (embedding size over hidden size, 1.0),
    `dropout` (0, PyTorch's default; a dropout schedule overrides it epoch by epoch) and
    `layers` (1).
    """

    def __init__(self, data: dict, params: dict[str, Any]) -> None:
        super().__init__()
        self.data = data
        self.lr = float(params["learning_rate"])
        self.optimizer_name = str(params.get("optimizer", "adam"))
        self.batch_size = int(params.get("batch_size", 32))
        hidden = int(params.get("hidden", 64))
        emb = max(8, round(hidden * float(params.get("emb_ratio", 1.0))))
        p = float(params.get("dropout", 0.0))
        layers = int(params.get("layers", 1))
        self.embed = nn.Embedding(data["vocab"], emb, padding_idx=0)
        self.drop_in = nn.Dropout(p)
        self.lstm = nn.LSTM(
            emb,
            hidden,
            num_layers=layers,
            bidirectional=True,
            batch_first=True,
            dropout=p if layers > 1 else 0.0,
        )
        self.drop_out = nn.Dropout(p)
        self.head = nn.Linear(2 * hidden, len(TAGS))
        self.val_pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.test_pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.drop_in(self.embed(x)))
        return self.head(self.drop_out(h))

    def _step(self, batch: Any) -> tuple[torch.Tensor, tuple[np.ndarray, np.ndarray]]:
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        mask = y != -100
        return loss, (logits.argmax(-1)[mask].numpy(), y[mask].numpy())

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch)[0]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, pair = self._step(batch)
        self.log("val_loss", loss)
        self.val_pairs.append(pair)

    def on_validation_epoch_end(self) -> None:
        self.log("val_f1", macro_f1(self.val_pairs))
        self.val_pairs.clear()

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.test_pairs.append(self._step(batch)[1])

    def train_dataloader(self) -> DataLoader:
        # Lightning reloads this loader every epoch (the batch-size schedule needs it); the seed
        # draws from torch's generator, so a run's seed fixes its batches.
        lengths = [len(x) for x, _ in self.data["train"]]
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        batches = length_batches(lengths, self.batch_size, seed)
        return DataLoader(self.data["train"], batch_sampler=batches, collate_fn=collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data["val"], 500, collate_fn=collate)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.data["test"], 500, collate_fn=collate)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        momentum = 0.9 if self.optimizer_name == "momentum" else 0.0
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=momentum)
