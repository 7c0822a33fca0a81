"""A fork server for trial processes: import torch and Lightning once, fork one process per trial.

Starting a fresh interpreter costs seconds of CPU (importing torch and Lightning), which on a
small machine eats most of what a second worker gains. The server is a fresh interpreter that
imports those libraries, runs nothing else (no threads, no CUDA, no database), and forks one
child per trial. Each trial still has a process of its own, whose memory goes back to the
system when it exits, and its environment (CUDA_VISIBLE_DEVICES, thread counts) is set in the
child before anything reads it.

Protocol: the coordinator writes length-prefixed pickles `(env, payload)` to the server's stdin;
the server answers lines `started PID` and `exit PID CODE` on its stdout.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["KEPT", "ForkServer", "ForkServerDied", "ForkedTrial", "KeptServers", "serve"]

_HEADER = struct.Struct("!Q")
# The server leaves through os._exit: a normal interpreter exit would spend about a second
# tearing down torch and Lightning, which the coordinator waits for at the end of every study.
# Ctrl-C is for the coordinator and the trials: ignored from the first line, so a server still
# importing (seconds) does not die with a traceback.
_ENTRY = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "import os, sys; from lightning_autotune.study._forkserver import serve; code = serve(); "
    "sys.stdout.flush(); sys.stderr.flush(); os._exit(code)"
)


class ForkedTrial:
    """A trial process forked by the server: Popen's `poll`, `kill` and `send_signal`.

    The server reaps its children and reports their exit; once it has died, `orphaned` is true
    for a trial it never reported, and a signal reaches that process only while its pid still
    names the process the server forked (its start time is checked), never a stranger that
    reused the pid.
    """

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self._born = _start_time(pid)

    def poll(self) -> int | None:
        return self.server.exit_codes.get(self.pid)

    def orphaned(self) -> bool:
        """Whether the server died while this process ran, so its exit is never reported."""
        return self.server.ended.is_set() and self.poll() is None

    def send_signal(self, signum: int) -> None:
        if self.poll() is None and (self._born is None or _start_time(self.pid) == self._born):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 10.0) -> int:
        end = time.monotonic() + timeout
        while (code := self.poll()) is None and time.monotonic() < end:
            if self.orphaned():
                break
            time.sleep(0.02)
        return -signal.SIGKILL if code is None else code


class ForkServerDied(RuntimeError):
    """The fork server ended before it could start a trial process."""


class ForkServer:
    """The coordinator's side of one fork server process.

    Args:
        env: Environment of the server (and so of its children, before their own settings).
        preload: Modules the server imports once (e.g. 'torch', 'lightning.pytorch').

    Attributes:
        ended: Set once the server's output ended (it died or exited) and every exit it
            reported was read: a child not in `exit_codes` then was orphaned.
    """

    def __init__(self, env: dict[str, str], preload: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, ",".join(preload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.exit_codes: dict[int, int] = {}
        self.ended = threading.Event()
        self.news = threading.Event()  # set whenever a trial process exits (or the server ends)
        self._forked: set[int] = set()
        self._started: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="autotune-forkserver", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            words = raw.decode().split()
            if words[:1] == ["started"]:
                self._started.put(int(words[1]))
            elif words[:1] == ["exit"]:
                self.exit_codes[int(words[1])] = int(words[2])
                self.news.set()
        self.ended.set()
        self.news.set()
        self._started.put(-1)  # the server ended

    def fork(
        self,
        env: dict[str, str],
        payload: bytes,
        waiting: Callable[[], None] | None = None,
        every: float = 5.0,
    ) -> ForkedTrial:
        """Start one trial process with `env` added to its environment.

        Args:
            env: Added to the trial process's environment.
            payload: The pickled task.
            waiting: Called every `every` seconds while the server is still importing (a new
                server takes seconds), e.g. to heartbeat the trials that wait for it.
            every: Seconds between calls of `waiting`.

        Raises:
            ForkServerDied: The server is gone (the caller starts a new one).
        """
        message = pickle.dumps((env, payload))
        with self._lock:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(_HEADER.pack(len(message)) + message)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as err:  # ValueError: the pipe was closed
                raise ForkServerDied(f"fork server died: {self.death_note()}") from err
            end = time.monotonic() + 600
            while True:
                try:
                    pid = self._started.get(timeout=every)
                    break
                except queue.Empty:
                    if time.monotonic() > end:
                        raise ForkServerDied(
                            f"fork server {self.proc.pid} started no trial in 600 s"
                        ) from None
                    if waiting is not None:
                        waiting()
        if pid < 0:
            raise ForkServerDied(f"fork server died: {self.death_note()}; see its stderr")
        self._forked.add(pid)
        return ForkedTrial(self, pid)

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.ended.is_set()

    def idle(self) -> bool:
        """Whether the server runs and every trial process it forked has exited."""
        return self.alive() and self._forked <= self.exit_codes.keys()

    def death_note(self) -> str:
        """How the server process ended: 'process 123 ended by signal SIGKILL'."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return f"process {self.proc.pid} closed its output"
        if code < 0:
            try:
                how = f"signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit code {code}"
        return f"process {self.proc.pid} ended by {how}"

    def close(self) -> None:
        """Stop the server (running trials notice that their parent is gone)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class KeptServers:
    """The idle fork server kept for the next study of this process (at most one).

    A server is taken back only by an executor whose server would be started identically (the
    same interpreter, folder, environment and preloaded modules), so a trial cannot tell a kept
    server from a new one; the next study then skips the seconds of importing torch. Only the
    latest is kept: an idle server holds the memory of torch and Lightning, and studies with
    ever new environments must not pile them up. Kept servers are closed when this process
    exits (and a server exits by itself when its coordinator is gone: its stdin closes).
    """

    def __init__(self) -> None:
        self._servers: dict[Hashable, ForkServer] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> ForkServer | None:
        """The kept server for `key`, if it is still alive (it is no longer kept)."""
        with self._lock:
            server = self._servers.pop(key, None)
        if server is not None and not server.idle():
            server.close()
            return None
        return server

    def keep(self, key: Hashable, server: ForkServer) -> None:
        """Keep an idle `server` for `key`, closing the one kept before; close a busy one."""
        if not server.idle():
            server.close()
            return
        with self._lock:
            older, self._servers = list(self._servers.values()), {key: server}
        for old in older:
            if old is not server:
                old.close()

    def close_all(self) -> None:
        """Close every kept server."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()

    def __len__(self) -> int:
        return len(self._servers)


