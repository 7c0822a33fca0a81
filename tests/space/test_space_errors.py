"""Malformed search spaces raise SearchSpaceError naming the parameter, rule, value and fix."""

from __future__ import annotations

import pytest

from lightning_autotune.exceptions import AutotuneError, SearchSpaceError
from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace


def test_search_space_error_is_a_value_error():
    assert issubclass(SearchSpaceError, ValueError)
    assert issubclass(SearchSpaceError, AutotuneError)


@pytest.mark.parametrize(
    ("param", "match"),
    [
        (Float(1.0, 1.0), r"parameter 'p': low must be < high \(got low=1.0, high=1.0\); swap"),
        (Float(2.0, 1.0), r"parameter 'p': low must be < high \(got low=2.0, high=1.0\)"),
        (Int(5, 3), r"parameter 'p': low must be < high \(got low=5, high=3\); swap"),
        (Float(0.0, 1.0, log=True), r"'p': a log scale needs low > 0 \(got low=0.0\); raise low"),
        (Float(-1.0, 1.0, log=True), r"'p': a log scale needs low > 0 \(got low=-1.0\)"),
        (Int(0, 8, log=True), r"'p': a log scale needs low > 0 \(got low=0\); .*log=False"),
        (Float(0.0, float("inf")), r"'p': low and high must be finite .*high=inf.*finite bounds"),
        (Int(1.5, 3), r"'p': an Int needs integer low \(got low=1.5\); use integers, or Float"),
        (Int(1, 3.0), r"'p': an Int needs integer high \(got high=3.0\); use integers"),
        (Int(1, 9, step=0.5), r"'p': an Int needs integer step \(got step=0.5\)"),
        (
            Float(0.0, 1.0, step=2.0),
            r"'p': step must not exceed high - low \(got step=2.0 for the range \[0.0, 1.0\] "
            r"of width 1.0\); use a smaller step or a wider range",
        ),
        (Int(0, 3, step=4), r"'p': step must not exceed high - low \(got step=4 "),
        (Float(0.0, 1.0, step=0.0), r"'p': step must be a finite number > 0, got 0.0; give a"),
        (Float(0.0, 1.0, step=-0.1), r"'p': step must be a finite number > 0, got -0.1"),
        (Float(0.0, 1.0, step="0.1"), r"'p': step must be a finite number > 0, got '0.1'"),  # type: ignore[arg-type]
        (
            Float(1e-3, 1.0, log=True, step=0.1),
            r"'p': step and log=True cannot be combined \(got step=0.1, log=True\); drop step",
        ),
        (
            Int(1, 64, log=True, step=2),
            r"'p': an Int with log=True needs step=1 \(got step=2\); drop step",
        ),
        (Categorical([]), r"'p': choices is empty \(got \[\]\); list at least one choice"),
        (
            Categorical(["a", ["b"]]),  # type: ignore[list-item]
            r"'p': choice \['b'\] is a list; choices must be str, int, float, bool or None .*"
            r"name the choice with a string",
        ),
        (Categorical([object()]), r"'p': choice <object .*> is a object; choices must be"),  # type: ignore[list-item]
        (Categorical([1.0, float("nan")]), r"'p': choice nan is not a finite number.*remove it"),
        (
            Categorical(["a", "b", "a"]),
            r"'p': choices \['a', 'b', 'a'\] repeats 'a' .*; remove the duplicate",
        ),
        (Categorical([1, 1.0]), r"'p': choices \[1, 1.0\] repeats 1.0"),
        (Conditional("q", {}), r"'p': the mapping is empty; map each parent value"),
        (
            Conditional("q", {"a": []}),
            r"'p': the list for parent value 'a' is empty \(got \[\]\); list at least one choice",
        ),
        (
            Conditional("q", {"a": "xyz"}),
            r"'p': the choices for parent value 'a' must be a list \(got 'xyz'\); write a list",
        ),
        (
            Conditional("q", {"a": [1, 1]}),
            r"'p': the list for parent value 'a' \[1, 1\] repeats 1",
        ),
    ],
)
def test_malformed_parameter(param, match):
    params = {"p": param}
    if isinstance(param, Conditional):
        params = {"q": Categorical(["a"]), "p": param}
    with pytest.raises(SearchSpaceError, match=match):
        SearchSpace(params)


