"""Which table a file holds, which of its headers is which canonical column, and which known
export (CDNOW, Online Retail, a Chinese shop) it is; the user's mapping comes first."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from segmentation.errors import (
    MappingError,
    MissingColumnError,
    SegmentationInputError,
    UnknownLayoutError,
)
from segmentation.ingest._options import UserMapping
from segmentation.ingest._presets import (
    ALIASES,
    CAMPAIGN_MARKERS,
    CDNOW_HEADER,
    INTERACTION_MARKERS,
    ONLINE_RETAIL_HEADER,
    ORDER_CUSTOMER_ALIASES,
    ORDER_MARKERS,
)
from segmentation.ingest._source import Source, shown_header
from segmentation.schema import ORDERS, TABLES

__all__ = ["Layout", "resolve_layout"]


@dataclass(frozen=True)
class Layout:
    """How to read one file: its table, its columns and the rules of its kind of export."""

    table: str
    name: str
    # canonical column -> header in the file
    columns: dict[str, str]
    # (orders only) customers column -> header in the file
    customer_attributes: dict[str, str] = field(default_factory=dict)
    unmapped: tuple[str, ...] = ()
    row_is_order: bool = False
    cancellation_prefix: str | None = None
    date_format: str | None = None

    @property
    def mapped(self) -> dict[str, str]:
        """Every column read: canonical name (of orders or customers) -> header."""
        return {**self.columns, **self.customer_attributes}


class _Export(NamedTuple):
    """A kind of export, and the rules that come with it."""

    name: str
    row_is_order: bool = False  # CDNOW: each row is an order, the file has no order id
    cancellation_prefix: str | None = None  # Online Retail: "C" invoices are cancellations
    date_format: str | None = None


def resolve_layout(source: Source, mapping: UserMapping) -> Layout:
    """The layout of a file from its header, the column presets and the user's mapping."""
    by_norm: dict[str, str] = {}
    for name in source.header:
        by_norm.setdefault(_normalise_header(name), name)
    table = _which_table(source, mapping, by_norm)
    columns, attributes, used = _mapped_columns(source, mapping, table, by_norm)
    export = _known_export(source, set(by_norm), columns)
    _check_required(source, table, columns, row_is_order=export.row_is_order, mapping=mapping)
    return Layout(
        table=table,
        name=export.name,
        columns=columns,
        customer_attributes=attributes,
        unmapped=tuple(h for h in source.header if h not in used),
        row_is_order=export.row_is_order,
        cancellation_prefix=export.cancellation_prefix,
        date_format=export.date_format,
    )


def _normalise_header(name: str) -> str:
    text = unicodedata.normalize("NFKC", str(name)).lower().lstrip("\ufeff")
    return re.sub(r"[\s_\-./:()\[\]【】#]+", "", text)