KEPT = KeptServers()
"""This process's kept fork servers (see `ProcessExecutor(keep_server=...)`)."""
atexit.register(KEPT.close_all)


def _start_time(pid: int) -> int | None:
    """The start time of process `pid` (Linux: /proc/PID/stat field 22), None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])


def serve() -> int:
    """The server's main loop (runs in its own interpreter)."""
    for name in filter(None, (sys.argv[1] if len(sys.argv) > 1 else "").split(",")):
        importlib.import_module(name)
    stdin, out = sys.stdin.buffer, sys.stdout
    children: set[int] = set()
    # A child's exit wakes the loop at once (SIGCHLD writes to this pipe), so the coordinator
    # hears of it without a polling delay; the timeout is only a safety net.
    wake, wake_w = os.pipe()
    os.set_blocking(wake, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        _reap(children, out)
        ready, _, _ = select.select([stdin, wake], [], [], 1.0)
        if wake in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake, 4096)
        if stdin not in ready:
            continue
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return 0  # the coordinator closed the pipe (or died)
        env, payload = pickle.loads(stdin.read(_HEADER.unpack(header)[0]))
        pid = os.fork()
        if pid == 0:
            # The trial gets the default SIGCHLD and none of the server's descriptors.
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(wake)
            os.close(wake_w)
            os._exit(_child(env, payload))
        children.add(pid)
        out.write(f"started {pid}\n")
        out.flush()


def _reap(children: set[int], out: Any) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            out.write(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n")
            out.flush()


def _child(env: dict[str, str], payload: bytes) -> int:
    import dataclasses
    import logging

    from lightning_autotune.study import _signals as signals
    from lightning_autotune.study._child import ChildExit, run_task

    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # the protocol pipe is the server's; the trial prints to stderr
        os.environ.update(env)
        signals.install(signal.SIGINT, signal.SIGTERM)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        task = pickle.loads(payload)
        # Watch the server: it exits when the coordinator does, and when it dies alone the
        # coordinator is still there to tell the two apart.
        task = dataclasses.replace(task, parent_pid=os.getppid(), coordinator_pid=task.parent_pid)
        return run_task(task)
    except KeyboardInterrupt:
        # Ctrl-C reaches every process of the terminal's group: the coordinator records the
        # trial as interrupted, so this process leaves without a traceback.
        return ChildExit.INTERRUPTED
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
