"""Contain thread-count changes (torch, OpenMP, BLAS) to a ``with`` block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def limited_threads(num_threads: int) -> Iterator[None]:
    """Run the block with at most ``num_threads`` torch/OpenMP/BLAS threads.

    The previous torch thread count and thread-pool sizes are restored on exit, so no
    global state leaks out of a calculation.
    """
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        with threadpool_limits(limits=num_threads):
            yield
    finally:
        torch.set_num_threads(previous)
