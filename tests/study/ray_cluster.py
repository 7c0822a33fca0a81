"""A real two-node Ray cluster on this machine, for the multi-node fault tests.

Each node is its own `ray start --block` process (a head, then a node that joins it by address),
with one CPU and a custom resource naming it (`node_a`, `node_b`), its own temporary folder and
ports nobody else on the machine holds, so the tests cannot collide with other Ray users.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RAY_CLI = Path(sys.executable).with_name("ray")
_START_TIMEOUT_S = 90.0
_NODE_PORTS = 6  # node manager, object manager, agent (listen, grpc), runtime env, metrics


def _free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports that are free right now (the kernel picks them)."""
    held, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held.append(s)
        ports.append(s.getsockname()[1])
    for s in held:
        s.close()
    return ports


def _free_range(width: int) -> tuple[int, int]:
    """A run of `width` consecutive free ports (for a node's worker processes)."""
    for _ in range(200):
        start = _free_ports(1)[0]
        if start + width > 65000:
            continue
        probes = []
        try:
            for port in range(start, start + width):
                s = socket.socket()
                probes.append(s)
                s.bind(("127.0.0.1", port))
            return start, start + width - 1
        except OSError:
            continue
        finally:
            for s in probes:
                s.close()
    raise RuntimeError(f"no {width} consecutive free ports")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Token authentication would read or write ~/.ray, shared with every Ray user on the machine.
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # The dead node is declared dead after a few seconds, not the default half-minute.
    env["RAY_health_check_period_ms"] = "500"
    env["RAY_health_check_failure_threshold"] = "3"
    env["RAY_health_check_timeout_ms"] = "500"
    return env


@dataclass
class RayNode:
    """One `ray start --block` process and what identifies its node."""

    name: str
    process: subprocess.Popen[bytes]
    temp_dir: Path
    node_manager_port: int
    log: Path

    def raylet_pid(self) -> int | None:
        """The pid of this node's raylet (found by its node manager port), None if it is gone."""
        needle = f"--node_manager_port={self.node_manager_port}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"raylet" in cmdline.split(b"\0", 1)[0] and needle in cmdline:
                return int(entry.name)
        return None

    def wait_started(self) -> None:
        """Return once `ray start` says the node is up; stop it and raise if it failed."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        while b"This command will now block" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"ray start for {self.name} failed:\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.2)

    def kill_raylet(self) -> int:
        """SIGKILL this node's raylet; return its pid."""
        pid = self.raylet_pid()
        if pid is None:
            raise RuntimeError(f"node {self.name}: no raylet found")
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """End the `ray start --block` process (it stops its node's processes)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        pid = self.raylet_pid()
        if pid is not None:  # a raylet left behind by a killed `ray start`
            os.kill(pid, signal.SIGKILL)


@dataclass
class RayCluster:
    """A head node and the nodes that joined it; `address` is what `ray.init` connects to."""

    root: Path
    address: str = ""
    nodes: dict[str, RayNode] = field(default_factory=dict)

    @classmethod
    def start(cls, joining: tuple[str, ...] = ()) -> RayCluster:
        """Start the head (`node_a`) and the nodes `joining` it; return once all are up.

        The nodes start at the same time as the head (they wait for it), which saves the
        seconds each `ray start` spends importing Ray.
        """
        cluster = cls(Path(tempfile.mkdtemp(prefix="rmn-")))
        ports = _free_ports(3 + _NODE_PORTS * (1 + len(joining)))
        cluster.address = f"127.0.0.1:{ports[0]}"
        head = ["--head", f"--port={ports[0]}", "--include-dashboard=false"]
        head += [f"--dashboard-port={ports[1]}", f"--ray-client-server-port={ports[2]}"]
        del ports[:3]
        try:
            nodes = [cluster._launch("node_a", head, ports[:_NODE_PORTS])]
            for i, name in enumerate(joining, start=1):
                own = ports[i * _NODE_PORTS : (i + 1) * _NODE_PORTS]
                nodes.append(cluster._launch(name, [f"--address={cluster.address}"], own))
            for node in nodes:
                node.wait_started()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_node(self, name: str) -> RayNode:
        """Start a node that joins the head, with one CPU and the custom resource `name`."""
        node = self._launch(name, [f"--address={self.address}"], _free_ports(_NODE_PORTS))
        node.wait_started()
        return node

    def _launch(self, name: str, extra: list[str], ports: list[int]) -> RayNode:
        low, high = _free_range(20)
        temp_dir = self.root / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        args = [
            str(RAY_CLI),
            "start",
            *extra,
            "--num-cpus=1",
            "--num-gpus=0",
            f'--resources={{"{name}": 1}}',
            "--node-ip-address=127.0.0.1",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--dashboard-agent-listen-port={ports[2]}",
            f"--dashboard-agent-grpc-port={ports[3]}",
            f"--runtime-env-agent-port={ports[4]}",
            f"--metrics-export-port={ports[5]}",
            f"--min-worker-port={low}",
            f"--max-worker-port={high}",
            "--block",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
            )
        node = RayNode(name, process, temp_dir, ports[0], log)
        self.nodes[name] = node
        return node

    def stop(self) -> None:
        """Stop every node, the head last, and delete the temporary folders."""
        for node in reversed(list(self.nodes.values())):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


EPOCHS = 4
"""Epochs of each trial (each reports its validation loss to the store)."""
EPOCH_HOLD_S = 0.3
"""Each epoch of a trial lasts at least this long, so that a fault lands while trials run."""


def tiny_lightning_trial(trial: Any) -> float:
    """A tiny real Lightning run: records the Ray node it runs on and reports every epoch."""
    import lightning.pytorch as pl
    import ray

    from lightning_autotune.callbacks import AutoTuneCallback
    from lightning_autotune.testing import (
        TINY_TRAINER_KWARGS,
        TinyClassifier,
        loaders,
        random_datasets,
    )

    trial.set_user_attr("node", ray.get_runtime_context().get_node_id())

    class Hold(pl.Callback):
        def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            time.sleep(EPOCH_HOLD_S)

    train, val = loaders(*random_datasets(n=96, n_features=8, n_classes=3), batch_size=24)
    model = TinyClassifier(n_features=8, n_classes=3, hidden=8, lr=trial.params["lr"])
    kwargs = {**TINY_TRAINER_KWARGS, "max_epochs": EPOCHS, "num_sanity_val_steps": 0}
    trainer = pl.Trainer(callbacks=[AutoTuneCallback(trial), Hold()], **kwargs)
    trainer.fit(model, train, val)
    return float(trainer.callback_metrics["val_loss"])