def test_bool_choices_are_not_duplicates_of_ints():
    space = SearchSpace({"p": Categorical([True, 1, 0, False])})
    assert space["p"].choices == (True, 1, 0, False)


def test_float_bound_of_wrong_type_fails_at_construction():
    with pytest.raises(SearchSpaceError, match=r"Float low must be a number, got '1e-5' \(str\)"):
        Float("1e-5", 1.0)  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError, match=r"Float high must be a number, got True"):
        Float(0.0, True)


def test_categorical_choices_must_be_a_list():
    with pytest.raises(SearchSpaceError, match=r"choices must be a list, got 'abc'.*\['a', 'b'\]"):
        Categorical("abc")  # type: ignore[arg-type]


def test_conditional_mapping_must_be_a_mapping():
    with pytest.raises(SearchSpaceError, match=r"mapping must map parent values .* got \[1, 2\]"):
        Conditional("q", [1, 2])  # type: ignore[arg-type]


def test_when_must_be_a_mapping_with_values():
    with pytest.raises(SearchSpaceError, match=r"`when` must map a parent name .* got 'sgd'"):
        Float(0.0, 1.0, when="sgd")
    with pytest.raises(SearchSpaceError, match=r"`when` for parent 'opt' lists no values"):
        Float(0.0, 1.0, when={"opt": []})


def test_missing_parent():
    with pytest.raises(
        SearchSpaceError,
        match=r"parameter 'momentum': its condition names parent 'optimiser', which is not in "
        r"the space \(parameters: \['optimizer', 'momentum'\]\); declare 'optimiser' or fix",
    ):
        SearchSpace(
            {
                "optimizer": Categorical(["adam", "sgd"]),
                "momentum": Float(0.0, 1.0, when={"optimiser": "sgd"}),
            }
        )


def test_missing_conditional_parent_in_constructor():
    with pytest.raises(SearchSpaceError, match=r"'layers': its condition names parent 'model'"):
        SearchSpace({"layers": Conditional("model", {"a": [1]})})


def test_self_cycle():
    with pytest.raises(SearchSpaceError, match=r"'a': conditions form a cycle \(a -> a, "):
        SearchSpace({"a": Categorical([1, 2], when={"a": 1})})


def test_two_cycle():
    with pytest.raises(
        SearchSpaceError,
        match=r"conditions form a cycle \(a -> b -> a, each depending on the next\); a parameter",
    ):
        SearchSpace(
            {"a": Categorical([1, 2], when={"b": 1}), "b": Categorical([1, 2], when={"a": 1})}
        )


def test_long_cycle_is_named_in_full():
    with pytest.raises(
        SearchSpaceError, match=r"cycle \(b -> d -> c -> b, each depending on the next\); .*remove"
    ):
        SearchSpace(
            {
                "a": Categorical(["x"]),
                "b": Categorical([1, 2], when={"d": 1, "a": "x"}),
                "c": Categorical([1, 2], when={"b": 1}),
                "d": Conditional("c", {1: [1, 2]}),
            }
        )


def test_condition_value_the_parent_never_takes():
    with pytest.raises(
        SearchSpaceError,
        match=r"parameter 'momentum': its condition expects 'optimizer' = 'SGD', which "
        r"'optimizer' can never take; use one of \['adam', 'sgd'\]",
    ):
        SearchSpace(
            {
                "optimizer": Categorical(["adam", "sgd"]),
                "momentum": Float(0.0, 1.0, when={"optimizer": ["sgd", "SGD"]}),
            }
        )


def test_condition_on_a_bool_parent_does_not_accept_an_int():
    with pytest.raises(SearchSpaceError, match=r"expects 'flag' = 1, which 'flag' can never"):
        SearchSpace({"flag": Categorical([True, False]), "x": Float(0, 1, when={"flag": 1})})


