"""The outputs a user gets are byte-identical to the recorded ones (tests/golden/outputs.json).

A change meant to alter an output re-records them (``python tests/golden_outputs.py``) and
says which output changed and why in its commit. Each case is run once per session
(``golden_run`` in conftest.py); the browser test opens the same reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conftest import GoldenRun
from golden_outputs import CASES, GOLDEN


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_match_the_recorded_ones(name: str, golden_run: Callable[[str], GoldenRun]) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    assert golden_run(name).outputs == expected
