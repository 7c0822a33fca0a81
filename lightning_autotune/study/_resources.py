"""Resources of one trial process: device kind, memory limit, threads; parsing and enforcement."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass

from lightning_autotune.exceptions import ConfigError

__all__ = ["ResourceType", "TrialResources", "parse_memory", "visible_gpus"]

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

# Variables read by OpenMP, MKL and OpenBLAS when they start: set before torch is imported.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class ResourceType(str, enum.Enum):
    """What each trial process is given: one GPU, or CPU threads only."""

    CPU = "CPU"
    GPU = "GPU"

    @classmethod
    def parse(cls, value: str | ResourceType, field: str = "resource_type") -> ResourceType:
        """Accept 'CPU'/'GPU' in any case.

        Raises:
            ConfigError: Anything else.
        """
        if isinstance(value, ResourceType):
            return value
        if isinstance(value, str) and value.upper() in ("CPU", "GPU"):
            return cls(value.upper())
        raise ConfigError(f"{field} must be 'CPU' or 'GPU', got {value!r}")


def parse_memory(value: int | str | None, field: str = "memory_limit") -> int | None:
    """Bytes from an int or a string such as '16GB', '512MB', '2GiB'; None stays None.

    Decimal units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) of 1024.

    Raises:
        ConfigError: Not a positive size.

    Example:
        >>> parse_memory("512MB")
        512000000
        >>> parse_memory("2GiB")
        2147483648
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{field} must be a size such as '16GB' or a byte count, got {value!r}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _MEMORY.match(value)):
        unit = (m[2] or "").upper()
        prefix = unit[:1] if unit not in ("", "B") else unit
        table = _BINARY if "I" in unit else _UNITS
        size = int(float(m[1]) * table[prefix])
    else:
        raise ConfigError(
            f"{field} must be a size such as '16GB', '512MB' or '2GiB' (or a byte count), "
            f"got {value!r}"
        )
    if size <= 0:
        raise ConfigError(f"{field} must be positive, got {value!r}")
    return size


def visible_gpus() -> list[str]:
    """The GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else every CUDA device."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # pragma: no cover - a broken CUDA install means no GPU
        return []


@dataclass(frozen=True)
class TrialResources:
    """What one trial process gets.

    Attributes:
        resource_type: CPU or GPU.
        device: The GPU id exported as CUDA_VISIBLE_DEVICES (GPU mode), else None.
        threads: torch / OpenMP / MKL threads for the trial.
        memory_limit: Bytes the trial may allocate beyond what the interpreter and its libraries
            hold after import (CPU), or bytes of its GPU (GPU); None for no limit.
    """

    resource_type: ResourceType = ResourceType.CPU
    device: str | None = None
    threads: int = 1
    memory_limit: int | None = None

    def environment(self) -> dict[str, str]:
        """Environment variables for the trial process (they must be set before torch loads)."""
        env = {name: str(self.threads) for name in THREAD_ENV_VARS}
        # CPU trials see no GPU at all; a GPU trial sees exactly its own.
        env["CUDA_VISIBLE_DEVICES"] = self.device if self.device is not None else ""
        return env

    def apply(self) -> None:
        """Enforce the limits inside the trial process, after the heavy imports."""
        import torch

        torch.set_num_threads(self.threads)
        if self.memory_limit is None:
            return
        if self.resource_type is ResourceType.GPU and torch.cuda.is_available():
            total = torch.cuda.get_device_properties(0).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, self.memory_limit / total), 0)
        else:
            _limit_address_space(self.memory_limit)


def _limit_address_space(extra: int) -> None:
    import resource

    base = _address_space_now()
    soft = base + extra
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_now() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 0
