"""Real learning curves as a benchmark problem, without the training cost.

The tables in `benchmarks/data/tabular/` (built by `benchmarks.tabular_build`) hold, for every
configuration of a fixed Sobol sample of one search space, an MLP's validation loss and accuracy
after every epoch, the seconds each epoch took and the final test accuracy, on each of several
offline data sets.

API:

- `table_names() -> tuple[str, ...]`: the data sets that have a table.
- `load_table(name, rows=None) -> Table`: `Table.space` (the `SearchSpace`), `Table.configs`
  (list of dicts, row i of every array), `Table.unit` (n x d: the configurations in the
  space's unit-cube encoding), `Table.curves` (n x epochs validation loss; `Table.val_acc`
  likewise), `Table.seconds` (n x epochs), `Table.test_acc` (n,), `Table.best` (the lowest
  final loss).
- `TabularProblem(table)`: `.space`, `.nearest(config) -> row`, `.evaluate(config, epoch=None)`
  (validation loss after `epoch` epochs, default the last: the full-fidelity objective),
  `.curve(config)`, `.regret(value)`, and `.objective()`, a function of a `Trial` for
  `Study.optimize` that reports every epoch's loss as step e and raises `TrialPruned` when the
  study's pruner says so; `.epochs_spent` counts the epochs it served.

Lookup: a suggestion is mapped to the table configuration nearest to it in the space's unit-cube
encoding (log-scaled columns for log parameters, each integer's cell centre, one-hot
categoricals), among the rows whose categorical values are equal to the suggestion's (Euclidean
distance over the numeric columns). The objective is therefore piecewise constant over the
Voronoi cells of the sample: moves smaller than a cell change nothing, the best reachable value
is the table's best, and a method's fine local search earns nothing a coarse one would not. A
sampler whose model assumes smoothness meets plateaus; one that probes the box's edges gets the
nearest interior row. The bias is the same for every method compared on the tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_autotune.exceptions import TrialPruned
from lightning_autotune.space import ColumnKind, SearchSpace

if TYPE_CHECKING:
    from lightning_autotune.trial import Trial

__all__ = ["DATA", "Table", "TabularProblem", "load_table", "table_names"]

DATA = Path(__file__).parent / "data" / "tabular"


@dataclass(frozen=True, eq=False)
class Table:
    """One data set's learning curves over the table's configurations.

    Attributes:
        name: Data set name.
        space: The search space the configurations were drawn from.
        configs: The n configurations; row i of every array below.
        unit: n x d, the configurations in `space`'s unit-cube encoding.
        curves: n x epochs validation loss after each epoch (diverged runs capped).
        val_acc: n x epochs validation accuracy after each epoch.
        seconds: n x epochs training-and-validation seconds of each epoch.
        test_acc: n, test accuracy after the last epoch.
    """

    name: str
    space: SearchSpace
    configs: list[dict[str, Any]]
    unit: np.ndarray
    curves: np.ndarray
    val_acc: np.ndarray
    seconds: np.ndarray
    test_acc: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.configs)
        for attr in ("unit", "curves", "val_acc", "seconds", "test_acc"):
            if len(getattr(self, attr)) != n:
                raise ValueError(
                    f"Table {self.name!r}: {attr} has {len(getattr(self, attr))} rows, but there "
                    f"are {n} configs; every array needs one row per configuration"
                )

    @property
    def epochs(self) -> int:
        """Epochs every configuration was trained for."""
        return int(self.curves.shape[1])

    @property
    def best(self) -> float:
        """The lowest final validation loss in the table (regret is measured from it)."""
        return float(self.curves[:, -1].min())


def table_names(root: Path = DATA) -> tuple[str, ...]:
    """Names of the data sets with a table under `root`, as the manifest lists them."""
    return tuple(json.loads((root / "manifest.json").read_text())["datasets"])


def load_table(name: str, root: Path = DATA, rows: int | None = None) -> Table:
    """Load one data set's table.

    Args:
        name: Data set name (see `table_names`).
        root: Folder of the tables.
        rows: Keep only the first `rows` configurations (a prefix of the Sobol sequence; a
            power of 2 keeps its balance), default all.

    Raises:
        ValueError: `name` has no table under `root`, or `rows` is not positive.
    """
    if rows is not None and rows < 1:
        raise ValueError(f"load_table: rows={rows} must be a positive count, or None for all")
    manifest = json.loads((root / "manifest.json").read_text())
    if name not in manifest["datasets"]:
        raise ValueError(
            f"load_table: name={name!r} has no table in {root}; "
            f"choose one of {sorted(manifest['datasets'])}"
        )
    # a build stopped during a chunk may have written more rows than its manifest lists
    n = int(manifest["n_configs"]) if rows is None else min(rows, int(manifest["n_configs"]))
    with np.load(root / f"{name}.npz") as z:
        arrays = {k: z[k][:n].astype(np.float64) for k in z.files}
    return Table(
        name=name,
        space=SearchSpace.from_dict(manifest["space"]),
        configs=list(manifest["configs"][:n]),
        unit=arrays["unit"],
        curves=arrays["val_loss"],
        val_acc=arrays["val_acc"],
        seconds=arrays["seconds"],
        test_acc=arrays["test_acc"],
    )


@dataclass
class TabularProblem:
    """A table as an objective: nearest configuration lookup, curves, regret.

    Attributes:
        table: The table served.
        epochs_spent: Epochs served by `objective()` so far (a pruned trial counts the epochs
            it reported).
    """

    table: Table
    epochs_spent: int = 0
    _categorical: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._categorical = np.array(
            [c.kind is ColumnKind.ONE_HOT for c in self.table.space.columns], dtype=bool
        )

    @property
    def space(self) -> SearchSpace:
        """The table's search space (suggest from it)."""
        return self.table.space

    def nearest(self, config: Mapping[str, Any]) -> int:
        """Row of the table configuration nearest to `config` (see the module docstring)."""
        x = self.space.encode([config])[0]
        unit, cat = self.table.unit, self._categorical
        same = np.all(np.isclose(unit[:, cat], x[cat]), axis=1)
        rows = np.flatnonzero(same) if same.any() else np.arange(len(unit))
        d = np.sum((unit[rows][:, ~cat] - x[~cat]) ** 2, axis=1)
        return int(rows[int(np.argmin(d))])

    def curve(self, config: Mapping[str, Any]) -> np.ndarray:
        """Validation loss after each epoch of the nearest table configuration."""
        return self.table.curves[self.nearest(config)]

    def evaluate(self, config: Mapping[str, Any], epoch: int | None = None) -> float:
        """Validation loss after `epoch` epochs (1 to `table.epochs`; default the last).

        Raises:
            ValueError: `epoch` is outside 1 to `table.epochs`.
        """
        e = self.table.epochs if epoch is None else epoch
        if not 1 <= e <= self.table.epochs:
            raise ValueError(
                f"TabularProblem.evaluate: epoch={epoch} is outside 1..{self.table.epochs}; "
                "pass an epoch the table was trained for, or None for the last"
            )
        return float(self.curve(config)[e - 1])

    def regret(self, value: float) -> float:
        """`value` (a final validation loss) minus the table's best final validation loss."""
        return value - self.table.best

    def test_acc(self, config: Mapping[str, Any]) -> float:
        """Test accuracy of the nearest table configuration."""
        return float(self.table.test_acc[self.nearest(config)])

    def objective(self, max_epochs: int | None = None) -> Callable[[Trial], float]:
        """A `Study.optimize` objective: reports epoch e's loss at step e, prunes on request.

        Args:
            max_epochs: Serve at most this many epochs (default all); the value returned is
                the loss after the last epoch served.
        """
        last = self.table.epochs if max_epochs is None else max_epochs

        def run(trial: Trial) -> float:
            curve = self.curve(trial.params)
            for e in range(1, last + 1):
                self.epochs_spent += 1
                trial.report(e, float(curve[e - 1]))
                if e < last and trial.should_prune():
                    raise TrialPruned(f"pruned after epoch {e}")
            return float(curve[last - 1])

        return run