def test_condition_on_numeric_parent_outside_range():
    with pytest.raises(SearchSpaceError, match=r"expects 'n' = 9, .* use a value of \{'type'"):
        SearchSpace({"n": Int(1, 4), "x": Float(0, 1, when={"n": 9})})


def test_conditional_mapping_key_the_parent_never_takes():
    with pytest.raises(SearchSpaceError, match=r"'depth': its condition expects 'model' = 'vit'"):
        SearchSpace(
            {
                "model": Categorical(["resnet", "mlp"]),
                "depth": Conditional("model", {"resnet": [18, 34], "vit": [12]}),
            }
        )


def test_condition_on_a_conditional_parent_value_it_never_offers():
    with pytest.raises(SearchSpaceError, match=r"expects 'depth' = 50, .*use one of \[18, 34\]"):
        SearchSpace(
            {
                "model": Categorical(["resnet"]),
                "depth": Conditional("model", {"resnet": [18, 34]}),
                "x": Float(0, 1, when={"depth": 50}),
            }
        )


def test_space_itself_must_be_a_nonempty_mapping_of_params():
    with pytest.raises(SearchSpaceError, match=r"mapping of names to parameters, got list"):
        SearchSpace([Float(0, 1)])  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError, match=r"the search space is empty; add at least one"):
        SearchSpace({})
    with pytest.raises(SearchSpaceError, match=r"parameter 'x': \(0, 1\) is not a parameter"):
        SearchSpace({"x": (0, 1)})  # type: ignore[dict-item]
    with pytest.raises(SearchSpaceError, match=r"parameter names must be non-empty strings"):
        SearchSpace({"": Float(0, 1)})


# from_dict entries
@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (
            {"type": "uniform", "min": 0, "max": 1},
            r"parameter 'p': unknown type 'uniform'; use one of \['continuous', 'integer', "
            r"'discrete', 'categorical', 'conditional'\]",
        ),
        ({"min": 0, "max": 1}, r"parameter 'p': unknown type None; use one of"),
        (
            {"type": "continuous", "min": 0, "max": 1, "sacle": "log"},
            r"parameter 'p': unknown key\(s\) \['sacle'\] for type 'continuous'; allowed: "
            r"\['max', 'min', 'scale', 'step', 'type', 'when'\]",
        ),
        (
            {"type": "categorical", "choices": [1, 2]},
            r"'p': unknown key\(s\) \['choices'\] for type 'categorical'; allowed: .*'values'",
        ),
        (
            {"type": "continuous", "min": 0},
            r"'p': type 'continuous' needs 'min' and 'max' \(missing \['max'\]\)",
        ),
        (
            {"type": "integer", "min": 1, "max": 9, "scale": "log2"},
            r"'p': scale must be 'linear' or 'log', got 'log2'",
        ),
        ({"type": "discrete"}, r"'p': type 'discrete' needs 'values'"),
        ({"type": "conditional", "parent": "m"}, r"'p': type 'conditional' needs 'parent' and"),
        ([0, 1], r"parameter 'p': spec must be a dict with a 'type', got \[0, 1\]"),
        (
            {"type": "continuous", "min": "a", "max": 1},
            r"parameter 'p': Float low must be a number, got 'a'",
        ),
        ({"type": "continuous", "min": 1, "max": 0}, r"parameter 'p': low must be < high"),
        (
            {"type": "integer", "min": 1.5, "max": 3},
            r"parameter 'p': an Int needs integer low \(got low=1.5\)",
        ),
        ({"type": "categorical", "values": []}, r"parameter 'p': choices is empty"),
        (
            {"type": "categorical", "values": [{"a": 1}]},
            r"'p': choice \{'a': 1\} is a dict; choices must be str, int, float, bool or None",
        ),
        (
            {"type": "categorical", "values": [1], "when": "x"},
            r"parameter 'p': `when` must map a parent name",
        ),
    ],
)
def test_malformed_dict_entry(entry, match):
    with pytest.raises(SearchSpaceError, match=match):
        SearchSpace.from_dict({"p": entry})


