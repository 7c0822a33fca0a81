"""single_threaded limits PyTorch and BLAS to one thread and restores both."""

from __future__ import annotations

import pytest
import torch

from lightning_autotune.samplers._threads import single_threaded


def test_one_thread_inside_and_restored_after() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (its BLAS is one of those limited)

    torch.set_num_threads(2)
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with single_threaded():
        assert torch.get_num_threads() == 1
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info()]
        assert inside and all(n == 1 for n in inside if n is not None)
    assert torch.get_num_threads() == 2
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before
