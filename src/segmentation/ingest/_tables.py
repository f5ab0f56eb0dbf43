"""One file's rows as canonical columns of its table (orders, customers or interactions),
each row with the first reason, if any, to quarantine it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.ingest._layout import Layout
from segmentation.ingest._options import KeyProvider, Options
from segmentation.ingest._reasons import Reasons
from segmentation.ingest._source import Source
from segmentation.ingest._values import (
    as_text,
    clean_ids,
    clean_text,
    parse_datetimes,
    parse_numbers,
    valid_mask,
)
from segmentation.privacy import pseudonymise
from segmentation.schema import (
    CAMPAIGN_CHANNELS,
    CAMPAIGN_GROUPS,
    CONTROL_FLAG_HEADERS,
    INTERACTION_KINDS,
    PII_COLUMNS,
    TAG_SEPARATOR,
)

__all__ = ["PARSERS", "Part"]


@dataclass
class Part:
    """One file's rows of one table, parsed into canonical columns."""

    source: Source
    layout: Layout
    file_index: int
    keys: KeyProvider
    frame: pd.DataFrame
    reason: np.ndarray
    # Raw text of the cells that failed to parse, so two different unparsable values are not
    # mistaken for duplicates (both parse to missing).
    failed_key: np.ndarray
    # The rows with a reason (the quarantine candidates, unless duplicates): their line and
    # raw values, set aside by :func:`release_source` before the raw text is let go.
    suspect_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    suspect_lines: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    suspect_values: list[str] = field(default_factory=list)


def _parse_orders(
    source: Source, layout: Layout, options: Options, keys: KeyProvider, file_index: int
) -> Part:
    table, cols = source.table, layout.columns
    reasons = Reasons(table.num_rows)
    customer_id = _strings(clean_ids(table.column(cols["customer_id"])))
    order_id, order_id_text = _order_ids(source, layout, customer_id, reasons)
    frame: dict[str, Any] = {"customer_id": customer_id, "order_id": order_id}
    ts = _parse_dates(
        reasons,
        table.column(cols["order_ts"]),
        options,
        required=True,
        date_format=layout.date_format,
    )
    frame["order_ts"] = ts
    quantity, unit_price, amount = _amounts(table, cols, reasons)
    frame["amount"] = amount
    if quantity is not None:
        frame["quantity"] = quantity
    if unit_price is not None:
        frame["unit_price"] = unit_price
    _dates_checks(reasons, ts, options)
    cancelled = _cancelled(layout, order_id_text, table.num_rows)
    frame["_cancelled"] = cancelled
    if unit_price is not None:
        returned = cancelled | (quantity < 0 if quantity is not None else amount < 0)
        refund = returned & (amount < 0)
        reasons.flag((unit_price <= 0) & ~refund, "nonpositive_unit_price")
    frame |= _product_columns(table, cols)
    for name, header in layout.customer_attributes.items():
        raw = table.column(header)
        frame[name] = (
            _pseudonymised(raw, name, keys) if name in PII_COLUMNS else _strings(clean_text(raw))
        )
    return _part(source, layout, file_index, keys, pd.DataFrame(frame), reasons)


def _parse_customers(
    source: Source, layout: Layout, options: Options, keys: KeyProvider, file_index: int
) -> Part:
    table, cols = source.table, layout.columns
    reasons = Reasons(table.num_rows)
    frame: dict[str, Any] = {"customer_id": _required_customer_ids(table, cols, reasons)}
    if "first_seen_ts" in cols:
        ts = _parse_dates(reasons, table.column(cols["first_seen_ts"]), options, required=False)
        _dates_checks(reasons, ts, options)
        frame["first_seen_ts"] = ts
    for name in ("region", "city", "city_tier", "source_channel", "industry"):
        if name in cols:
            frame[name] = _strings(clean_text(table.column(cols[name])))
    if "tags" in cols:
        frame["tags"] = _normalise_tags(_strings(clean_text(table.column(cols["tags"]))))
    for name in PII_COLUMNS:
        if name in cols:
            frame[name] = _pseudonymised(table.column(cols[name]), name, keys)
    return _part(source, layout, file_index, keys, pd.DataFrame(frame), reasons)


