"""Contain thread-count changes (torch, OpenMP, BLAS) to a ``with`` block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from thermogap.errors import InputError


@contextlib.contextmanager
def limited_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with at most ``num_threads`` torch/OpenMP/BLAS threads.

    ``None`` leaves every setting alone. The previous torch thread count and thread-pool
    sizes are restored on exit, so no global state leaks out of a calculation. (Small models
    on a shared machine run several times faster with one thread than oversubscribed.)

    Raises
    ------
    InputError
        If ``num_threads`` is not a positive integer or ``None``.
    """
    if num_threads is None:
        yield
        return
    if num_threads < 1:
        raise InputError(f"{num_threads=} must be a positive integer or None")
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        with threadpool_limits(limits=num_threads):
            yield
    finally:
        torch.set_num_threads(previous)
