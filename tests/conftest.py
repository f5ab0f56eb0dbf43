"""Shared fixtures: paths to the real data in ../shared, and the demo export."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ONLINE_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    """The real UCI Online Retail export; skips with a reason when ../shared is absent."""
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"needs the real Online Retail export at {ONLINE_RETAIL} (../shared absent)")
    return ONLINE_RETAIL


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo export (seed 0, 5,000 contacts, 24 months), written once per run."""
    from segmentation.datasets import write_demo_export

    out = tmp_path_factory.mktemp("demo")
    write_demo_export(out, seed=0)
    return out
