"""The article's dict format, the other types, `when` conditions, to_dict/from_dict and YAML."""

from __future__ import annotations

import pytest

from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace

ARTICLE = {
    "learning_rate": {"type": "continuous", "min": 1e-5, "max": 1e-2, "scale": "log"},
    "batch_size": {"type": "discrete", "values": [32, 64, 128, 256]},
    "hidden_layers": {
        "type": "conditional",
        "parent": "model_type",
        "mapping": {"resnet": [3, 5, 7], "transformer": [6, 12]},
    },
}


def test_article_format_verbatim():
    space = SearchSpace.from_dict(ARTICLE)
    assert space["learning_rate"] == Float(1e-5, 1e-2, log=True)
    assert space["batch_size"] == Categorical([32, 64, 128, 256])
    assert space["model_type"] == Categorical(["resnet", "transformer"])
    hidden = space["hidden_layers"]
    assert isinstance(hidden, Conditional)
    assert hidden.parent == "model_type"
    assert hidden.choices_for({"model_type": "transformer"}) == (6, 12)
    # The implied parent comes before its child, and sampling respects the mapping.
    assert space.order.index("model_type") < space.order.index("hidden_layers")
    for config in space.sample(50, seed=0):
        assert set(config) == {"model_type", "learning_rate", "batch_size", "hidden_layers"}
        allowed = {"resnet": {3, 5, 7}, "transformer": {6, 12}}[config["model_type"]]
        assert config["hidden_layers"] in allowed
        assert 1e-5 <= config["learning_rate"] <= 1e-2


def test_categorical_and_integer_types():
    space = SearchSpace.from_dict(
        {
            "optimizer": {"type": "categorical", "values": ["adam", "sgd", None]},
            "epochs": {"type": "integer", "min": 1, "max": 20},
            "width": {"type": "integer", "min": 16, "max": 512, "scale": "log"},
            "units": {"type": "integer", "min": 8, "max": 64, "step": 8},
            "dropout": {"type": "continuous", "min": 0.0, "max": 0.5, "step": 0.1},
        }
    )
    assert space["optimizer"] == Categorical(["adam", "sgd", None])
    assert space["epochs"] == Int(1, 20)
    assert space["width"] == Int(16, 512, log=True)
    assert space["units"] == Int(8, 64, step=8)
    assert space["dropout"] == Float(0.0, 0.5, step=0.1)


def test_when_conditions_from_dict():
    space = SearchSpace.from_dict(
        {
            "optimizer": {"type": "categorical", "values": ["adam", "sgd", "rmsprop"]},
            "momentum": {
                "type": "continuous",
                "min": 0.5,
                "max": 0.99,
                "when": {"optimizer": ["sgd", "rmsprop"]},
            },
            "nesterov": {"type": "categorical", "values": [True, False], "when": {"momentum": 0.9}},
        }
    )
    assert space["momentum"].parents == ("optimizer",)
    assert space.active_names({"optimizer": "adam"}) == ("optimizer",)
    assert space.active_names({"optimizer": "sgd", "momentum": 0.6}) == ("optimizer", "momentum")
    assert space.active_names({"optimizer": "sgd", "momentum": 0.9}) == (
        "optimizer",
        "momentum",
        "nesterov",
    )
    # Inactive parameters are dropped by validate; active ones are kept in declaration order.
    assert space.validate({"optimizer": "adam", "momentum": 0.7}) == {"optimizer": "adam"}
    assert space.validate({"momentum": 0.7, "optimizer": "sgd"}) == {
        "optimizer": "sgd",
        "momentum": 0.7,
    }


def test_conditional_with_when_and_its_own_parent():
    space = SearchSpace(
        {
            "use_bn": Categorical([True, False]),
            "model": Categorical(["a", "b"]),
            "depth": Conditional("model", {"a": [1, 2], "b": [3]}, when={"use_bn": True}),
        }
    )
    assert space["depth"].parents == ("model", "use_bn")
    assert "depth" not in space.validate({"use_bn": False, "model": "a"})
    assert space.validate({"use_bn": True, "model": "b", "depth": 3})["depth"] == 3


def test_conditional_parent_value_without_a_mapping_leaves_it_inactive():
    space = SearchSpace(
        {"model": Categorical(["a", "b", "c"]), "depth": Conditional("model", {"a": [1, 2]})}
    )
    assert space.validate({"model": "c"}) == {"model": "c"}
    assert all("depth" not in c for c in space.sample(20, seed=1) if c["model"] != "a")


def test_shared_undeclared_parent_covers_every_childs_keys():
    space = SearchSpace.from_dict(
        {
            "a": {"type": "conditional", "parent": "m", "mapping": {"x": [1], "y": [2]}},
            "b": {"type": "conditional", "parent": "m", "mapping": {"z": [3], "x": [4]}},
        }
    )
    assert space["m"] == Categorical(["x", "y", "z"])
    assert space.validate({"m": "z", "b": 3}) == {"m": "z", "b": 3}


def test_from_dict_accepts_param_objects_and_spaces():
    space = SearchSpace.from_dict({"x": Float(0, 1), "n": {"type": "integer", "min": 1, "max": 3}})
    assert space["x"] == Float(0.0, 1.0)
    assert SearchSpace.from_dict(space) is space


