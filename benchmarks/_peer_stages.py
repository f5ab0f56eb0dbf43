"""The peer stages: the raw export to lifetimes' four columns the kit's way and each peer's
(:mod:`benchmarks._peers`), on CSV and on Parquet, with pyarrow's typed read as the floor."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd

__all__ = ["PeerStagePart", "peer_stage_parts"]


class PeerStagePart(NamedTuple):
    """One peer stage: its name, title, untimed load and timed run (see ``Stage``)."""

    name: str
    title: str
    load: Callable[..., dict[str, Any]]
    run: Callable[..., dict[str, Any]]
    baseline: bool


def _load_nothing(workspace: Any) -> dict[str, Any]:
    return {"workspace": workspace}


def _load_peer_reference(workspace: Any) -> dict[str, Any]:
    """The kit's four columns from the prepared snapshot (its buyers), which every peer's
    result is checked against."""
    from benchmarks._peers import SUMMARY_COLUMNS

    snapshot = workspace.snapshot()
    return {
        "workspace": workspace,
        "reference": snapshot.loc[~snapshot["is_potential"], SUMMARY_COLUMNS],
    }


def _kit_raw_to_summary(folder: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Any, reference: pd.DataFrame) -> dict[str, Any]:
        from benchmarks._peers import SUMMARY_COLUMNS, summary_difference
        from segmentation.features import customer_snapshot
        from segmentation.ingest import ingest

        result = ingest([workspace.export_dir / folder])
        snapshot = customer_snapshot(result.orders, result.customers, as_of=workspace.as_of)
        buyers = snapshot.loc[~snapshot["is_potential"], SUMMARY_COLUMNS]
        return summary_difference(reference, buyers)

    return run


def _peer_raw_to_summary(peer: str, fmt: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Any, reference: pd.DataFrame) -> dict[str, Any]:
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
    def run(workspace: Any) -> dict[str, Any]:
        from benchmarks._peers import arrow_read_floor

        folder = workspace.export_dir / fmt
        return {"rows": arrow_read_floor([folder / f"orders.{fmt}", folder / f"customers.{fmt}"])}

    return run


def peer_stage_parts() -> list[PeerStagePart]:
    """The raw export to lifetimes' four columns, the kit's way (ingest, every check, then the
    snapshot) and each peer's, on CSV and on Parquet, with pyarrow's typed read as the floor."""
    stages: list[PeerStagePart] = []
    for fmt, name in (("csv", "CSV"), ("parquet", "Parquet")):
        stages.append(
            PeerStagePart(
                f"raw_to_summary_kit_{fmt}",
                f"the {name} export (orders and customers) to lifetimes' four columns, the kit's "
                "way: segmentation.ingest.ingest (every check) then features.customer_snapshot",
                _load_peer_reference,
                _kit_raw_to_summary(fmt),
                baseline=False,
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
                PeerStagePart(
                    f"raw_to_summary_{peer}_{fmt}",
                    f"the same four columns from the {name} orders file: {how}; checked "
                    "against the kit's",
                    _load_peer_reference,
                    _peer_raw_to_summary(peer, fmt),
                    baseline=True,
                )
            )
        stages.append(
            PeerStagePart(
                f"read_floor_{fmt}",
                f"the floor: pyarrow's typed read of both {name} files on 2 threads, nothing "
                "checked or computed",
                _load_nothing,
                _read_floor(fmt),
                baseline=True,
            )
        )
    return stages
