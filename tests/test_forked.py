"""A call handed to a forked child process: the same result, exception and warnings as the
call made here, and nothing left behind."""

from __future__ import annotations

import os
import threading
import time
import warnings

import pytest

from segmentation.forked import ForkedCall, can_fork

needs_fork = pytest.mark.skipif(not can_fork(), reason="forks a child only on Linux")


def _pid_and_sum(values: list[int], *, offset: int = 0) -> tuple[int, int]:
    return os.getpid(), sum(values) + offset


def _fails(message: str) -> None:
    raise ValueError(message)


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("cannot pickle this")


def _fails_unpicklably() -> None:
    raise _Unpicklable("held a lock")


def _warns(message: str) -> int:
    warnings.warn(message, UserWarning, stacklevel=1)
    return 7


def _dies() -> None:
    os._exit(3)


def _sleeps() -> None:
    time.sleep(60)


@needs_fork
def test_the_call_runs_in_another_process_with_arguments_never_pickled() -> None:
    lock = threading.Lock()  # cannot be pickled: a forked child starts with it
    call = ForkedCall(_pid_and_sum, [1, 2, 3, lock.locked()], offset=10)
    assert call.forked
    child, total = call.result()
    assert child != os.getpid() and total == 16


def test_without_fork_the_call_runs_here_when_asked_for() -> None:
    call = ForkedCall(_pid_and_sum, [4, 5], fork=False)
    assert not call.forked
    assert call.result() == (os.getpid(), 9)


@pytest.mark.parametrize("fork", [True, False])
def test_the_childs_exception_is_raised_here(fork: bool) -> None:
    with pytest.raises(ValueError, match=r"^no rows as of 2026-10-31$"):
        ForkedCall(_fails, "no rows as of 2026-10-31", fork=fork).result()


@needs_fork
def test_an_exception_that_cannot_be_pickled_comes_back_as_its_text() -> None:
    with pytest.raises(RuntimeError, match=r"^in the child process: _Unpicklable: held a lock\n"):
        ForkedCall(_fails_unpicklably).result()


@pytest.mark.parametrize("fork", [True, False])
def test_the_childs_warnings_are_warned_here(fork: bool) -> None:
    with pytest.warns(UserWarning, match=r"^F has too many tied values$"):
        assert ForkedCall(_warns, "F has too many tied values", fork=fork).result() == 7


@needs_fork
def test_a_child_that_dies_says_so_and_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"exit code 3\).*runtime.fork_analysis"):
        ForkedCall(_dies).result()


@needs_fork
def test_cancel_stops_the_child_and_removes_its_folder() -> None:
    call = ForkedCall(_sleeps)
    folder = call._folder
    assert folder is not None and folder.is_dir()
    began = time.perf_counter()
    call.cancel()
    assert time.perf_counter() - began < 10
    assert not call._process.is_alive() and not folder.exists()


@pytest.mark.parametrize("fork", [True, False])
def test_a_kit_warning_keeps_the_report_section_of_the_module_that_raised_it(fork: bool) -> None:
    """The report files a warning under the section of the kit module that raised it
    (rfm's tied quintiles: rule schemes); warned again from the child, it stays there."""
    import numpy as np

    from segmentation.report._progress import capture_warnings
    from segmentation.schemes.rfm import _quintile_scores

    tied = np.array([1.0] * 8 + [2.0, 3.0])
    with capture_warnings(default_section="compare") as caught:
        scores, _, possible = ForkedCall(_quintile_scores, tied, label="F", fork=fork).result()
    # Edges [1, 1, 1, 1.2]: 1.0 is above none, 2.0 and 3.0 above all four.
    assert possible == [1, 4, 5] and scores.tolist() == [1] * 8 + [5, 5]
    assert [section for section, _ in caught] == ["rule_schemes"]
    assert caught[0][1].startswith("rfm: F has too many tied values among 10 buyers")


@pytest.mark.parametrize(
    ("schemes", "switch", "forked"),
    [
        (None, True, can_fork()),
        (["rfm_named", "clusters"], True, False),  # KMeans' OpenMP threads: not in a fork
        (None, False, False),
    ],
)
def test_the_history_goes_aside_only_for_rule_schemes_and_when_the_config_says(
    schemes: list[str] | None, switch: bool, forked: bool
) -> None:
    import pandas as pd

    from segmentation.analysis import _earlier_months_aside
    from segmentation.config import Settings, load_config, merge_config

    override: dict = {"runtime": {"fork_analysis": switch}}
    if schemes is not None:
        override["over_time"] = {"schemes": schemes}
    config = Settings(merge_config(load_config(), override))
    no_orders = pd.DataFrame(
        {"customer_id": pd.array([], dtype="string"), "order_id": pd.array([], dtype="string"),
         "order_ts": pd.to_datetime([]), "amount": pd.array([], dtype=float)}
    )  # fmt: skip
    call = _earlier_months_aside(
        (no_orders, None, None), as_of=pd.Timestamp("2026-10-31"), config=config, random_state=0
    )
    try:
        assert call.forked is forked
        # No customer at the latest of the earlier month-ends: the history stops there.
        assert call.result() == {pd.Timestamp("2026-08-31"): None}
    finally:
        call.cancel()
