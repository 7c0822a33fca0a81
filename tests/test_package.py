"""The package imports cheaply and every public name exists and is documented."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import pytest

import lightning_autotune

HEAVY = ("torch", "lightning", "botorch", "gpytorch")


def test_import_is_cheap():
    code = (
        "import json, sys; import lightning_autotune; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_core_subpackages_do_not_import_heavy_modules():
    code = (
        "import json, sys\n"
        "import lightning_autotune.space, lightning_autotune.trial, lightning_autotune.storage\n"
        "import lightning_autotune.study, lightning_autotune.samplers, lightning_autotune.pruners\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_top_level_names_resolve():
    for name in lightning_autotune.__all__:
        assert getattr(lightning_autotune, name) is not None, name
    assert lightning_autotune.__version__
    assert set(lightning_autotune.__all__) <= set(dir(lightning_autotune))
    with pytest.raises(AttributeError, match=r"has no attribute 'Nope'"):
        _ = lightning_autotune.Nope  # type: ignore[attr-defined]


PUBLIC_MODULES = ["lightning_autotune.exceptions"] + [
    f"lightning_autotune.{m.name}"
    for m in pkgutil.iter_modules(lightning_autotune.__path__)
    if m.ispkg
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_exist_and_are_documented(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no docstring"
    assert module.__all__, f"{module_name} exports nothing"
    for name in module.__all__:
        obj = getattr(module, name)  # raises if a listed name is missing
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants and type aliases
        own_doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        assert own_doc, f"{module_name}.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") or not (callable(value) or isinstance(value, property)):
                    continue
                doc = inspect.getdoc(value if isinstance(value, property) else getattr(obj, attr))
                assert doc, f"{module_name}.{name}.{attr} has no docstring"


def test_errors_form_one_family():
    from lightning_autotune import exceptions

    for name in exceptions.__all__:
        if name == "StudyInterrupted":  # a Ctrl-C: never caught by `except Exception`
            assert not issubclass(exceptions.StudyInterrupted, Exception)
            assert issubclass(exceptions.StudyInterrupted, KeyboardInterrupt)
            continue
        assert issubclass(getattr(exceptions, name), exceptions.AutotuneError)
    assert issubclass(exceptions.SearchSpaceError, ValueError)
    assert issubclass(exceptions.ConfigError, ValueError)
    assert str(exceptions.MetricNotFoundError("no 'val_loss'; logged: []")) == (
        "no 'val_loss'; logged: []"
    )


def test_trial_pruned_keeps_its_kind_through_pickling():
    import pickle

    from lightning_autotune.exceptions import TrialPruned
    from lightning_autotune.trial import FailureKind

    err = pickle.loads(pickle.dumps(TrialPruned("time budget", kind=FailureKind.TIME_BUDGET)))
    assert (str(err), err.kind) == ("time budget", FailureKind.TIME_BUDGET)
    assert TrialPruned().kind is None
