"""Closing a CPU (gloo) process group in step, for multi-process tests."""

from __future__ import annotations

import torch.distributed as dist


def close_process_group() -> None:
    """Wait for every rank, then destroy the default process group.

    Left to interpreter exit, each rank tears its gloo group down on its own; when one rank's
    teardown races the other's, the slower one can abort ("terminate called without an active
    exception", SIGABRT) after training has already finished. Closing it here, behind a
    barrier, leaves nothing for exit to do. A no-op outside a distributed run.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