def _parse_interactions(
    source: Source, layout: Layout, options: Options, keys: KeyProvider, file_index: int
) -> Part:
    table, cols = source.table, layout.columns
    reasons = Reasons(table.num_rows)
    customer_id = _required_customer_ids(table, cols, reasons)
    ts = _parse_dates(reasons, table.column(cols["ts"]), options, required=True)
    kind = clean_text(table.column(cols["kind"]))
    reasons.flag(~valid_mask(kind), "missing_kind")
    _dates_checks(reasons, ts, options)
    vocabulary = {**INTERACTION_KINDS, **options.mapping.kinds}
    kinds = _strings(kind)
    frame = pd.DataFrame(
        {
            "customer_id": customer_id,
            "ts": ts,
            # Unknown kinds are kept as written, so nothing is lost.
            "kind": kinds.map(lambda k: vocabulary.get(k, k), na_action="ignore").astype("string"),
        }
    )
    return _part(source, layout, file_index, keys, frame, reasons)


def _parse_campaigns(
    source: Source, layout: Layout, options: Options, keys: KeyProvider, file_index: int
) -> Part:
    """The campaign log: one row per customer reached (treated) or held out (control).

    Customers in no other table are flagged later (``unknown_customer``), once every table is
    read; contacts after the as-of day are ``date_after_as_of`` like any other row.
    """
    table, cols = source.table, layout.columns
    reasons = Reasons(table.num_rows)
    customer_id = _required_customer_ids(table, cols, reasons)
    campaign_id = clean_ids(table.column(cols["campaign_id"]))
    reasons.flag(~valid_mask(campaign_id), "missing_campaign_id")
    ts = _parse_dates(reasons, table.column(cols["contacted_at"]), options, required=True)
    group = _campaign_groups(table.column(cols["group"]), header=cols["group"])
    reasons.flag(group.isna().to_numpy(), "unknown_group")
    _dates_checks(reasons, ts, options)
    channels = _strings(clean_text(table.column(cols["channel"])))
    frame = pd.DataFrame(
        {
            "customer_id": customer_id,
            "campaign_id": _strings(campaign_id),
            "contacted_at": ts,
            # Unknown channels are kept as written, so nothing is lost.
            "channel": channels.map(
                lambda c: CAMPAIGN_CHANNELS.get(c, CAMPAIGN_CHANNELS.get(c.lower(), c)),
                na_action="ignore",
            ).astype("string"),
            "group": group,
        }
    )
    return _part(source, layout, file_index, keys, frame, reasons)


# A yes/no control flag (对照组: 是/否) as written, lower-cased.
_YES = frozenset({"是", "y", "yes", "1", "true", "对照"})
_NO = frozenset({"否", "n", "no", "0", "false", "触达"})


def _campaign_groups(raw: pa.ChunkedArray, *, header: str) -> pd.Series:
    """Each row's group, ``treated`` or ``control``; missing where the value is neither."""
    text = _strings(clean_text(raw))
    normalised = text.str.lower()
    if header.strip().lower() in CONTROL_FLAG_HEADERS:
        mapped = normalised.map(
            lambda v: "control" if v in _YES else "treated" if v in _NO else None,
            na_action="ignore",
        )
    else:
        mapped = normalised.map(lambda v: CAMPAIGN_GROUPS.get(v), na_action="ignore")
    return mapped.astype("string")


PARSERS: dict[str, Callable[[Source, Layout, Options, KeyProvider, int], Part]] = {
    "orders": _parse_orders,
    "customers": _parse_customers,
    "interactions": _parse_interactions,
    "campaigns": _parse_campaigns,
}


def _part(
    source: Source,
    layout: Layout,
    file_index: int,
    keys: KeyProvider,
    frame: pd.DataFrame,
    reasons: Reasons,
) -> Part:
    return Part(
        source=source,
        layout=layout,
        file_index=file_index,
        keys=keys,
        frame=frame,
        reason=reasons.codes,
        failed_key=reasons.failed_key(),
    )


def _strings(column: pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.array(column, dtype="string"))


def _required_customer_ids(table: pa.Table, cols: Mapping[str, str], reasons: Reasons) -> pd.Series:
    """Customer ids of a table where every row needs one (guest orders are kept)."""
    customer_id = clean_ids(table.column(cols["customer_id"]))
    reasons.flag(~valid_mask(customer_id), "missing_customer_id")
    return _strings(customer_id)


def _order_ids(
    source: Source, layout: Layout, customer_id: pd.Series, reasons: Reasons
) -> tuple[pd.Series, pa.ChunkedArray | None]:
    """The order ids, and their text as read (``None`` when each row is its own order)."""
    if layout.row_is_order:
        # Each row is its own order (CDNOW): the id is the customer and the line, so the same
        # file read twice still yields the same ids and is recognised as duplicate.
        lines = source.lines(source.records)
        return customer_id.fillna("") + ":" + pd.Series(lines).astype(str), None
    order_id = clean_ids(source.table.column(layout.columns["order_id"]))
    reasons.flag(~valid_mask(order_id), "missing_order_id")
    return _strings(order_id), order_id