def _rich_space() -> SearchSpace:
    return SearchSpace(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "dropout": Float(0.0, 0.5, step=0.05),
            "wd": Float(0.0, 1.0),
            "layers": Int(1, 8),
            "width": Int(16, 1024, log=True),
            "units": Int(8, 64, step=8),
            "flag": Categorical([True, False]),
            "act": Categorical(["relu", "gelu", None, 1, 2.5]),
            "optimizer": Categorical(["adam", "sgd"]),
            "momentum": Float(0.5, 0.99, when={"optimizer": "sgd"}),
            "nesterov": Categorical([True, False], when={"optimizer": "sgd", "flag": [True]}),
            "model": Categorical(["resnet", "vit"]),
            "depth": Conditional("model", {"resnet": [18, 34, 50], "vit": [12, 24]}),
            "heads": Int(2, 16, when={"depth": [12, 24]}),
            "n": Int(1, 3),
            "per_n": Conditional("n", {1: ["a"], 2: ["b", "c"]}),
            "b": Categorical([0, 1, True]),
            "per_b": Conditional("b", {True: [1.5], 0: [2.5, None]}),
        }
    )


def test_to_dict_from_dict_round_trip():
    space = _rich_space()
    again = SearchSpace.from_dict(space.to_dict())
    assert again == space
    assert again.names == space.names
    assert again.to_dict() == space.to_dict()
    for name in space:
        assert again[name] == space[name]
    assert hash(again) == hash(space)


def test_to_dict_format():
    d = _rich_space().to_dict()
    assert d["lr"] == {"type": "continuous", "min": 1e-5, "max": 1e-1, "scale": "log"}
    assert d["units"] == {"type": "integer", "min": 8, "max": 64, "step": 8}
    assert d["layers"] == {"type": "integer", "min": 1, "max": 8}
    assert d["momentum"]["when"] == {"optimizer": "sgd"}
    assert d["depth"] == {
        "type": "conditional",
        "parent": "model",
        "mapping": {"resnet": [18, 34, 50], "vit": [12, 24]},
    }


def test_yaml_round_trip():
    space = _rich_space()
    text = space.to_yaml()
    again = SearchSpace.from_yaml(text)
    assert again == space
    assert again.names == space.names
    # Types survive: booleans, None and numbers stay what they were.
    assert again["act"].choices == (("relu", "gelu", None, 1, 2.5))
    assert again["b"].choices == (0, 1, True)


def test_article_yaml_with_plain_exponents():
    text = """
learning_rate: {type: continuous, min: 1e-5, max: 1e-2, scale: log}
weight_decay: {type: categorical, values: [0, 1e-4, 1E-3, 5e+2]}
batch_size: {type: discrete, values: [32, 64]}
hidden_layers:
  type: conditional
  parent: model_type
  mapping: {resnet: [3, 5, 7], transformer: [6, 12]}
"""
    space = SearchSpace.from_yaml(text)
    assert space == SearchSpace.from_dict(
        ARTICLE
        | {
            "weight_decay": {"type": "categorical", "values": [0, 1e-4, 1e-3, 500.0]},
            "batch_size": {"type": "discrete", "values": [32, 64]},
        }
    )
    assert space["weight_decay"].choices == (0, 1e-4, 1e-3, 500.0)


def test_equality_and_diff():
    a = SearchSpace({"x": Float(0, 1), "y": Categorical(["a", "b"])})
    b = SearchSpace({"x": Float(0, 2), "z": Int(1, 3)})
    assert a != b
    assert a != {"x": Float(0, 1)}
    assert a.diff(a) == []
    diff = a.diff(b)
    assert "'y' only in the stored space" in diff
    assert "'z' only in the new space" in diff
    assert any(line.startswith("'x' changed: ") and "'max': 1.0" in line for line in diff)


def test_mapping_protocol_and_unknown_name():
    space = _rich_space()
    assert len(space) == len(space.names) == 18
    assert list(space) == list(space.names)
    assert "lr" in space and "nope" not in space
    with pytest.raises(KeyError, match=r"no parameter 'nope' in the search space; it has"):
        space["nope"]
    assert "Float(" in repr(space)


def test_columns_describe_the_encoding():
    space = SearchSpace(
        {
            "x": Float(0, 1),
            "g": Float(0, 1, step=0.25),
            "n": Int(1, 4),
            "w": Int(1, 100, log=True),
            "c": Categorical(["a", "b"]),
            "m": Conditional("c", {"a": [1, 2], "b": [2, 3]}),
        }
    )
    kinds = [(c.param, c.kind.value, c.n_levels, c.choice) for c in space.columns]
    assert kinds == [
        ("x", "continuous", None, None),
        ("g", "ordinal", 5, None),
        ("n", "ordinal", 4, None),
        ("w", "ordinal", 100, None),
        ("c", "one_hot", None, "a"),
        ("c", "one_hot", None, "b"),
        ("m", "one_hot", None, 1),
        ("m", "one_hot", None, 2),
        ("m", "one_hot", None, 3),
    ]
    assert space.dim == 9
