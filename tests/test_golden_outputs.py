"""The outputs a user gets are byte-identical to the recorded ones (tests/golden/outputs.json).

A change meant to alter an output re-records them (``python tests/golden_outputs.py``) and
says which output changed and why in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_outputs import CASES, GOLDEN, ONLINE_RETAIL, collect


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_match_the_recorded_ones(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name == "online_retail" and not ONLINE_RETAIL.exists():
        pytest.skip(f"needs the real Online Retail export at {ONLINE_RETAIL} (../shared absent)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "")  # collect() sets the golden key
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    assert collect(name, tmp_path) == expected
