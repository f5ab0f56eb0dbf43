"""The process settings the kit's entry points apply (config ``runtime``)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from segmentation.config import load_config
from segmentation.runtime import apply_runtime_settings


@pytest.fixture
def restore_hugepages(monkeypatch: pytest.MonkeyPatch) -> object:
    # Whatever a test sets, this process gets numpy's switch and the variable back.
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", os.environ.get("NUMPY_MADVISE_HUGEPAGE", ""))
    before = np._core.multiarray._get_madvise_hugepage()
    yield None
    np._core.multiarray._set_madvise_hugepage(before)


def test_the_default_turns_numpys_huge_pages_off_here_and_in_child_processes(
    restore_hugepages: object,
) -> None:
    assert load_config()["runtime"]["numpy_hugepages"] is False
    np._core.multiarray._set_madvise_hugepage(True)
    apply_runtime_settings(load_config())
    assert np._core.multiarray._get_madvise_hugepage() is False
    assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "0"
    # A notebook kernel is a child process: numpy reads the variable when it starts.
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import numpy; print(numpy._core.multiarray._get_madvise_hugepage())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "False"


def test_true_leaves_numpys_huge_pages_on(restore_hugepages: object) -> None:
    np._core.multiarray._set_madvise_hugepage(False)
    apply_runtime_settings(load_config({"runtime": {"numpy_hugepages": True}}))
    assert np._core.multiarray._get_madvise_hugepage() is True
    assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "1"
