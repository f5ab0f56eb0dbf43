"""One thread for the drivers' models: scikit-learn's OpenMP runtime and BLAS."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

__all__ = ["one_thread"]


def one_thread() -> threadpool_limits:
    """``threadpool_limits(limits=1)``, with scikit-learn's OpenMP runtime loaded first.

    threadpoolctl limits the libraries loaded when the block starts. Where the drivers are
    the first scikit-learn code a process runs (the month's analysis computes them before
    the clusters), the OpenMP runtime was loaded inside the block, unlimited: the gradient
    boosting's predictions ran on every core, spinning while a forked child kept one busy
    (5.0 s against 0.9 s at a million customers), and their sums' order followed the core
    count.

    Returns
    -------
    threadpoolctl.threadpool_limits
        A context manager.
    """
    import sklearn.utils._openmp_helpers  # noqa: F401  (loads the OpenMP runtime)

    return threadpool_limits(limits=1)
