from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_autotune.transfer import (
    Method,
    TransferError,
    apply_transfer,
    parse_rules,
    plan_transfer,
    rules_from_params,
    transfer_space,
)


def _net(out: int = 2) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, out))


def _weights(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.float() + 1.0 for k, v in net.state_dict().items()}


def test_first_matching_pattern_wins_in_the_order_given():
    rules = parse_rules({"0.weight": "freeze", "0.*": "fine_tune", "*": "skip"})
    assert rules.rule_for("0.weight").method is Method.FREEZE
    assert rules.rule_for("0.bias").method is Method.FINE_TUNE
    assert rules.rule_for("2.bias").method is Method.SKIP
    rules = parse_rules({"0.*": "fine_tune", "0.weight": "freeze"})
    assert rules.rule_for("0.weight").method is Method.FINE_TUNE


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"fc*": {"method": "melt"}}, r"transfer rule 'fc\*': method must be one of .*'melt'"),
        (
            {"fc*": {"method": "fine_tune", "lr_multiplier": -0.1}},
            r"transfer rule 'fc\*': lr_multiplier must be a finite number > 0, got -0.1",
        ),
        ({"fc*": {"method": "copy", "lr_multiplier": 0.1}}, "use method 'fine_tune'"),
        ({"fc*": {"method": "fine_tune", "unfreeze_at": 2}}, "unfreeze_at applies to method"),
        ({"fc*": {"method": "freeze", "unfreeze_at": 1.5}}, r"unfreeze_at must be an epoch"),
        ({"fc*": {"method": "freeze", "unfreeze_at": 0}}, r"unfreeze_at must be an epoch"),
        ({"fc*": {"method": "copy", "lr": 2}}, r"unknown keys \['lr'\]"),
        ({"fc*": {"lr_multiplier": 2}}, "needs a 'method'"),
        ({"fc*": 3}, "must be a method name or a mapping"),
    ],
)
def test_bad_rules_are_refused_with_the_rule_named(rules, message):
    with pytest.raises(TransferError, match=message):
        parse_rules(rules)


def test_pattern_that_matches_nothing_and_shape_mismatch_are_all_reported():
    net, source = _net(out=2), _net(out=5)
    with pytest.raises(TransferError, match=r"3 problem\(s\); nothing was loaded") as err:
        plan_transfer(net, source.state_dict(), parse_rules({"head.*": "copy", "2.*": "copy"}))
    text = str(err.value)
    assert "pattern 'head.*' matches no parameter or buffer of Sequential" in text
    assert "'2.weight' (rule '2.*', copy): model shape (2, 4), weights shape (5, 4)" in text


def test_shape_mismatch_is_accepted_under_reinit_and_skip_and_default_keeps_it():
    net, source = _net(out=2), _net(out=5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for method in ("reinit", "skip"):
        plan = plan_transfer(net, source.state_dict(), parse_rules({"2.*": method}))
        assert plan.counts()[method] == 2
    plan = plan_transfer(net, source.state_dict(), parse_rules({}))
    assert plan.counts() == {"copy": 7, "kept": 2}
    apply_transfer(net, source.state_dict(), plan)
    assert torch.equal(net.state_dict()["2.weight"], before["2.weight"])
    assert torch.equal(net.state_dict()["0.weight"], source.state_dict()["0.weight"])


def test_strict_default_and_missing_key_name_the_fix():
    net = _net()
    weights = {k: v for k, v in _weights(net).items() if not k.startswith("2.")}
    with pytest.raises(TransferError, match=r"'2.weight' \(rule 'default', copy\) is not in"):
        plan_transfer(net, weights, parse_rules({"default": "copy"}))


def test_nothing_is_applied_when_the_plan_fails():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    weights = _weights(net)
    weights["2.weight"] = torch.zeros(7, 4)
    with pytest.raises(TransferError):
        plan_transfer(net, weights, parse_rules({"*": "copy"}))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_apply_loads_reinits_and_skips():
    torch.manual_seed(0)
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    weights = _weights(net)
    plan = plan_transfer(
        net, weights, parse_rules({"0.weight": "skip", "2.*": "reinit", "1.*": "freeze"})
    )
    apply_transfer(net, weights, plan)
    state = net.state_dict()
    assert torch.equal(state["0.weight"], before["0.weight"])  # skip
    assert torch.equal(state["0.bias"], weights["0.bias"])  # default copy
    assert torch.equal(state["1.running_mean"], weights["1.running_mean"])  # frozen buffer
    assert not torch.equal(state["2.weight"], before["2.weight"])  # reinitialized
    assert not torch.equal(state["2.weight"], weights["2.weight"])
    assert plan.counts() == {"skip": 1, "copy": 1, "freeze": 5, "reinit": 2}
    assert "transfer: copy 1, freeze 5, reinit 2, skip 1" in plan.describe()


def test_reinit_needs_reset_parameters():
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(2))

    net = nn.Sequential(Scale())
    with pytest.raises(TransferError, match="Scale lacks; use 'skip'"):
        plan_transfer(net, {"0.w": torch.ones(2)}, parse_rules({"0.*": "reinit"}))