def _parse_dates(
    reasons: Reasons,
    raw: pa.ChunkedArray,
    options: Options,
    *,
    required: bool,
    date_format: str | None = None,
) -> np.ndarray:
    """The dates of a column in the shop's time zone, flagging the missing (when
    ``required``), the unparsable (no date at all) and the real dates beyond what can be
    stored: after ``as_of`` (whatever the year) or before ``earliest``, else out of range."""
    ts, failed, out_of_range = parse_datetimes(
        raw, time_zone=options.time_zone, date_format=date_format
    )
    if required:
        reasons.flag(np.isnat(ts) & ~failed & (out_of_range == 0), "missing_date")
    reasons.failed_parse(failed, raw, "unparsable_date")
    if out_of_range.any():
        late = "date_after_as_of" if options.as_of is not None else "date_out_of_range"
        early = "date_too_early" if options.earliest is not None else "date_out_of_range"
        reasons.failed_parse(out_of_range > 0, raw, late)
        reasons.failed_parse(out_of_range < 0, raw, early)
    return ts


def _dates_checks(reasons: Reasons, ts: np.ndarray, options: Options) -> None:
    if options.earliest is not None:
        reasons.flag(ts < options.earliest.to_datetime64(), "date_too_early")
    if options.as_of_cutoff is not None:
        reasons.flag(ts >= options.as_of_cutoff.to_datetime64(), "date_after_as_of")


def _amounts(
    table: pa.Table, cols: Mapping[str, str], reasons: Reasons
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Quantity and unit price (``None`` when the file has none) and the amount, computed as
    quantity x unit price where the file gives no amount."""
    numbers: dict[str, np.ndarray] = {}
    for name in ("quantity", "unit_price", "amount"):
        if name in cols:
            raw = table.column(cols[name])
            values, failed = parse_numbers(raw)
            reasons.failed_parse(failed, raw, f"unparsable_{name}")
            numbers[name] = values
    quantity = numbers.get("quantity")
    unit_price = numbers.get("unit_price")
    amount = numbers.get("amount")
    if quantity is not None and unit_price is not None:
        # Rounded to 6 places: 6 x 2.55 is 15.299999999999999 in floating point.
        computed = np.round(quantity * unit_price, 6)
        amount = computed if amount is None else np.where(np.isnan(amount), computed, amount)
    assert amount is not None  # the layout guarantees an amount or quantity and price
    reasons.flag(np.isnan(amount), "missing_amount")
    return quantity, unit_price, amount


def _cancelled(layout: Layout, order_id: pa.ChunkedArray | None, n: int) -> np.ndarray:
    """Cancellations: orders whose id starts with the export's prefix (Online Retail's C)."""
    if not layout.cancellation_prefix or order_id is None:
        return np.zeros(n, dtype=bool)
    return np.asarray(
        pc.fill_null(pc.starts_with(order_id, layout.cancellation_prefix), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )


def _product_columns(table: pa.Table, cols: Mapping[str, str]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for name in ("product_id", "category", "channel", "store"):
        if name in cols:
            clean = clean_ids if name == "product_id" else clean_text
            out[name] = _strings(clean(table.column(cols[name])))
    if "product_name" in cols:
        # Free text is kept as written (trimming half a million descriptions costs time and
        # changes nothing an analysis uses).
        out["product_name"] = _strings(as_text(table.column(cols["product_name"])))
    return out


def _pseudonymised(column: pa.ChunkedArray, name: str, keys: KeyProvider) -> pd.Series:
    text = clean_text(column)
    if name == "phone":
        # One phone, one pseudonym: "+86 138-0013-8000" and "13800138000" must join.
        text = pc.replace_substring_regex(text, r"\D", "")
        text = pc.replace_substring_regex(text, r"^86(1\d{10})$", r"\1")
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    keys.columns_pseudonymised.add(name)
    return pseudonymise(_strings(text), key=keys.key())


def _normalise_tags(tags: pd.Series) -> pd.Series:
    """Several tags in one cell, however separated, become one ``;``-joined cell."""

    def tidy(cell: str) -> str | None:
        parts = [p.strip() for p in re.split(r"[,，、;；|]", cell)]
        unique = list(dict.fromkeys(p for p in parts if p))
        return TAG_SEPARATOR.join(unique) or None

    codes, uniques = pd.factorize(tags)
    tidied = pd.array([*(tidy(str(u)) for u in uniques), None], dtype="string")
    return pd.Series(tidied[codes], index=tags.index, dtype="string")
