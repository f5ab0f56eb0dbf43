"""Settings of the process the kit runs in, which its entry points apply (config ``runtime``).

Applied by the command line, :func:`segmentation.report.build_report` (whose notebook
kernels inherit them through the environment) and a notebook's first load; a program that
calls the library's functions directly applies them with :func:`apply_runtime_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["apply_runtime_settings"]

#: numpy reads it when imported; child processes (notebook kernels) inherit it.
_HUGEPAGE_VARIABLE = "NUMPY_MADVISE_HUGEPAGE"


def apply_runtime_settings(config: Mapping[str, Any]) -> None:
    """Apply the config's ``runtime`` section to this process and the processes it starts.

    ``runtime.numpy_hugepages: false`` stops numpy from asking for transparent huge pages
    on large arrays (``NUMPY_MADVISE_HUGEPAGE=0``): where the kernel compacts memory to serve
    them, that costs seconds of system time per report. Values computed are unchanged.

    Parameters
    ----------
    config : mapping
        :func:`segmentation.config.load_config`.
    """
    import numpy as np

    enabled = bool(config["runtime"]["numpy_hugepages"])
    os.environ[_HUGEPAGE_VARIABLE] = "1" if enabled else "0"
    # numpy read the variable when it was imported; this process needs the switch itself.
    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    set_hugepage = getattr(switch, "_set_madvise_hugepage", None)
    if set_hugepage is not None:
        set_hugepage(enabled)
