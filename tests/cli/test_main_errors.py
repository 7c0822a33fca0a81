"""How `lightning-autotune` ends: a message, not a traceback; Ctrl-C; closed pipes; --version."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lightning_autotune import __version__, create_study, load_study
from lightning_autotune.cli import _studies, cli_errors, main
from lightning_autotune.cli._errors import INTERRUPTED, ExitCode, present_error
from lightning_autotune.exceptions import ConfigError, StorageError
from lightning_autotune.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    study = create_study("alpha", SPACE, url, seed=0)
    for value in (0.5, 0.2):
        study.tell(study.ask(), value)
    return url


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"lightning-autotune {__version__}\n"


def test_a_config_error_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["worker", "--study", "s", "--storage", "sqlite:///x.db", "--objective", "m:f"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE == 2
    assert err == "error: worker needs --n-trials, --max-trials or --time-budget so that it ends\n"


def test_a_store_error_exits_1_and_debug_adds_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["studies", "list", "--storage", missing]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no store file at") and "Traceback" not in err
    for argv in (
        ["--debug", "studies", "list", "--storage", missing],
        ["studies", "list", "--storage", missing, "--debug"],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err
        assert "StorageError: no store file at" in err and "error: no store file at" in err


def test_an_error_from_outside_the_package_names_its_type(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(_studies, "_list", boom)
    assert main(["studies", "list", "--storage", url]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: RuntimeError: disk on fire",
        "(run again with --debug to see where it was raised)",
    ]


def test_ctrl_c_prints_how_to_resume_and_exits_130(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_studies, "_list", interrupted)
    assert main(["studies", "list", "--storage", url]) == 130
    assert capsys.readouterr().err == f"{INTERRUPTED}\n"


def test_a_reader_that_leaves_early_ends_the_command_quietly(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["studies", "show", "alpha", "--storage", url]) == ExitCode.BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_studies_show_into_a_closed_pipe_prints_no_traceback(url: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightning_autotune.cli",
            "studies",
            "show",
            "alpha",
            "--storage",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -0` does, before the command writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == ExitCode.BROKEN_PIPE
    assert err == ""


SLOW = """
import time

def objective(trial):
    trial.report(0, 1.0)
    time.sleep(120)
    return 0.0
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_on_a_worker_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_study("slow", SPACE, url, seed=0)
    (tmp_path / "slow_objective.py").write_text(SLOW)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "lightning_autotune.cli", "worker", "--study", "slow",
            "--storage", url, "--objective", "slow_objective:objective", "--n-trials", "1",
        ],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(t.last_step is not None for t in load_study("slow", url).trials):
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the trial never reported"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()
    assert err.decode().strip().splitlines()[-1] == INTERRUPTED
    (trial,) = load_study("slow", url).trials
    assert trial.state is not TrialState.RUNNING


def test_cli_errors_turns_an_error_into_system_exit_and_reports_once() -> None:
    err = io.StringIO()

    @cli_errors(err=err)
    def command() -> None:
        with cli_errors(err=err):  # an inner handler (e.g. AutoTuneCLI inside main) stays quiet
            raise ConfigError("--limit must be an integer >= 1, got 0")

    with pytest.raises(SystemExit) as stop:
        command()
    assert stop.value.code == 2
    assert err.getvalue() == "error: --limit must be an integer >= 1, got 0\n"


def test_cli_errors_can_be_switched_off_for_callers_in_python() -> None:
    with pytest.raises(StorageError, match="gone"), cli_errors(enabled=False):
        raise StorageError("gone")


def test_cli_errors_reads_the_debug_flag_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIGHTNING_AUTOTUNE_DEBUG", "1")
    err = io.StringIO()
    with pytest.raises(SystemExit), cli_errors(err=err):
        raise StorageError("gone")
    assert "Traceback (most recent call last)" in err.getvalue()
    assert err.getvalue().endswith("error: gone\n")


def test_present_error_codes() -> None:
    sink = io.StringIO()
    assert present_error(ConfigError("x"), err=sink) == 2
    assert present_error(StorageError("x"), err=sink) == 1
    assert present_error(ValueError("x"), err=sink) == 1
    assert present_error(KeyboardInterrupt(), err=sink) == 130