def _match_aliases(
    aliases: Mapping[str, Sequence[str]], by_norm: Mapping[str, str], used: set[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for canonical, names in aliases.items():
        for alias in names:
            source = by_norm.get(_normalise_header(alias))
            if source is not None and source not in used:
                found[canonical] = source
                used.add(source)
                break
    return found


def _which_table(source: Source, mapping: UserMapping, by_norm: Mapping[str, str]) -> str:
    """The table whose columns the user's mapping names most, else the one the presets find."""
    present = set(by_norm)

    def user_sources(table: str) -> dict[str, str]:
        """The user's mapping for ``table``, restricted to headers this file has."""
        out: dict[str, str] = {}
        for canonical, wanted in mapping.tables.get(table, {}).items():
            if wanted is not None and (
                wanted in source.header or _normalise_header(wanted) in present
            ):
                out[canonical] = wanted
        return out

    presets = {table: _match_aliases(ALIASES[table], by_norm, set()) for table in ALIASES}
    user_hits = {table: user_sources(table) for table in ALIASES}
    if any(user_hits.values()):
        return max(ALIASES, key=lambda t: len(user_hits[t]))
    if any(c in presets["orders"] for c in ORDER_MARKERS):
        return "orders"
    if any(c in presets["campaigns"] for c in CAMPAIGN_MARKERS):
        return "campaigns"
    if any(c in presets["interactions"] for c in INTERACTION_MARKERS):
        return "interactions"
    if presets["customers"]:
        return "customers"
    raise _unknown_layout(source, mapping)


def _mapped_columns(
    source: Source, mapping: UserMapping, table: str, by_norm: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """The table's columns and (orders) customer attributes: canonical name -> header, the
    user's mapping first, then the presets; and the headers so used."""
    header = source.header
    used: set[str] = set()
    columns: dict[str, str] = {}
    user = mapping.tables.get(table, {})
    attribute_names = set(ORDER_CUSTOMER_ALIASES) if table == "orders" else set()
    user_attributes: dict[str, str] = {}
    for canonical, wanted in user.items():
        if wanted is None:
            continue
        actual = wanted if wanted in header else by_norm.get(_normalise_header(wanted))
        if actual is None:
            raise MappingError(
                f"{mapping.label}: maps {table}.{canonical} to column {wanted!r}, but "
                f"{source.display} has no such column (its columns: {shown_header(header)}); fix "
                f"the name in the mapping or remove that line"
            )
        if canonical in attribute_names and canonical not in ORDERS.dtypes:
            user_attributes[canonical] = actual
        else:
            columns[canonical] = actual
        used.add(actual)
    preset_aliases = {c: a for c, a in ALIASES[table].items() if c not in user}
    columns.update(_match_aliases(preset_aliases, by_norm, used))
    attributes: dict[str, str] = dict(user_attributes)
    if table == "orders":
        attribute_aliases = {
            c: a for c, a in ORDER_CUSTOMER_ALIASES.items() if c not in user and c not in columns
        }
        attributes.update(_match_aliases(attribute_aliases, by_norm, used))
    return columns, attributes, used


def _known_export(source: Source, present: set[str], columns: Mapping[str, str]) -> _Export:
    if source.headerless_layout is not None or present >= CDNOW_HEADER:
        return _Export(source.headerless_layout or "cdnow", row_is_order=True, date_format="%Y%m%d")
    if present >= ONLINE_RETAIL_HEADER:
        return _Export("online_retail", cancellation_prefix="C")
    if any(not s.isascii() for s in columns.values()):
        return _Export("chinese_shop")
    if all(s == c for c, s in columns.items()):
        return _Export("canonical")
    return _Export("generic")


def _unknown_layout(source: Source, mapping: UserMapping) -> SegmentationInputError:
    wanted = [w for cols in mapping.tables.values() for w in cols.values() if w is not None]
    if wanted:
        return MappingError(
            f"{mapping.label}: names columns {', '.join(wanted)}, but {source.display} has none "
            f"of them (its columns: {shown_header(source.header[:12])}); fix the names in the "
            f"mapping to match the header exactly"
        )
    return UnknownLayoutError(
        f"{source.display}: cannot tell whether this is an orders, customers or interactions "
        f"file from its header ({shown_header(source.header[:12])}). An orders file needs "
        f"an order id, customer id, date and amount (e.g. 订单号, 客户ID, 下单时间, 实付金额 or "
        f"order_id, customer_id, order_ts, amount); delete any title lines above the header, "
        f"rename the columns, or map them with --mapping"
    )


def _check_required(
    source: Source,
    table: str,
    columns: Mapping[str, str],
    *,
    row_is_order: bool,
    mapping: UserMapping,
) -> None:
    spec = TABLES[table]
    required = [c for c in spec.required if not (row_is_order and c == "order_id")]
    missing = [c for c in required if c not in columns]
    if table == "orders" and "amount" in missing and {"quantity", "unit_price"} <= set(columns):
        missing.remove("amount")  # amount = quantity x unit price, as in Online Retail
    if not missing:
        return
    column = missing[0]
    aliases = ", ".join(ALIASES[table][column][:6])
    extra = " (or quantity and unit_price, to compute it)" if column == "amount" else ""
    raise MissingColumnError(
        f"{source.display}: this {table} file has no {column} column{extra}; looked for "
        f"{aliases}; found columns: {shown_header(source.header)}. Rename the column in the file or "
        f"map it in a YAML file passed with --mapping ({table}: {{{column}: <your column>}})"
        + (f"; {mapping.label} does not map it" if mapping.tables else "")
    )
