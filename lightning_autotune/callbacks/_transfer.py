"""`PretrainedTransfer`: start a run from pretrained weights under per-layer transfer rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from lightning_autotune.callbacks._schedule import milestone_epoch
from lightning_autotune.transfer import (
    Method,
    RuleSet,
    TransferError,
    TransferPlan,
    apply_transfer,
    load_weights,
    parse_rules,
    plan_transfer,
)
from lightning_autotune.transfer._weights import Weights

__all__ = ["PretrainedTransfer"]

_GROUP_LRS = ("initial_lr", "max_lr", "min_lr")


@dataclass(frozen=True)
class _Stage:
    """Parameters of one `freeze` rule with `unfreeze_at`, joining the optimizer together."""

    pattern: str
    epoch: int
    lr_multiplier: float
    names: tuple[str, ...]


class PretrainedTransfer(pl.Callback):
    """Load pretrained weights by rules in `setup`, and keep the optimizer's groups to them.

    In `setup` every parameter and buffer gets the first rule whose glob pattern matches its
    name (see `lightning_autotune.transfer.parse_rules`); the whole plan is checked before
    anything is loaded, so a run either starts from the rules as written or fails with every
    reason. At fit start the optimizer of `configure_optimizers` is split into parameter groups
    per learning-rate multiplier (each group carries `lr_multiplier` and `base_group`, the index
    of the model's own group it came from); frozen parameters are left out, and BatchNorm
    layers whose tensors are all frozen are held in eval mode so their statistics stay. A
    `freeze` rule with `unfreeze_at` joins the optimizer at the start of that epoch as a new
    group with its own multiplier; LR schedulers get a matching base lr. The unfrozen rules are
    saved in checkpoints, so a resumed run rebuilds the same groups.

    Args:
        weights: A state dict, an `nn.Module`, or the path of a `torch.save` file or Lightning
            checkpoint (read with `torch.load(weights_only=True)` only).
        rules: `{pattern: rule}`; the key 'default' covers names no pattern matches (default:
            copy where the name and shape match, keep the model's own tensor otherwise).
        trial: The trial whose attribute `transfer` records the counts per method; by default the
            trial of an `AutoTuneCallback` on the same Trainer, if any.

    Raises:
        TransferError: Bad weights or rules here; at `setup`, rules that do not fit the model; at
            fit start, more than one optimizer.

    Example:
        >>> backbone = torch.nn.Linear(4, 2)
        >>> cb = PretrainedTransfer(backbone.state_dict(), {"weight": "freeze"})
    """

    def __init__(
        self,
        weights: Weights,
        rules: Mapping[str, Any] | RuleSet | None = None,
        *,
        trial: Any = None,
    ) -> None:
        self.rules = parse_rules(rules)
        self.weights = load_weights(weights)
        self.trial = trial
        self.plan: TransferPlan | None = None
        self.stages: list[_Stage] = []
        self._unfrozen: set[str] = set()
        self._hold_grad = False
        self._held_bn: list[tuple[nn.Module, tuple[str, ...]]] = []
        self._home: dict[str, int] = {}  # frozen parameter -> its group in configure_optimizers

    @property
    def state_key(self) -> str:
        return self._generate_state_key(rules=[p for p, _ in self.rules.rules])

    @property
    def unfrozen(self) -> list[str]:
        """Patterns of the `freeze` rules that have joined the optimizer."""
        return sorted(self._unfrozen)

    def summary(self) -> dict[str, Any]:
        """What this run loaded, froze and multiplied (JSON-ready), once `setup` has run."""
        if self.plan is None:
            return {}
        return {
            **self.plan.summary(),
            "unfreeze_epochs": {s.pattern: s.epoch for s in self.stages},
        }

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        plan = plan_transfer(pl_module, self.weights, self.rules)
        apply_transfer(pl_module, self.weights, plan)
        self.plan = plan
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        stages = []
        for pattern, rule in self.rules.rules:
            if rule.method is Method.FREEZE and rule.unfreeze_at is not None:
                field = f"transfer rule {pattern!r}: unfreeze_at"
                names = tuple(a.name for a in plan.assignments if a.is_parameter and a.rule is rule)
                epoch = milestone_epoch(rule.unfreeze_at, max_epochs, field)
                stages.append(_Stage(pattern, epoch, rule.lr_multiplier, names))
        self.stages = sorted(stages, key=lambda s: s.epoch)  # stable: rule order within an epoch
        # DDP registers only the parameters that need a gradient when it wraps the model; ones
        # that join later keep theirs (and stay out of the optimizer) so they are synchronized.
        self._hold_grad = trainer.world_size > 1
        by_name = {a.name: a for a in plan.assignments}
        self._held_bn = []
        for mod_name, mod in pl_module.named_modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                prefix = f"{mod_name}." if mod_name else ""
                own = [
                    by_name[prefix + n]
                    for n, _ in [
                        *mod.named_parameters(recurse=False),
                        *mod.named_buffers(recurse=False),
                    ]
                    if n != "num_batches_tracked" and prefix + n in by_name
                ]
                if own and all(a.rule.method is Method.FREEZE for a in own):
                    self._held_bn.append((mod, tuple({a.rule.pattern for a in own})))
        self._set_grad(pl_module)
        rank_zero_info(plan.describe())
        trial = self.trial if self.trial is not None else _autotune_trial(trainer)
        if trial is not None and trainer.is_global_zero:
            trial.set_user_attr("transfer", self.summary())

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if len(trainer.optimizers) != 1:
            raise TransferError(
                f"PretrainedTransfer needs exactly one optimizer to hold the transfer groups, "
                f"the model configures {len(trainer.optimizers)}; return one optimizer from "
                "configure_optimizers"
            )
        self._set_grad(pl_module)  # a resumed run knows its unfrozen rules only now
        self._regroup(trainer, pl_module)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for stage in self.stages:
            if stage.pattern not in self._unfrozen and trainer.current_epoch >= stage.epoch:
                self._unfrozen.add(stage.pattern)
                self._set_grad(pl_module)
                self._add_groups(trainer, pl_module, stage)
        # Lightning restores each module's own mode after validation, so the mode set here
        # lasts the epoch; an unfrozen layer goes back to updating its statistics.
        for module, patterns in self._held_bn:
            module.train(pl_module.training and bool(self._unfrozen.intersection(patterns)))

    def _set_grad(self, pl_module: pl.LightningModule) -> None:
        assert self.plan is not None
        params = dict(pl_module.named_parameters())
        for a in self.plan.assignments:
            if a.is_parameter and a.rule.method is Method.FREEZE:
                joins = a.rule.unfreeze_at is not None
                unfrozen = a.rule.pattern in self._unfrozen
                params[a.name].requires_grad_(unfrozen or (joins and self._hold_grad))

    def _regroup(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.plan is not None
        optimizer = trainer.optimizers[0]
        names = {id(p): n for n, p in pl_module.named_parameters()}
        rule_of = {a.name: a.rule for a in self.plan.assignments}
        groups, origin = [], []
        self._home = {}
        for j, group in enumerate(optimizer.param_groups):
            buckets: dict[float, list[torch.Tensor]] = {}
            for p in group["params"]:
                name = names.get(id(p), "")
                rule = rule_of.get(name)
                if rule is not None and rule.method is Method.FREEZE:
                    self._home[name] = j  # joins this group's settings at its stage
                    continue
                mult = 1.0 if rule is None else rule.lr_multiplier
                buckets.setdefault(mult, []).append(p)
            for mult, params in buckets.items():
                groups.append(_derive(group, params, mult, j, 1.0))
                origin.append((j, mult))
        optimizer.param_groups.clear()
        for group in groups:
            optimizer.add_param_group(group)
        for config in trainer.lr_scheduler_configs:
            for attr in ("base_lrs", "_last_lr", "min_lrs"):
                old = getattr(config.scheduler, attr, None)
                if isinstance(old, list) and old:
                    scaled = [old[j] * (m if attr != "min_lrs" else 1.0) for j, m in origin]
                    setattr(config.scheduler, attr, scaled)
        for stage in self.stages:
            if stage.pattern in self._unfrozen:
                self._add_groups(trainer, pl_module, stage)

    def _add_groups(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: _Stage
    ) -> None:
        """Add `stage`'s parameters, one group per original group they came from.

        Parameters that no group of `configure_optimizers` held (it may have skipped the ones
        without a gradient) take the first group's settings.
        """
        by_home: dict[int, list[str]] = {}
        for name in stage.names:
            by_home.setdefault(self._home.get(name, 0), []).append(name)
        for home, names in by_home.items():
            _add_group(trainer, pl_module, names, stage.lr_multiplier, home)

    def state_dict(self) -> dict[str, Any]:
        return {"unfrozen": sorted(self._unfrozen)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._unfrozen = set(state_dict["unfrozen"])


def _derive(
    template: Mapping[str, Any], params: list[torch.Tensor], mult: float, base: int, ref: float
) -> dict[str, Any]:
    """A group over `params` with `template`'s settings and its lrs rescaled from `ref` to `mult`.

    Besides `lr`, the per-group lrs that schedulers keep in the group (`initial_lr`, and
    OneCycleLR's `max_lr` / `min_lr`) are rescaled too.
    """
    group = {k: v for k, v in template.items() if k != "params"}
    for key in ("lr", *_GROUP_LRS):
        if key in template:
            group[key] = template[key] / ref * mult
    group.update(params=params, lr_multiplier=mult, base_group=base)
    return group


def _add_group(
    trainer: pl.Trainer, pl_module: pl.LightningModule, names: list[str], mult: float, home: int
) -> None:
    """Add `names` as a new group at `mult` times the current lr of original group `home`."""
    optimizer = trainer.optimizers[0]
    params = dict(pl_module.named_parameters())
    # The base lr now, read back from one of its groups: the schedulers, a batch-size lr scaling
    # or an optimizer switch may have changed it since fit start.
    index = next(
        (i for i, g in enumerate(optimizer.param_groups) if g.get("base_group") == home), 0
    )
    ref = optimizer.param_groups[index]
    ref_mult = float(ref.get("lr_multiplier", 1.0))
    optimizer.add_param_group(_derive(ref, [params[n] for n in names], mult, home, ref_mult))
    for config in trainer.lr_scheduler_configs:
        for attr in ("base_lrs", "_last_lr", "min_lrs"):
            old = getattr(config.scheduler, attr, None)
            if isinstance(old, list) and len(old) == len(optimizer.param_groups) - 1:
                old.append(old[index] * (1.0 if attr == "min_lrs" else mult / ref_mult))


def _autotune_trial(trainer: pl.Trainer) -> Any:
    from lightning_autotune.callbacks._autotune import AutoTuneCallback

    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, AutoTuneCallback):
            return callback.trial
    return None
