"""Single-threaded numerics for the many tiny linear-algebra calls of a suggestion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import Any

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
        controller = _blas_controller()
        if controller is not None:
            stack.enter_context(controller.limit(limits=1, user_api="blas"))
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once (a scan costs milliseconds).

    SciPy's linear algebra and NumPy are imported first, so that their BLAS is among them.
    None when threadpoolctl (optional; installed with scikit-learn) is missing.
    """
    try:
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController
    except ImportError:  # without it only PyTorch is limited
        return None
    return ThreadpoolController()
