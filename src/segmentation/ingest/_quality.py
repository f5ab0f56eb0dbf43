"""The quality summary (``IngestResult.quality``, written as ``quality.json``): where every
row went, guests, dates, refunds and the files read; :mod:`segmentation.quality` shows it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmentation.ingest._assemble import Assembled
from segmentation.ingest._layout import Layout
from segmentation.ingest._options import Options
from segmentation.ingest._quarantine import ROWS_COLUMN
from segmentation.ingest._reasons import REASONS
from segmentation.ingest._source import Source
from segmentation.ingest._tables import Part
from segmentation.schema import CUSTOMERS, INTERACTION_KINDS

__all__ = ["file_info", "quality_summary"]


def _counts(assembled: Assembled) -> dict[str, Any]:
    # Input rows, not records: an unterminated quote counts every line it swallowed.
    counts = assembled.quarantine.groupby("reason")[ROWS_COLUMN].sum()
    return {
        "rows_in": int(assembled.rows_in),
        "rows_kept": len(assembled.table),
        "rows_duplicate": int(assembled.duplicate.sum()),
        "rows_quarantined": {r: int(counts[r]) for r in REASONS if r in counts.index},
    }


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat(sep=" ")


def _day_or_time(value: pd.Timestamp | None) -> str | None:
    if value is None:
        return None
    return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")


def _orders_quality(orders: Assembled) -> dict[str, Any]:
    table = orders.table
    rows = orders.rows
    guest_all = rows["customer_id"].isna().to_numpy()
    guest_kept = table["customer_id"].isna().to_numpy()
    amount = table["amount"].to_numpy()
    revenue = float(amount.sum())
    guest_revenue = float(amount[guest_kept].sum())
    quality: dict[str, Any] = _counts(orders)
    quality["guests"] = {
        "rows": int(guest_kept.sum()),
        "revenue": round(guest_revenue, 2),
        "revenue_share": round(guest_revenue / revenue, 6) if revenue else None,
        # Lines that could not be split into fields are not counted here: no customer id.
        "rows_in": int(guest_all.sum()),
        "rows_duplicate": int((guest_all & orders.duplicate).sum()),
        "rows_quarantined": int((guest_all & ~orders.duplicate & ~orders.kept).sum()),
    }
    kept_codes = orders.customer_codes[orders.kept_order]
    known = kept_codes >= 0
    n_ids = len(orders.customer_ids)
    rows_per_customer = np.bincount(kept_codes[known], minlength=n_ids)
    quality["customers"] = int(np.count_nonzero(rows_per_customer))
    quality["customers_in"] = len(orders.customer_ids)
    quality["date_min"] = _iso(table["order_ts"].min())
    quality["date_max"] = _iso(table["order_ts"].max())
    quality["revenue"] = round(revenue, 2)
    quality["refund_rows"] = int((amount < 0).sum())
    quality["cancellation_rows"] = int(rows["_cancelled"].to_numpy()[orders.kept_order].sum())
    quality["zero_amount_rows"] = int((amount == 0).sum())
    # Customers whose every kept row is $0 (CDNOW has 68): kept, but worth knowing.
    spent = np.bincount(kept_codes[known], weights=np.abs(amount[known]), minlength=n_ids)
    quality["zero_amount_only_customers"] = int(((rows_per_customer > 0) & (spent == 0)).sum())
    zero_codes = kept_codes[(amount == 0) & known]
    quality["zero_amount_customers"] = int(
        np.count_nonzero(np.bincount(zero_codes, minlength=n_ids))
    )
    return quality


def quality_summary(
    assembled: dict[str, Assembled],
    *,
    customers: pd.DataFrame | None,
    files: list[dict[str, Any]],
    repeated: list[str],
    skipped: list[dict[str, str]],
    options: Options,
    pii_columns: set[str],
) -> dict[str, Any]:
    """The summary of one ingest, JSON-serialisable.

    ``files_skipped`` (files of a folder not read, with why) is there only when one was.
    """
    orders = _orders_quality(assembled["orders"])
    tables: dict[str, Any] = {"orders": orders}
    if "customers" in assembled or customers is not None:
        tables["customers"] = _customers_quality(assembled, customers, pii_columns)
    if "interactions" in assembled:
        tables["interactions"] = _interactions_quality(assembled["interactions"], options)
    if "campaigns" in assembled:
        tables["campaigns"] = _campaigns_quality(assembled["campaigns"])
    top = {k: orders[k] for k in ("rows_in", "rows_kept", "rows_duplicate", "rows_quarantined")}
    return {
        **top,
        "guests": orders["guests"],
        "customers": orders["customers"],
        "date_min": orders["date_min"],
        "date_max": orders["date_max"],
        "as_of": None if options.as_of is None else options.as_of.date().isoformat(),
        "earliest": _day_or_time(options.earliest),
        "reasons": {r: REASONS[r] for t in tables.values() for r in t["rows_quarantined"]},
        "tables": tables,
        "files": files,
        "files_given_twice": repeated,
        **({"files_skipped": skipped} if skipped else {}),
    }


def _customers_quality(
    assembled: dict[str, Assembled], customers: pd.DataFrame | None, pii_columns: set[str]
) -> dict[str, Any]:
    info: dict[str, Any] = (
        _counts(assembled["customers"])
        if "customers" in assembled
        else {"rows_in": 0, "rows_kept": 0, "rows_duplicate": 0, "rows_quarantined": {}}
    )
    info["rows_out"] = 0 if customers is None else len(customers)
    info["attributes_from_orders"] = sorted(
        c for c in CUSTOMERS.optional if c in assembled["orders"].rows.columns
    )
    info["pii_pseudonymised"] = sorted(pii_columns)
    return info


def _interactions_quality(interactions: Assembled, options: Options) -> dict[str, Any]:
    info = _counts(interactions)
    kinds = interactions.table["kind"].value_counts()
    known = set(INTERACTION_KINDS.values()) | set(options.mapping.kinds.values())
    info["kinds"] = {str(k): int(v) for k, v in sorted(kinds.items())}
    info["kinds_unmapped"] = {str(k): int(v) for k, v in sorted(kinds.items()) if k not in known}
    info["date_min"] = _iso(interactions.table["ts"].min())
    info["date_max"] = _iso(interactions.table["ts"].max())
    return info


def _campaigns_quality(campaigns: Assembled) -> dict[str, Any]:
    info = _counts(campaigns)
    table = campaigns.table
    info["campaigns"] = int(table["campaign_id"].nunique())
    info["groups"] = {str(k): int(v) for k, v in sorted(table["group"].value_counts().items())}
    info["channels"] = {str(k): int(v) for k, v in sorted(table["channel"].value_counts().items())}
    info["date_min"] = _iso(table["contacted_at"].min())
    info["date_max"] = _iso(table["contacted_at"].max())
    return info


def file_info(source: Source, layout: Layout, part: Part) -> dict[str, Any]:
    """What quality.json says about one input file."""
    info: dict[str, Any] = {
        "path": source.display,
        "sha256": source.sha256,
        "bytes": source.size,
        "format": source.file_format,
        "encoding": source.encoding,
        "table": layout.table,
        "layout": layout.name,
        "rows_in": len(part.frame) + sum(bad.rows for bad in source.bad_rows),
        "columns": layout.mapped,
        "unmapped": list(layout.unmapped),
    }
    if source.blank_rows:
        info["blank_lines"] = source.blank_rows
    if source.notes:
        info["notes"] = source.notes
    return info