def test_search_params_override_rules_and_space_names_them():
    rules = {"0.*": "freeze", "2.*": "copy"}
    space = transfer_space(rules)
    assert sorted(space) == [
        "transfer_lr_multiplier_0",
        "transfer_unfreeze_at_0",
    ]
    rs = rules_from_params(
        rules,
        {"transfer_unfreeze_at_0": 0.5, "transfer_lr_multiplier_1": 0.2, "lr": 1.0},
    )
    assert rs.rules[0][1].unfreeze_at == 0.5
    assert rs.rules[1][1].method is Method.FINE_TUNE and rs.rules[1][1].lr_multiplier == 0.2
    assert rules_from_params(rules, {"transfer_unfreeze_at_0": 1.0}).rules[0][1].unfreeze_at is None
    with pytest.raises(TransferError, match="names rule 2, but there are 2 rule"):
        rules_from_params(rules, {"transfer_lr_multiplier_2": 0.1})
    with pytest.raises(TransferError, match="lr_multiplier must be a finite number > 0"):
        rules_from_params(rules, {"transfer_lr_multiplier_1": 0.0})


def test_rules_written_for_the_wrapped_network_match_through_the_prefix():
    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = nn.Sequential()
            self.model.add_module("conv1", nn.Conv2d(1, 2, 3))
            self.model.add_module("fc", nn.Linear(2, 3))

    inner = Wrapper().model
    weights = {k: v + 1.0 for k, v in inner.state_dict().items()}  # saved without 'model.'
    net = Wrapper()
    rules = parse_rules(
        {"conv*.weight": "copy", "fc*": {"method": "fine_tune", "lr_multiplier": 0.1}}
    )
    plan = plan_transfer(net, weights, rules)
    assert plan.key_match.describe() == "added 'model.' to the weights' names"
    assert plan.counts() == {"copy": 2, "fine_tune": 2}  # conv1.bias by the default rule
    assert plan.multipliers() == {"model.fc.weight": 0.1, "model.fc.bias": 0.1}
    apply_transfer(net, weights, plan)
    assert torch.equal(net.model.fc.weight, weights["fc.weight"])


def test_pretrained_gives_each_trial_its_rules_and_pickles():
    import pickle

    from lightning_autotune.callbacks import PretrainedTransfer
    from lightning_autotune.transfer import Pretrained

    spec = Pretrained.of(_net(), {"0.*": "freeze", "2.*": "fine_tune"})
    rules = pickle.loads(pickle.dumps(spec)).rules_for(
        {"transfer_unfreeze_at_0": 0.25, "transfer_lr_multiplier_1": 0.3}
    )
    assert rules.rules[0][1].unfreeze_at == 0.25
    assert rules.rules[1][1].lr_multiplier == 0.3
    assert isinstance(PretrainedTransfer(spec.weights, rules), PretrainedTransfer)
    assert spec.describe() == "9 tensors, rules for 0.*, 2.*"
    with pytest.raises(TransferError, match="method must be one of"):
        Pretrained.of(_net(), {"0.*": "thaw"})


def test_transfer_param_names_are_recognized_exactly():
    from lightning_autotune.transfer import is_transfer_param

    assert is_transfer_param("transfer_lr_multiplier_0")
    assert is_transfer_param("transfer_unfreeze_at_12")
    assert not is_transfer_param("transfer_lr_mult")
    assert not is_transfer_param("transfer_unfreeze_at_x")
