"""The peer stages: the raw export to lifetimes' four columns the kit's way and each peer's
(:mod:`benchmarks._peers`), on CSV and on Parquet, with pyarrow's typed read as the floor."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pandas as pd

from benchmarks._stages import Stage, Workspace, load_nothing

__all__ = ["peer_stages"]


def _load_peer_reference(workspace: Workspace) -> dict[str, Any]:
    """The kit's four columns from the prepared snapshot (its buyers), which every peer's
    result is checked against."""
    from benchmarks._peers import SUMMARY_COLUMNS

    snapshot = workspace.snapshot()
    return {
        "workspace": workspace,
        "reference": snapshot.loc[~snapshot["is_potential"], SUMMARY_COLUMNS],
    }


def _kit_raw_to_summary(folder: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Workspace, reference: pd.DataFrame) -> dict[str, Any]:
        from benchmarks._peers import SUMMARY_COLUMNS, summary_difference
        from segmentation.features import customer_snapshot
        from segmentation.ingest import ingest

        result = ingest([workspace.export_dir / folder])
        snapshot = customer_snapshot(result.orders, result.customers, as_of=workspace.as_of)
        buyers = snapshot.loc[~snapshot["is_potential"], SUMMARY_COLUMNS]
        return summary_difference(reference, buyers)

    return run


def _peer_raw_to_summary(peer: str, fmt: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Workspace, reference: pd.DataFrame) -> dict[str, Any]:
        from benchmarks import _peers

        path = workspace.export_dir / fmt / f"orders.{fmt}"
        if peer == "polars" and importlib.util.find_spec("polars") is None:
            return {"unavailable": "polars is not installed (make test-setup installs it)"}
        compute = {
            "duckdb": _peers.duckdb_summary,
            "polars": _peers.polars_summary,
            "pandas": _peers.pandas_read_csv_summary,
        }[peer]
        return _peers.summary_difference(reference, compute(path, as_of=workspace.as_of))

    return run


def _read_floor(fmt: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Workspace) -> dict[str, Any]:
        from benchmarks._peers import arrow_read_floor

        folder = workspace.export_dir / fmt
        return {"rows": arrow_read_floor([folder / f"orders.{fmt}", folder / f"customers.{fmt}"])}

    return run


def peer_stages() -> list[Stage]:
    """The raw export to lifetimes' four columns, the kit's way (ingest, every check, then the
    snapshot) and each peer's, on CSV and on Parquet, with pyarrow's typed read as the floor."""
    stages: list[Stage] = []
    for fmt, name in (("csv", "CSV"), ("parquet", "Parquet")):
        stages.append(
            Stage(
                f"raw_to_summary_kit_{fmt}",
                "peers",
                f"the {name} export (orders and customers) to lifetimes' four columns, the kit's "
                "way: segmentation.ingest.ingest (every check) then features.customer_snapshot",
                _load_peer_reference,
                _kit_raw_to_summary(fmt),
            )
        )
        peers = [
            ("duckdb", "one DuckDB query (2 threads) on the orders file"),
            ("polars", "one polars lazy query on the orders file (polars 2, optional)"),
        ]
        if fmt == "csv":
            peers.append(("pandas", "pandas.read_csv (dates parsed) and groupbys"))
        for peer, how in peers:
            stages.append(
                Stage(
                    f"raw_to_summary_{peer}_{fmt}",
                    "peers",
                    f"the same four columns from the {name} orders file: {how}; checked "
                    "against the kit's",
                    _load_peer_reference,
                    _peer_raw_to_summary(peer, fmt),
                    baseline=True,
                )
            )
        stages.append(
            Stage(
                f"read_floor_{fmt}",
                "peers",
                f"the floor: pyarrow's typed read of both {name} files on 2 threads, nothing "
                "checked or computed",
                load_nothing,
                _read_floor(fmt),
                baseline=True,
            )
        )
    return stages