def test_from_dict_needs_a_mapping():
    with pytest.raises(SearchSpaceError, match=r"maps names to parameter specs, got list"):
        SearchSpace.from_dict([1, 2])  # type: ignore[arg-type]


def test_from_dict_when_names_missing_parent():
    with pytest.raises(SearchSpaceError, match=r"'m': its condition names parent 'opt'"):
        SearchSpace.from_dict(
            {"m": {"type": "continuous", "min": 0, "max": 1, "when": {"opt": "sgd"}}}
        )


# Configurations
def _space() -> SearchSpace:
    return SearchSpace(
        {
            "optimizer": Categorical(["adam", "sgd"]),
            "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
            "model": Categorical(["resnet", "mlp"]),
            "depth": Conditional("model", {"resnet": [18, 34], "mlp": [2, 3]}),
        }
    )


def test_validate_unknown_name():
    with pytest.raises(
        SearchSpaceError,
        match=r"unknown parameter\(s\) \['lr'\]; the space has \['optimizer', .*fix the names",
    ):
        _space().validate({"optimizer": "adam", "model": "mlp", "depth": 2, "lr": 0.1})


def test_validate_missing_active_parameter():
    with pytest.raises(
        SearchSpaceError, match=r"'momentum' is active in this configuration but missing"
    ):
        _space().validate({"optimizer": "sgd", "model": "mlp", "depth": 2})


def test_validate_value_out_of_domain():
    with pytest.raises(
        SearchSpaceError,
        match=r"'momentum': value 1.5 is not allowed; use a value of \{'type': 'continuous'",
    ):
        _space().validate({"optimizer": "sgd", "momentum": 1.5, "model": "mlp", "depth": 2})
    with pytest.raises(SearchSpaceError, match=r"'optimizer': value 'rmsprop' is not allowed; use"):
        _space().validate({"optimizer": "rmsprop", "model": "mlp", "depth": 2})


def test_validate_conditional_names_the_choices_for_its_parent():
    with pytest.raises(
        SearchSpaceError,
        match=r"'depth': value 18 is not allowed; use one of \[2, 3\] \(the choices for "
        r"'model' = 'mlp'\)",
    ):
        _space().validate({"optimizer": "adam", "model": "mlp", "depth": 18})


def test_validate_refuses_bool_for_int_and_int_for_bool():
    space = SearchSpace({"n": Int(0, 3), "flag": Categorical([True, False])})
    with pytest.raises(SearchSpaceError, match=r"'n': value True is not allowed"):
        space.validate({"n": True, "flag": True})
    with pytest.raises(SearchSpaceError, match=r"'flag': value 1 is not allowed"):
        space.validate({"n": 1, "flag": 1})


def test_validate_needs_a_mapping():
    with pytest.raises(SearchSpaceError, match=r"a configuration is a dict .* got list"):
        _space().validate([1])  # type: ignore[arg-type]


def test_sample_count_must_be_non_negative_int():
    with pytest.raises(SearchSpaceError, match=r"n must be an integer >= 0, got -1"):
        _space().sample(-1)
    with pytest.raises(SearchSpaceError, match=r"n must be an integer >= 0, got 2.5"):
        _space().sample_sobol(2.5)  # type: ignore[arg-type]
    assert _space().sample(0) == []


def test_when_given_as_a_plain_tuple():
    with pytest.raises(
        SearchSpaceError, match=r"`when` must map a parent name .* got \('opt', 'sgd'\)"
    ):
        Float(0.0, 1.0, when=("opt", "sgd"))


def test_encode_refuses_invalid_configs():
    space = SearchSpace({"x": Float(0, 1), "c": Categorical(["a"])})
    with pytest.raises(SearchSpaceError, match=r"'x': value 2.0 is not allowed"):
        space.encode([{"x": 2.0, "c": "a"}])  # would leave the unit cube
    with pytest.raises(
        SearchSpaceError, match=r"'c': value 'b' is not allowed; use one of \['a'\]"
    ):
        space.encode([{"x": 0.5, "c": "b"}])
    with pytest.raises(SearchSpaceError, match=r"'x' is active in this configuration but missing"):
        space.encode([{"c": "a"}])
