"""Single-threaded numerics for the many tiny linear-algebra calls of a suggestion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

__all__ = ["single_threaded"]


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with one PyTorch thread and one BLAS thread, then restore both.

    A suggestion makes hundreds of calls on matrices of a few hundred rows. With several
    threads per call, PyTorch's OpenMP pool and SciPy's OpenBLAS pool compete for the same cores
    and each call pays the synchronization, which is slower than one thread (several times
    slower on a busy machine).
    """
    import torch

    before = torch.get_num_threads()
    with ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        except ImportError:  # optional: without it only PyTorch is limited
            pass
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)
