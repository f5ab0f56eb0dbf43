"""What `segmentation report` says while it runs: plain lines in a log, an overwritten status
line on a terminal, warnings kept with the report section they belong to, kernels that have
nothing to warn about."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

from segmentation.report._progress import Progress, capture_warnings, section_of


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_only() -> None:
    log = io.StringIO()
    shown = Progress(log)
    shown.start("ingest")
    shown.done("ingest", 1.25, "23,947 rows kept")
    shown.start("01_data_quality")
    shown.start("02_rule_schemes")
    shown.warning("rfm: F has too many tied values\n  among 3,748 buyers")
    shown.done("02_rule_schemes", 12.0)
    assert log.getvalue().splitlines() == [
        "ingest                 1.2 s  23,947 rows kept",
        "warning: rfm: F has too many tied values among 3,748 buyers",
        "02_rule_schemes       12.0 s",
    ]
    assert "\r" not in log.getvalue()


def test_a_terminal_sees_what_runs_on_a_line_the_next_line_overwrites() -> None:
    terminal = _Terminal()
    shown = Progress(terminal)
    shown.start("01_data_quality")
    shown.start("02_rule_schemes")
    shown.done("01_data_quality", 3.0)
    shown.done("02_rule_schemes", 4.0)
    text = terminal.getvalue()
    status = "running: 01_data_quality, 02_rule_schemes …"
    assert status in text
    # What stays on screen once the carriage returns are applied: the finished lines only.
    screen = [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]
    assert screen == ["01_data_quality        3.0 s", "02_rule_schemes        4.0 s", ""]
    # Each overwrite blanks the longest status before it, so no tail of it is left.
    assert "\r" + " " * len(status) + "\r" in text


def test_no_stream_says_nothing() -> None:
    shown = Progress(None)
    shown.start("ingest")
    shown.done("ingest", 1.0)
    shown.warning("nothing")


def test_warnings_are_kept_with_their_section_and_printed_nowhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from segmentation.schemes.rfm import _quintile_scores

    printed: list[str] = []
    with capture_warnings(default_section="compare", on_warning=printed.append) as caught:
        _quintile_scores(np.array([1.0] * 8 + [2.0, 3.0]), label="F")
        _quintile_scores(np.array([1.0] * 8 + [2.0, 3.0]), label="F")  # the same text: once
        warnings.warn("a library said\nsomething", RuntimeWarning, stacklevel=1)
    assert [section for section, _ in caught] == ["rule_schemes", "compare"]
    assert caught[0][1].startswith("rfm: F has too many tied values among 10 buyers")
    assert caught[1] == ("compare", "a library said something")
    assert printed == [text for _, text in caught]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_filters_in_force_still_hold_inside_the_capture() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with capture_warnings(default_section="compare") as caught:
            warnings.warn("ignored", FutureWarning, stacklevel=1)
    assert caught == []


@pytest.mark.parametrize(
    ("module", "section"),
    [
        ("segmentation.ingest._readers", "data_quality"),
        ("segmentation.schemes.rfm", "rule_schemes"),
        ("segmentation.schemes.clusters", "clustering"),
        ("segmentation.clustering._fitting", "clustering"),
        ("segmentation.schemes.clv_tiers", "clv"),
        ("segmentation.clv._backtest", "clv"),
        ("segmentation.evaluate", "compare"),
        ("segmentation.schemesque", "compare"),
    ],
)
def test_a_warning_belongs_to_the_section_of_the_module_raising_it(
    module: str, section: str
) -> None:
    assert section_of(module, default="compare") == section


def test_kernels_get_a_private_channel_not_plain_tcp() -> None:
    import zmq

    from segmentation.report._notebooks import _kernel_name, kernel_transport_config

    config = kernel_transport_config(_kernel_name())
    if zmq.has("curve"):
        # ipykernel 7's spec declares CurveZMQ, so the manager provisions the keys.
        assert config.KernelManager.transport_encryption == "auto"
    missing = kernel_transport_config("no-such-kernel")
    assert missing.KernelManager.transport == "ipc"
