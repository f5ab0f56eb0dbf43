"""Read raw exports into the canonical tables, with every row accounted for.

``ingest`` takes files or folders of exports (CSV in UTF-8, UTF-8 with BOM, GB18030/GBK or
UTF-16; gzip-compressed CSV; whitespace-separated text such as CDNOW; XLSX; Parquet), tells
from each header whether a file holds orders, customers or interactions, maps its columns to
the canonical names of :mod:`segmentation.schema` and parses dates and amounts. Every row
read ends in exactly one place::

    rows_in = rows_kept + rows_duplicate + sum(rows_quarantined over reasons)

per table, and this is checked on every run. Quarantined rows are kept with the file, the line
a user would see in an editor or Excel (header = line 1), the reason and the raw values.

Rules (see ``REASONS`` for every quarantine reason):

* Exact duplicates, compared on the mapped canonical values across all files of a table, are
  dropped and counted; the first occurrence (in file order, then line order) is kept.
* Orders without a customer id are guest orders: they stay in the orders table with
  ``customer_id`` missing, and quality reports their rows and share of revenue.
* Refunds and cancellations stay as negative amounts. Online Retail's ``C`` invoices are
  cancellations; a negative quantity on any other row is a return and stays too.
* A unit price of zero or below is quarantined unless the row is a refund that returns money
  (negative quantity or cancellation, and negative amount). A zero *amount* with no unit-price
  column (CDNOW's $0.00 rows) is kept and counted in ``zero_amount_rows``.
* Dates before ``earliest`` (default 1990-01-01) or after the ``as_of`` day are quarantined;
  with ``as_of=None`` there is no future-date check, so the result does not depend on today.
* Phone numbers, names and WeChat ids are replaced by keyed hashes (:mod:`segmentation.privacy`)
  before anything else sees them, including the quarantine.
* Customer attributes found on order exports (Online Retail's ``Country``, a shop's 省份 or
  手机号) go to the customers table, as each customer's latest non-missing value; with a
  customers file they only fill its gaps.
* Output order is deterministic: orders by ``order_ts``, interactions by ``ts``, then input
  file and line; customers by ``customer_id``. The same input gives byte-identical files.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from segmentation.arrays import arrow_text, strictly_increasing
from segmentation.errors import (
    EmptyInputError,
    InvalidOptionError,
    MappingError,
    MissingColumnError,
    NoUsableRowsError,
    SegmentationInputError,
    UnknownLayoutError,
    UnreadableFileError,
)
from segmentation.privacy import load_pii_key, pseudonymise
from segmentation.schema import (
    CUSTOMERS,
    INTERACTION_KINDS,
    INTERACTIONS,
    ORDERS,
    PII_COLUMNS,
    TABLES,
    TAG_SEPARATOR,
    conform,
)

__all__ = [
    "QUARANTINE_COLUMNS",
    "REASONS",
    "IngestResult",
    "ingest",
    "write_ingest",
]

# Every reason a row can be quarantined for, in priority order: a row with several problems
# is quarantined for the first one, so each row is counted once.
REASONS: dict[str, str] = {
    "wrong_field_count": "the line has more or fewer fields than the header",
    "truncated_row": "the file ends in the middle of this row (the export was cut off)",
    "missing_order_id": "no order id",
    "missing_customer_id": "no customer id (customers and interactions; guest orders are kept)",
    "missing_date": "no date",
    "unparsable_date": "the date matches no known format (nor an Excel serial number)",
    "unparsable_quantity": "the quantity is not a number",
    "unparsable_unit_price": "the unit price is not a number",
    "missing_amount": "no amount, and no quantity and unit price to compute it from",
    "unparsable_amount": "the amount is not a number, even allowing for ¥, 元 and separators",
    "missing_kind": "no interaction kind",
    "date_too_early": "dated before `earliest` (default 1990-01-01): usually a placeholder",
    "date_after_as_of": "dated after the as-of day",
    "nonpositive_unit_price": "unit price zero or below on a row that is not a refund",
    "repeated_customer_id": "a later row of the customers table has the same customer id",
}
_REASON_CODE: dict[str, int] = {name: code for code, name in enumerate(REASONS, start=1)}
_REASON_NAME: tuple[str, ...] = ("", *REASONS)

QUARANTINE_COLUMNS: tuple[str, ...] = ("file", "row", "table", "reason", "values")

# --- column presets ---------------------------------------------------------------------------
# Canonical column -> header names that mean it, most preferred first. Headers are compared
# after _normalise_header (case, spaces, underscores and full-width forms do not matter).
# fmt: off
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("order_id", "订单号", "订单编号", "订单id", "主订单号", "order_no",
                     "InvoiceNo", "invoice"),
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "order_ts": ("order_ts", "下单时间", "付款时间", "支付时间", "订单时间", "成交时间",
                     "创建时间", "order_time", "order_date", "InvoiceDate", "date", "datetime"),
        "amount": ("amount", "实付金额", "支付金额", "订单金额", "实付款", "实收金额", "成交金额",
                   "付款金额", "金额", "paid_amount", "order_amount", "dollar_value", "revenue",
                   "sales"),
        "quantity": ("quantity", "数量", "购买数量", "商品数量", "件数", "qty", "number_of_cds"),
        "unit_price": ("unit_price", "单价", "商品单价", "成交单价", "UnitPrice", "price"),
        "product_id": ("product_id", "商品编号", "商品编码", "商品ID", "货号", "sku", "sku_id",
                       "StockCode"),
        "product_name": ("product_name", "商品名称", "商品名", "商品标题", "商品", "item_name",
                         "Description"),
        "category": ("category", "品类", "类目", "商品类目", "商品分类", "分类"),
        "channel": ("channel", "下单渠道", "销售渠道", "订单来源", "渠道"),
        "store": ("store", "门店", "门店名称", "店铺", "店铺名称", "shop"),
    },
    "customers": {
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "first_seen_ts": ("first_seen_ts", "添加时间", "添加好友时间", "首次添加时间", "注册时间",
                          "入会时间", "创建时间", "first_seen", "created_at", "signup_date"),
        "region": ("region", "省份", "省", "地区", "所在地区", "province", "country"),
        "city": ("city", "城市", "所在城市"),
        "city_tier": ("city_tier", "城市等级", "城市线级", "城市级别"),
        "source_channel": ("source_channel", "来源渠道", "来源", "渠道来源", "添加渠道", "source"),
        "industry": ("industry", "行业"),
        "tags": ("tags", "标签", "客户标签", "企微标签"),
        "name": ("name", "姓名", "客户姓名", "真实姓名", "昵称"),
        "phone": ("phone", "手机号", "手机号码", "手机", "联系电话", "电话", "mobile"),
        "wechat_id": ("wechat_id", "微信号", "微信", "wechat", "wxid"),
    },
    "interactions": {
        "customer_id": ("customer_id", "客户ID", "客户编号", "买家ID", "会员ID", "会员编号",
                        "用户ID", "buyer_id", "member_id", "user_id"),
        "ts": ("ts", "互动时间", "发生时间", "行为时间", "时间", "event_time", "timestamp", "time",
               "date"),
        "kind": ("kind", "互动类型", "行为类型", "事件类型", "类型", "event_type", "event",
                 "type"),
    },
}
# Customer attributes that order exports often carry; they go to the customers table (the
# latest non-missing value per customer), never to orders, and PII among them is hashed.
_ORDER_CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "region": ("region", "Country", "省份", "收货省份", "province"),
    "city": ("city", "城市", "收货城市"),
    "phone": ("phone", "手机号", "买家手机号", "手机号码"),
    "name": ("买家姓名", "客户姓名"),
    "wechat_id": ("wechat_id", "微信号"),
}
# fmt: on
# A file belongs to a table when one of these canonical columns is found in its header.
_ORDER_MARKERS = ("order_id", "amount", "unit_price", "quantity")
_INTERACTION_MARKERS = ("kind",)

_ONLINE_RETAIL_HEADER = {"invoiceno", "stockcode", "invoicedate", "unitprice", "customerid"}
_CDNOW_HEADER = {"customerid", "date", "numberofcds", "dollarvalue"}
_CDNOW_MASTER_NAMES = ("customer_id", "date", "number_of_cds", "dollar_value")
_CDNOW_SAMPLE_NAMES = ("customer_id", "customer_index", "date", "number_of_cds", "dollar_value")

_DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}
# Cells that mean "no value"; "NA" is not among them because it can be a real code.
_NULL_TEXT = ["", "NULL", "null", "None", "NaN", "nan", "#N/A", "N/A"]
_HEAD_BYTES = 1 << 16

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
)
_MONTH_FIRST = tuple(f for f in _DATE_FORMATS if f.startswith("%m/"))
_DAY_FIRST = tuple(f for f in _DATE_FORMATS if f.startswith("%d/"))
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 in the 1900 date system
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31


# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    """The canonical tables read from one or more exports, with quarantine and quality.

    Attributes
    ----------
    orders : pandas.DataFrame
        Conforms to :data:`segmentation.schema.ORDERS`; sorted by ``order_ts``, ``order_id``
        and then the input file and line.
    customers : pandas.DataFrame or None
        Conforms to :data:`segmentation.schema.CUSTOMERS`, one row per customer, sorted by
        ``customer_id``; PII columns hold pseudonyms. ``None`` when no input holds customer
        attributes.
    interactions : pandas.DataFrame or None
        Conforms to :data:`segmentation.schema.INTERACTIONS`; ``None`` without an interaction
        log.
    quarantine : pandas.DataFrame
        One row per quarantined input row: ``file``, ``row`` (line number, header = 1),
        ``table``, ``reason`` (a key of ``REASONS``) and ``values`` (JSON of the raw values,
        PII pseudonymised).
    quality : dict
        Counts and checks, JSON-serialisable; written as ``quality.json``.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame | None
    interactions: pd.DataFrame | None
    quarantine: pd.DataFrame
    quality: dict[str, Any]

    def summary_line(self) -> str:
        """One line for the command line: rows in, kept, duplicate and quarantined."""
        q = self.quality
        quarantined = sum(q["rows_quarantined"].values())
        reasons = ", ".join(f"{k} {v:,}" for k, v in q["rows_quarantined"].items())
        return (
            f"orders: {q['rows_in']:,} rows in, {q['rows_kept']:,} kept, "
            f"{q['rows_duplicate']:,} duplicate, {quarantined:,} quarantined"
            + (f" ({reasons})" if reasons else "")
            + f"; {q['customers']:,} customers, {q['guests']['rows']:,} guest rows"
        )


def ingest(
    inputs: str | Path | Sequence[str | Path],
    *,
    mapping: str | Path | Mapping[str, Any] | None = None,
    as_of: str | date | datetime | pd.Timestamp | None = None,
    pii_key: bytes | str | None = None,
    earliest: str | date | datetime | pd.Timestamp | None = "1990-01-01",
) -> IngestResult:
    """Read exports into validated canonical tables, accounting for every row.

    Parameters
    ----------
    inputs : str, Path or sequence of them
        Files or folders. Folders are read recursively (``.csv``, ``.tsv``, ``.txt``, ``.gz``,
        ``.xlsx``, ``.xlsm``, ``.parquet``), skipping hidden files, Excel lock files and
        ``README*``; files are read in the order given, a folder's files sorted by path. A file
        named twice is read once.
    mapping : str, Path or dict, optional
        A YAML file (or the same structure as a dict) overriding the built-in column presets::

            orders:               # canonical name: header in your file
              order_id: 单据编号
              amount: 成交额
              store: ~            # ~ (null): do not read this column
            customers: {phone: 联系方式}
            interactions: {kind: 动作}
            interaction_kinds: {点击链接: visit}

    as_of : str or datetime-like, optional
        Rows dated after this day (the whole day included) are quarantined as
        ``date_after_as_of``. ``None``: no future-date check, so results never depend on the
        day they are run.
    pii_key : bytes or str, optional
        Key for pseudonymising PII; by default :func:`segmentation.privacy.load_pii_key`, read
        only when an input has a phone, name or WeChat id column.
    earliest : str or datetime-like, optional, default "1990-01-01"
        Rows dated before this are quarantined as ``date_too_early``; ``None`` disables.

    Returns
    -------
    IngestResult

    Raises
    ------
    MissingColumnError
        A file lacks a required column under every known name.
    EmptyInputError
        A file is empty or holds only a header, a folder holds no data files, or no input is
        an orders file.
    UnreadableFileError
        A path does not exist or a file cannot be decoded or parsed.
    UnknownLayoutError
        A file's header is not recognisably orders, customers or interactions.
    MappingError
        The mapping is malformed or names a column that the file does not have.
    NoUsableRowsError
        Every row of a table was dropped as duplicate or quarantined.
    InvalidOptionError
        ``as_of`` or ``earliest`` is not a date.
    """
    options = _Options(
        as_of=_option_timestamp(as_of, "as_of"),
        earliest=_option_timestamp(earliest, "earliest"),
        mapping=_load_mapping(mapping),
    )
    keys = _KeyProvider(pii_key)
    paths, repeated = _expand_inputs(inputs)
    parts: dict[str, list[_Part]] = {name: [] for name in TABLES}
    files: list[dict[str, Any]] = []
    for file_index, path in enumerate(paths):
        source = _read_source(path)
        layout = _resolve_layout(source, options.mapping)
        part = _PARSERS[layout.table](source, layout, options, keys, file_index)
        if layout.table != "customers":  # customers' repeated ids are known once all are read
            _release_source(part, part.reason)
        parts[layout.table].append(part)
        files.append(_file_info(source, layout, part))
    if not parts["orders"]:
        listed = ", ".join(f"{f['path']} ({f['table']})" for f in files)
        raise EmptyInputError(
            f"no orders file among the inputs: {listed}. Give at least one order export "
            f"(columns such as 订单号, 客户ID, 下单时间, 实付金额 or order_id, customer_id, "
            f"order_ts, amount)"
        )
    with ThreadPoolExecutor(max_workers=1) as beside:
        orders = _assemble("orders", parts["orders"])
        # Order ids are the one text with a value per order: coding them is the longest single
        # step, so it runs on the other core (pyarrow lets go of the GIL) while the other
        # tables are assembled.
        order_ids = beside.submit(_dictionary_column, orders.table["order_id"], sort=False)
        assembled = {"orders": orders} | {
            name: _assemble(name, table_parts)
            for name, table_parts in parts.items()
            if table_parts and name != "orders"
        }
        customers = _customers_table(assembled.get("customers"), orders)
        interactions = assembled.get("interactions")
        quarantine = _quarantine_frame([a.quarantine for a in assembled.values()])
        quality = _quality(
            assembled,
            customers=customers,
            files=files,
            repeated=repeated,
            options=options,
            pii_columns=keys.columns_pseudonymised,
        )
        encoded_orders, encoded_customers = _dictionary_encoded(
            orders, customers, coded={"order_id": order_ids.result()}
        )
    return IngestResult(
        orders=encoded_orders,
        customers=encoded_customers,
        interactions=interactions.table if interactions is not None else None,
        quarantine=quarantine,
        quality=quality,
    )


def write_ingest(result: IngestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write an :class:`IngestResult` to a folder.

    Layout::

        out_dir/orders.parquet        always
        out_dir/customers.parquet     when there are customer attributes
        out_dir/interactions.parquet  when there is an interaction log
        out_dir/quarantine.csv        always (header only when nothing was quarantined);
                                      UTF-8 with BOM so Excel shows Chinese text
        out_dir/quality.json          the counts, UTF-8

    Parameters
    ----------
    result : IngestResult
    out_dir : str or Path
        Created if absent; existing files of the same names are overwritten.

    Returns
    -------
    dict of str to Path
        ``orders``, ``customers``, ``interactions`` (when written), ``quarantine``,
        ``quality``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    tables = {
        "orders": result.orders,
        "customers": result.customers,
        "interactions": result.interactions,
    }
    for name, frame in tables.items():
        if frame is None:
            continue
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        written[name] = path
    path = out / "quarantine.csv"
    result.quarantine.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    written["quarantine"] = path
    path = out / "quality.json"
    path.write_text(
        json.dumps(result.quality, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    written["quality"] = path
    return written


# --- options, mapping and keys ----------------------------------------------------------------


@dataclass(frozen=True)
class _UserMapping:
    label: str
    tables: dict[str, dict[str, str | None]]
    kinds: dict[str, str]


@dataclass(frozen=True)
class _Options:
    as_of: pd.Timestamp | None
    earliest: pd.Timestamp | None
    mapping: _UserMapping

    @property
    def as_of_cutoff(self) -> pd.Timestamp | None:
        # The as-of day is included whole, as features.as_of_cutoff counts it.
        return None if self.as_of is None else self.as_of.normalize() + pd.Timedelta(days=1)


class _KeyProvider:
    """Loads the PII key only when a file has PII, so other runs never create a key file."""

    def __init__(self, key: bytes | str | None) -> None:
        self._key = key
        self.columns_pseudonymised: set[str] = set()

    def key(self) -> bytes | str:
        if self._key is None:
            self._key = load_pii_key()
        return self._key


def _option_timestamp(value: object, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as error:
        raise InvalidOptionError(
            f"{name}={value!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-06-30)"
        ) from error
    if stamp is pd.NaT or pd.isna(stamp):
        raise InvalidOptionError(f"{name}={value!r} is not a date; write it as YYYY-MM-DD")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp


def _load_mapping(mapping: str | Path | Mapping[str, Any] | None) -> _UserMapping:
    if mapping is None:
        return _UserMapping(label="mapping", tables={}, kinds={})
    if isinstance(mapping, str | Path):
        label = str(mapping)
        path = Path(mapping)
        if not path.is_file():
            raise MappingError(
                f"{label}: mapping file not found; check the path given to --mapping"
            )
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            detail = " ".join(str(error).split())
            raise MappingError(
                f"{label}: not valid YAML in UTF-8 ({detail}); see the mapping example in README"
            ) from error
    else:
        label, raw = "mapping", mapping
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise MappingError(
            f"{label}: expected sections orders:, customers:, interactions: or "
            f"interaction_kinds:, found {type(raw).__name__}"
        )
    allowed = {
        "orders": set(ORDERS.columns) | set(_ORDER_CUSTOMER_ALIASES),
        "customers": set(CUSTOMERS.columns),
        "interactions": set(INTERACTIONS.columns),
    }
    tables: dict[str, dict[str, str | None]] = {}
    kinds: dict[str, str] = {}
    for section, body in raw.items():
        if section == "interaction_kinds":
            if not isinstance(body, Mapping):
                raise MappingError(f"{label}: interaction_kinds must map a kind to a name")
            kinds = {str(k).strip(): str(v).strip() for k, v in body.items()}
            continue
        if section not in allowed:
            raise MappingError(
                f"{label}: unknown section {section!r}; use orders, customers, interactions or "
                f"interaction_kinds"
            )
        if not isinstance(body, Mapping):
            raise MappingError(
                f"{label}: section {section} must map canonical names to your headers, e.g. "
                f"'amount: 成交金额'"
            )
        columns: dict[str, str | None] = {}
        for canonical, source in body.items():
            if canonical not in allowed[section]:
                raise MappingError(
                    f"{label}: {section}.{canonical} is not a canonical column; "
                    f"{section} has {', '.join(sorted(allowed[section]))}"
                )
            columns[str(canonical)] = None if source is None else str(source)
        tables[str(section)] = columns
    return _UserMapping(label=label, tables=tables, kinds=kinds)


# --- finding and reading files ----------------------------------------------------------------


def _expand_inputs(inputs: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    given = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not given:
        raise EmptyInputError("no input given; pass an export file or a folder of exports")
    paths: list[Path] = []
    seen: set[Path] = set()
    repeated: list[str] = []
    for item in given:
        path = Path(item)
        if not path.exists():
            raise UnreadableFileError(
                f"{path}: no such file or folder; check the path (relative paths start from "
                f"{Path.cwd()})"
            )
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and _is_data_file(p.relative_to(path))),
                key=lambda p: p.relative_to(path).as_posix(),
            )
            if not found:
                raise EmptyInputError(
                    f"{path}: the folder holds no data files ({', '.join(sorted(_DATA_SUFFIXES))}); "
                    f"put the exports there or give the files themselves"
                )
        else:
            found = [path]
        for file in found:
            resolved = file.resolve()
            if resolved in seen:
                repeated.append(str(file))
                continue
            seen.add(resolved)
            paths.append(file)
    return paths, repeated


def _is_data_file(relative: Path) -> bool:
    if any(part.startswith((".", "~$")) for part in relative.parts):
        return False
    if relative.name.lower().startswith("readme") or relative.name == "quarantine.csv":
        return False
    return relative.suffix.lower() in _DATA_SUFFIXES


@dataclass
class _BadRow:
    """A line that could not be split into the header's fields."""

    line: int
    fields: list[str]
    reason: str


@dataclass
class _Source:
    """One input file, read into string (or, for Parquet, typed) columns."""

    path: Path
    sha256: str
    size: int
    file_format: str
    header: list[str]
    # Emptied by _release_source once the file is parsed: lines() and has_multiline_values()
    # read it, so they are called before then (the quarantine keeps what they gave).
    table: pa.Table
    # Index of each table row among the file's records (blank lines removed from the table).
    records: np.ndarray
    bad_rows: list[_BadRow] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    headerless_layout: str | None = None
    blank_rows: int = 0
    notes: list[str] = field(default_factory=list)
    # Line number of each record, when the reader knows them exactly (whitespace, XLSX).
    record_lines: np.ndarray | None = None
    # For CSV: line of the first data record, and row numbers pyarrow skipped as invalid.
    first_data_row: int = 2
    skipped_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    multiline: bool | None = None

    @property
    def display(self) -> str:
        return str(self.path)

    def lines(self, records: np.ndarray) -> np.ndarray:
        """1-based line numbers (header = 1) of the given record indices."""
        records = np.asarray(records, dtype=np.int64)
        if self.record_lines is not None:
            return self.record_lines[records]
        skipped = self.skipped_rows
        # A skipped row k would have been record (k - first - j) had it not been skipped.
        shifted = skipped - self.first_data_row - np.arange(len(skipped))
        rows = self.first_data_row + records + np.searchsorted(shifted, records, side="right")
        if self.file_format in {"csv", "csv.gz"} and self.has_multiline_values():
            # Quoted values with line breaks: a record's row number is not its line number.
            starts = _physical_row_starts(self)
            return starts[np.minimum(rows, len(starts) - 1)]
        return rows

    def has_multiline_values(self) -> bool:
        """Whether a quoted value holds a line break (then rows and lines differ)."""
        if self.multiline is None:
            # Search the raw text buffers (memchr speed) rather than every value.
            self.multiline = any(
                re.search(b"\n", memoryview(chunk.buffers()[2])) is not None
                for column in self.table.columns
                if pa.types.is_string(column.type)
                for chunk in column.chunks
                if chunk.buffers()[2] is not None
            )
        return self.multiline


def _read_source(path: Path) -> _Source:
    try:
        raw_head, size, sha256 = _head_and_digest(path)
    except OSError as error:
        raise UnreadableFileError(
            f"{path}: cannot be read ({error.strerror}); check that it exists and you may read it"
        ) from error
    if size == 0:
        raise EmptyInputError(f"{path}: the file is empty (0 bytes); export it again")
    if raw_head.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, size=size, sha256=sha256)
    if raw_head.startswith(b"PAR1"):
        return _read_parquet(path, size=size, sha256=sha256)
    if raw_head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFileError(
            f"{path}: an old Excel .xls workbook, which is not supported; open it in Excel or "
            f"WPS and save it as .xlsx or CSV"
        )
    compressed = raw_head.startswith(b"\x1f\x8b")
    if compressed:
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except (OSError, EOFError) as error:
            raise UnreadableFileError(
                f"{path}: looks gzip-compressed but cannot be decompressed ({error}); download "
                f"it again"
            ) from error
    else:
        head = raw_head
    return _read_text(path, head, compressed=compressed, size=size, sha256=sha256)


def _head_and_digest(path: Path) -> tuple[bytes, int, str]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if not head:
                head = chunk[:_HEAD_BYTES]
            digest.update(chunk)
            size += len(chunk)
    return head, size, digest.hexdigest()


def _detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise UnreadableFileError(
            f"{path}: binary data, not text, CSV, XLSX or Parquet; export the data as CSV or XLSX"
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            # Incremental: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnreadableFileError(
        f"{path}: text in an unknown encoding (neither UTF-8 nor GB18030/GBK); save it as "
        f"CSV UTF-8 from Excel or WPS"
    )


def _read_text(path: Path, head: bytes, *, compressed: bool, size: int, sha256: str) -> _Source:
    encoding = _detect_encoding(head, path)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    lines = text.lstrip("\ufeff").splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise EmptyInputError(f"{path}: the file holds no text, only blank lines; export it again")
    header_line = lines[header_index]
    delimiter = _sniff_delimiter(header_line, path)
    headerless_layout = None
    if delimiter is None:
        # Whitespace-separated (CDNOW): rewritten as tab-separated text for the CSV reader.
        try:
            raw = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
            full = raw.decode(encoding).lstrip("\ufeff")
        except (UnicodeDecodeError, OSError, EOFError) as error:
            raise UnreadableFileError(
                f"{path}: cannot be decoded as {encoding} ({error}); save it as UTF-8 text"
            ) from error
        tabbed = re.sub(r"[ \t]+", "\t", re.sub(r"(?m)^[ \t]+|[ \t]+$", "", full))
        header = header_line.split()
        if _looks_like_data(header):
            names, headerless_layout = _headerless_layout(header, path, header_index)
        else:
            names = _unique_names(header)
        data = tabbed.encode("utf-8")

        def opener() -> pa.NativeFile:
            return pa.BufferReader(data)

        arrow_encoding, file_format, quoting, field_delimiter = "utf8", "whitespace", False, "\t"
    else:
        header = next(csv.reader([header_line], delimiter=delimiter))
        if _looks_like_data(header):
            raise UnknownLayoutError(
                f"{path}: line {header_index + 1} looks like data, not a header (its "
                f"{len(header)} fields are all numbers or dates); add a header line naming the "
                f"columns (e.g. order_id, customer_id, order_ts, amount)"
            )
        names = _unique_names(header)

        def opener() -> pa.NativeFile:
            stream = pa.OSFile(str(path))
            return pa.CompressedInputStream(stream, "gzip") if compressed else stream

        arrow_encoding = "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding
        file_format = "csv.gz" if compressed else "csv"
        quoting, field_delimiter = True, delimiter
    # Rows before the data: blank lines and the header, unless the file has none.
    skip_rows = header_index + (0 if headerless_layout else 1)
    table, skipped, bad_text, arrow_encoding = _read_csv_arrow(
        path,
        opener,
        names=names,
        encoding=arrow_encoding,
        delimiter=field_delimiter,
        skip_rows=skip_rows,
        quoting=quoting,
    )
    if arrow_encoding == "gb18030" and encoding != "gb18030":
        encoding = "gb18030"
    first_data_row = skip_rows + 1
    table, records, blank_rows = _drop_blank_rows(table)
    source = _Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format=file_format + (".gz" if compressed and delimiter is None else ""),
        header=names,
        table=table,
        records=records,
        encoding=encoding,
        delimiter=delimiter or "whitespace",
        headerless_layout=headerless_layout,
        first_data_row=first_data_row,
        blank_rows=blank_rows,
    )
    n_records = len(records) + blank_rows
    last_row = first_data_row + n_records + len(skipped) - 1
    # A short last row is a cut-off export only if the file does not end with a line break.
    if delimiter is None:
        cut_off = not full.endswith("\n")
    elif compressed:
        cut_off = True  # not known without decompressing again: a short last row is cut off
    else:
        cut_off = not _ends_with_newline(path)
    bad_rows: list[_BadRow] = []
    for row_number, row_text in zip(skipped, bad_text, strict=True):
        if delimiter is None:
            fields = row_text.split("\t") if row_text else []
        else:
            fields = next(csv.reader(io.StringIO(row_text), delimiter=delimiter), [])
        if not "".join(fields).strip():
            source.blank_rows += 1  # a whitespace-only line is blank, not a row
            continue
        short = len(fields) < len(names)
        truncated = short and cut_off and row_number == last_row
        reason = "truncated_row" if truncated else "wrong_field_count"
        bad_rows.append(_BadRow(line=row_number, fields=fields, reason=reason))
    source.skipped_rows = np.array(sorted(skipped), dtype=np.int64)
    if bad_rows and source.has_multiline_values():
        starts = _physical_row_starts(source)
        for bad in bad_rows:
            bad.line = int(starts[min(bad.line, len(starts) - 1)])
    source.bad_rows = bad_rows
    if table.num_rows == 0 and not bad_rows:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise EmptyInputError(
            f"{path}: holds a header ({shown}) but no data rows; export it again with the rows"
        )
    return source


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def _headerless_layout(first: list[str], path: Path, index: int) -> tuple[list[str], str]:
    """Column names for a whitespace file without a header: only CDNOW's are known."""
    if len(first) == 5 and re.fullmatch(r"\d{8}", first[2]):
        return list(_CDNOW_SAMPLE_NAMES), "cdnow_sample"
    if len(first) == 4 and re.fullmatch(r"\d{8}", first[1]):
        return list(_CDNOW_MASTER_NAMES), "cdnow"
    raise UnknownLayoutError(
        f"{path}: line {index + 1} looks like data, not a header (its {len(first)} fields are "
        f"all numbers or dates); add a header line naming the columns (e.g. customer_id date "
        f"amount)"
    )


def _sniff_delimiter(line: str, path: Path) -> str | None:
    """The header's delimiter; ``None`` for whitespace-separated text such as CDNOW."""
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    if path.suffix.lower() == ".tsv" and counts["\t"]:
        return "\t"
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    return None if len(line.split()) > 1 else ","


def _looks_like_data(fields: Sequence[str]) -> bool:
    # A header has at least one name that is not a number or a date.
    return all(re.fullmatch(r"\s*[-+]?[\d.:/ -]+\s*", f or "0") for f in fields)


def _unique_names(header: Sequence[str]) -> list[str]:
    names: list[str] = []
    for position, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff") or f"column_{position + 1}"
        candidate, k = name, 1
        while candidate in names:
            candidate = f"{name}.{k}"
            k += 1
        names.append(candidate)
    return names


def _read_csv_arrow(
    path: Path,
    opener: Any,
    *,
    names: list[str],
    encoding: str,
    delimiter: str,
    skip_rows: int,
    quoting: bool,
) -> tuple[pa.Table, list[int], list[str], str]:
    """Read delimited text with pyarrow: every column as text, invalid rows set aside.

    Returns the table, the row numbers and text of the rows that did not split into the
    header's fields, and the encoding actually used.
    """

    def read(arrow_encoding: str, *, use_threads: bool) -> tuple[pa.Table, list[Any]]:
        invalid: list[Any] = []

        def on_invalid(row: Any) -> str:
            invalid.append(row)
            return "skip"

        source = opener()
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows=skip_rows,
                    encoding=arrow_encoding,
                    use_threads=use_threads,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    quote_char='"' if quoting else False,
                    newlines_in_values=quoting,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    null_values=_NULL_TEXT,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        finally:
            source.close()
        return table, invalid

    def read_numbered(arrow_encoding: str) -> tuple[pa.Table, list[Any]]:
        # Threads parse blocks in parallel (about half the time on two cores), but only a
        # single-threaded read knows the row number of a row that fails to split: a file
        # with such rows is read again that way, so the quarantine can name their lines.
        table, invalid = read(arrow_encoding, use_threads=True)
        if invalid:
            table, invalid = read(arrow_encoding, use_threads=False)
        return table, invalid

    try:
        try:
            table, invalid = read_numbered(encoding)
        except pa.ArrowInvalid as error:
            if encoding != "utf8" or "UTF8" not in str(error):
                raise
            # The sample was UTF-8 but a later part is not: a GBK export with ASCII at the top.
            encoding = "gb18030"
            table, invalid = read_numbered(encoding)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as error:
        # The reader's message can end with the offending row: keep only its first two parts,
        # so no raw value (a phone number) reaches the terminal or a log.
        detail = ": ".join(" ".join(str(error).split()).split(": ")[:2])[:160]
        raise UnreadableFileError(
            f"{path}: cannot be parsed as {encoding} text with {delimiter!r} between fields "
            f"({detail}); open it in Excel or WPS and save it as CSV UTF-8"
        ) from error
    return table, [int(row.number) for row in invalid], [str(row.text) for row in invalid], encoding


def _drop_blank_rows(table: pa.Table) -> tuple[pa.Table, np.ndarray, int]:
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return table, np.arange(n, dtype=np.int64), 0
    blank = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        blank = pc.and_(blank, pc.is_null(column))
    blank_np = blank.to_numpy(zero_copy_only=False)
    if not blank_np.any():
        return table, np.arange(n, dtype=np.int64), 0
    keep = ~blank_np
    return table.filter(pa.array(keep)), np.flatnonzero(keep), int(blank_np.sum())


def _physical_row_starts(source: _Source) -> np.ndarray:
    """Line on which each CSV row (1-based, as pyarrow counts rows) starts."""
    raw = source.path.read_bytes()
    if source.file_format == "csv.gz":
        raw = gzip.decompress(raw)
    text = raw.decode(source.encoding or "utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter or ",")
    starts = [0]
    previous_end = 0
    for _ in reader:
        starts.append(previous_end + 1)
        previous_end = reader.line_num
    return np.array(starts, dtype=np.int64)


def _read_xlsx(path: Path, *, size: int, sha256: str) -> _Source:
    """The first worksheet; row numbers are Excel's, so the quarantine points at real cells."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(
            f"{path}: not a readable XLSX workbook ({type(error).__name__}: {error}); open and "
            f"save it again in Excel or WPS, or export CSV"
        ) from error
    try:
        sheet = workbook.worksheets[0]
        notes = []
        if len(workbook.sheetnames) > 1:
            notes.append(f"sheets not read: {', '.join(workbook.sheetnames[1:])}")
        header: list[str] | None = None
        values: list[list[str | None]] = []
        lines: list[int] = []
        bad_rows: list[_BadRow] = []
        for row_number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in row]
            if not any(c is not None for c in cells):
                continue
            if header is None:
                while cells and cells[-1] is None:
                    cells.pop()  # trailing empty header cells
                header = _unique_names([c or "" for c in cells])
                continue
            extra = cells[len(header) :]
            cells = cells[: len(header)] + [None] * (len(header) - len(cells))
            if any(c is not None for c in extra):
                fields = [c or "" for c in cells + extra]
                bad_rows.append(_BadRow(row_number, fields, "wrong_field_count"))
                continue
            values.append(cells)
            lines.append(row_number)
    finally:
        workbook.close()
    if header is None:
        raise EmptyInputError(f"{path}: the first worksheet is empty; export it again")
    if not values and not bad_rows:
        raise EmptyInputError(
            f"{path}: the first worksheet holds a header ({', '.join(header[:6])}) but no data "
            f"rows; export it again with the rows"
        )
    columns = list(zip(*values, strict=True)) if values else [() for _ in header]
    table = pa.table(
        {
            name: pa.array(list(col), type=pa.string())
            for name, col in zip(header, columns, strict=True)
        }
    )
    return _Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format="xlsx",
        header=header,
        table=table,
        records=np.arange(len(values), dtype=np.int64),
        bad_rows=bad_rows,
        record_lines=np.array(lines, dtype=np.int64),
        notes=notes,
    )


def _cell_text(value: object) -> str | None:
    """An Excel cell as the text a CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Whole numbers without ".0": ids stored as numbers and Excel serial dates.
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def _read_parquet(path: Path, *, size: int, sha256: str) -> _Source:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise UnreadableFileError(
            f"{path}: not a readable Parquet file ({error}); write it again"
        ) from error
    if table.num_rows == 0:
        raise EmptyInputError(
            f"{path}: holds columns ({', '.join(table.column_names[:6])}) but no rows"
        )
    table = table.rename_columns(_unique_names([str(c) for c in table.column_names]))
    table, records, blank_rows = _drop_blank_rows(table)
    return _Source(
        path=path,
        sha256=sha256,
        size=size,
        file_format="parquet",
        header=list(table.column_names),
        table=table,
        records=records,
        blank_rows=blank_rows,
        # No lines in Parquet: record k (0-based) is reported as row k + 2, where it would be
        # in a CSV or Excel export with a header.
        record_lines=np.arange(table.num_rows + blank_rows, dtype=np.int64) + 2,
    )


# --- layouts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
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


def _resolve_layout(source: _Source, mapping: _UserMapping) -> _Layout:
    header = source.header
    by_norm: dict[str, str] = {}
    for name in header:
        by_norm.setdefault(_normalise_header(name), name)
    present = set(by_norm)

    def user_sources(table: str) -> dict[str, str]:
        """The user's mapping for ``table``, restricted to headers this file has."""
        out: dict[str, str] = {}
        for canonical, wanted in mapping.tables.get(table, {}).items():
            if wanted is not None and (wanted in header or _normalise_header(wanted) in present):
                out[canonical] = wanted
        return out

    presets = {table: _match_aliases(_ALIASES[table], by_norm, set()) for table in _ALIASES}
    user_hits = {table: user_sources(table) for table in _ALIASES}
    if any(user_hits.values()):
        table = max(_ALIASES, key=lambda t: len(user_hits[t]))
    elif any(c in presets["orders"] for c in _ORDER_MARKERS):
        table = "orders"
    elif any(c in presets["interactions"] for c in _INTERACTION_MARKERS):
        table = "interactions"
    elif presets["customers"]:
        table = "customers"
    else:
        raise _unknown_layout(source, mapping)

    used: set[str] = set()
    columns: dict[str, str] = {}
    user = mapping.tables.get(table, {})
    attribute_names = set(_ORDER_CUSTOMER_ALIASES) if table == "orders" else set()
    user_attributes: dict[str, str] = {}
    for canonical, wanted in user.items():
        if wanted is None:
            continue
        actual = wanted if wanted in header else by_norm.get(_normalise_header(wanted))
        if actual is None:
            raise MappingError(
                f"{mapping.label}: maps {table}.{canonical} to column {wanted!r}, but "
                f"{source.display} has no such column (its columns: {', '.join(header)}); fix "
                f"the name in the mapping or remove that line"
            )
        if canonical in attribute_names and canonical not in ORDERS.dtypes:
            user_attributes[canonical] = actual
        else:
            columns[canonical] = actual
        used.add(actual)
    preset_aliases = {c: a for c, a in _ALIASES[table].items() if c not in user}
    columns.update(_match_aliases(preset_aliases, by_norm, used))
    attributes: dict[str, str] = dict(user_attributes)
    if table == "orders":
        attribute_aliases = {
            c: a for c, a in _ORDER_CUSTOMER_ALIASES.items() if c not in user and c not in columns
        }
        attributes.update(_match_aliases(attribute_aliases, by_norm, used))

    name = "generic"
    row_is_order, cancellation_prefix, date_format = False, None, None
    if source.headerless_layout is not None or present >= _CDNOW_HEADER:
        name = source.headerless_layout or "cdnow"
        row_is_order, date_format = True, "%Y%m%d"
    elif present >= _ONLINE_RETAIL_HEADER:
        name, cancellation_prefix = "online_retail", "C"
    elif any(not s.isascii() for s in columns.values()):
        name = "chinese_shop"
    elif all(s == c for c, s in columns.items()):
        name = "canonical"
    _check_required(source, table, columns, row_is_order=row_is_order, mapping=mapping)
    return _Layout(
        table=table,
        name=name,
        columns=columns,
        customer_attributes=attributes,
        unmapped=tuple(h for h in header if h not in used),
        row_is_order=row_is_order,
        cancellation_prefix=cancellation_prefix,
        date_format=date_format,
    )


def _unknown_layout(source: _Source, mapping: _UserMapping) -> SegmentationInputError:
    wanted = [w for cols in mapping.tables.values() for w in cols.values() if w is not None]
    if wanted:
        return MappingError(
            f"{mapping.label}: names columns {', '.join(wanted)}, but {source.display} has none "
            f"of them (its columns: {', '.join(source.header[:12])}); fix the names in the "
            f"mapping to match the header exactly"
        )
    return UnknownLayoutError(
        f"{source.display}: cannot tell whether this is an orders, customers or interactions "
        f"file from its header ({', '.join(source.header[:12])}). An orders file needs "
        f"an order id, customer id, date and amount (e.g. 订单号, 客户ID, 下单时间, 实付金额 or "
        f"order_id, customer_id, order_ts, amount); delete any title lines above the header, "
        f"rename the columns, or map them with --mapping"
    )


def _check_required(
    source: _Source,
    table: str,
    columns: Mapping[str, str],
    *,
    row_is_order: bool,
    mapping: _UserMapping,
) -> None:
    spec = TABLES[table]
    required = [c for c in spec.required if not (row_is_order and c == "order_id")]
    missing = [c for c in required if c not in columns]
    if table == "orders" and "amount" in missing and {"quantity", "unit_price"} <= set(columns):
        missing.remove("amount")  # amount = quantity x unit price, as in Online Retail
    if not missing:
        return
    column = missing[0]
    aliases = ", ".join(_ALIASES[table][column][:6])
    extra = " (or quantity and unit_price, to compute it)" if column == "amount" else ""
    raise MissingColumnError(
        f"{source.display}: this {table} file has no {column} column{extra}; looked for "
        f"{aliases}; found columns: {', '.join(source.header)}. Rename the column in the file or "
        f"map it in a YAML file passed with --mapping ({table}: {{{column}: <your column>}})"
        + (f"; {mapping.label} does not map it" if mapping.tables else "")
    )


# --- parsing values ---------------------------------------------------------------------------


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_floating(column.type):
        # Whole floats without ".0", so a numeric id column reads like the text export.
        as_int = pc.cast(column, pa.int64(), safe=False)
        whole = pc.equal(pc.cast(as_int, pa.float64()), column)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(column, pa.string()))
    return pc.cast(column, pa.string())


def _clean_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip surrounding whitespace; empty becomes missing."""
    text = pc.utf8_trim_whitespace(_as_text(column))
    if pc.any(pc.equal(text, "")).as_py():
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return text


def _clean_ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Ids as text; ``17850.0`` (a number that went through Excel or pandas) becomes ``17850``."""
    column = _as_text(column)
    if pc.any(pc.ends_with(column, ".0")).as_py():
        # Float-like ids: clean the few distinct values, then expand. Much faster than
        # cleaning every row when, as in Online Retail, every id ends in ".0".
        encoded = pc.dictionary_encode(column.combine_chunks())
        dictionary = _strip_float_suffix(_clean_text(pa.chunked_array([encoded.dictionary])))
        return pa.chunked_array([pc.take(dictionary.combine_chunks(), encoded.indices)])
    text = _clean_text(column)
    if pc.any(pc.ends_with(text, ".0")).as_py():  # " 17850.0 ": only after trimming
        text = _strip_float_suffix(text)
    return text


def _strip_float_suffix(text: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.replace_substring_regex(text, r"^(\d+)\.0+$", r"\1")


def _valid(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def _to_float_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    # Missing values come out as NaN.
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(), dtype=np.float64)


def _parse_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from a column; returns (values with NaN where missing, failed mask).

    Clean numbers are converted in one vectorised cast; only the values that fail it go
    through :func:`_parse_number_text` (currency signs, separators), once per distinct text.
    """
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or (pa.types.is_decimal(column.type))
        ):
            values = _to_float_numpy(column)
            return values, _valid(column) & ~np.isfinite(values)
        column = _as_text(column)
    try:
        # Fast path: a clean column casts in one go (empty cells are already missing).
        values = _to_float_numpy(column)
    except pa.ArrowInvalid:
        pass
    else:
        present = _valid(column)
        return values, present & ~np.isfinite(values)
    text = pc.utf8_trim_whitespace(column)
    present = _valid(text) & np.asarray(
        pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False), dtype=bool
    )
    try:
        values = _to_float_numpy(text)
    except pa.ArrowInvalid:
        clean = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER), False)
        values = _to_float_numpy(pc.if_else(clean, text, pa.scalar(None, pa.string())))
        todo = present & ~np.asarray(clean.to_numpy(zero_copy_only=False), dtype=bool)
        if todo.any():
            raw = text.to_pandas().to_numpy(dtype=object)
            values = values.copy()  # arrow's buffer is read-only
            values[todo] = _map_unique(raw[todo], _parse_number_text)
    values = np.where(present, values, np.nan)
    return values, present & ~np.isfinite(values)


def _map_unique(values: np.ndarray, parse: Any) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    parsed = np.array([parse(str(v)) for v in uniques], dtype=object)
    out = parsed[codes] if len(parsed) else np.array([], dtype=object)
    return np.array([np.nan if v is None else v for v in out], dtype=object)


def _parse_number_text(text: str) -> float | None:
    """A number as shops write it: ``¥1,234.50``, ``1 234,50``, ``12.3元``, ``(5.00)``, ``1.2万``."""
    t = unicodedata.normalize("NFKC", text).strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    t = re.sub(r"(?i)人民币|rmb|cny|usd|[¥$€£元\s']", "", t)
    scale = 1.0
    if t.endswith("万"):
        scale, t = 10_000.0, t[:-1]
    if t.startswith("-"):
        negative, t = not negative, t[1:]
    elif t.startswith("+"):
        t = t[1:]
    if "," in t and "." in t:
        # The later separator is the decimal one: 1,234.50 or 1.234,50.
        thousands = "," if t.rindex(",") < t.rindex(".") else "."
        t = t.replace(thousands, "")
        t = t.replace(",", ".")
    elif "," in t:
        groups = t.split(",")
        # One comma and not three digits after it is a decimal comma (1234,5 or 1 234,50).
        t = t.replace(",", ".") if len(groups) == 2 and len(groups[1]) != 3 else t.replace(",", "")
    elif t.count(".") > 1:
        t = t.replace(".", "")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", t):
        return None
    value = float(t) * scale
    return -value if negative else value


def _parse_datetimes(
    column: pa.ChunkedArray, *, date_format: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps from a column; returns (datetime64[ns] with NaT where missing, failed mask).

    The fast path is one vectorised ISO cast or one ``strptime`` with the format that parses
    most of a sample; only the values it misses (mixed formats, Excel serial numbers) are
    parsed one distinct text at a time.
    """
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.local_timestamp(column)  # wall-clock time, as the shop recorded it
        try:
            values = pc.cast(column, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            column = pc.cast(column, pa.string())
        else:
            out = np.asarray(values.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")
            return out, np.zeros(len(out), dtype=bool)
    column = _as_text(column)
    if date_format is None:
        try:
            # Fast path: ISO dates cast in one go (empty cells are already missing).
            values = pc.cast(column, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            pass
        else:
            out = np.asarray(values.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")
            return out, np.zeros(len(out), dtype=bool)
    text = pc.utf8_trim_whitespace(column)
    present = _valid(text) & np.asarray(
        pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False), dtype=bool
    )
    n = len(present)
    parsed: pa.ChunkedArray | None = None
    dayfirst = False
    if date_format is None:
        try:
            parsed = pc.cast(text, pa.timestamp("ns"))
        except pa.ArrowInvalid:
            date_format, dayfirst = _choose_date_format(text)
    if parsed is None and date_format is not None:
        parsed = pc.strptime(text, format=date_format, unit="ns", error_is_null=True)
    if parsed is None:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    else:
        out = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype="datetime64[ns]")
    todo = present & np.isnat(out)
    if todo.any():
        raw = text.to_pandas().to_numpy(dtype=object)
        slow = _map_unique(raw[todo], lambda t: _parse_datetime_text(t, dayfirst=dayfirst))
        out[todo] = pd.to_datetime(pd.Series(slow, dtype=object), errors="coerce").to_numpy(
            dtype="datetime64[ns]"
        )
    return out, present & np.isnat(out)


def _choose_date_format(text: pa.ChunkedArray) -> tuple[str | None, bool]:
    """The format that parses most of a sample, and whether slashes put the day first."""
    sample = pc.drop_null(text).slice(0, 500)
    if len(sample) == 0:
        return None, False
    best, best_count = None, 0
    for candidate in _DATE_FORMATS:
        count = pc.sum(
            pc.is_valid(pc.strptime(sample, format=candidate, unit="ns", error_is_null=True))
        ).as_py()
        if count > best_count:
            best, best_count = candidate, count
    if best is None:
        return None, False
    if best in _MONTH_FIRST or best in _DAY_FIRST:
        # 03/04/2024: decide day or month first from the whole column, not a sample; on a
        # tie (no day above 12 anywhere) month first, as Excel writes dates in the US locale.
        position = (_MONTH_FIRST if best in _MONTH_FIRST else _DAY_FIRST).index(best)
        month_fmt, day_fmt = _MONTH_FIRST[position], _DAY_FIRST[position]
        counts = [
            pc.sum(pc.is_valid(pc.strptime(text, format=f, unit="ns", error_is_null=True))).as_py()
            for f in (month_fmt, day_fmt)
        ]
        return (day_fmt, True) if counts[1] > counts[0] else (month_fmt, False)
    return best, False


def _parse_datetime_text(text: str, *, dayfirst: bool = False) -> datetime | None:
    """One date as shops write it, or None: many formats, Excel serials, ``20240105``."""
    t = unicodedata.normalize("NFKC", text).strip()
    if not t:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return _date_from_number(t)
    t = re.sub(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3", t).strip()
    try:
        stamp = datetime.fromisoformat(t)
    except ValueError:
        pass
    else:
        return _representable(stamp.replace(tzinfo=None))  # the shop's wall-clock time
    formats = [f for f in _DATE_FORMATS if f not in (_MONTH_FIRST if dayfirst else _DAY_FIRST)]
    for candidate in formats:
        try:
            return _representable(datetime.strptime(t, candidate))
        except ValueError:
            continue
    return None


def _representable(stamp: datetime | None) -> datetime | None:
    """The date, if nanosecond timestamps can hold it (1677-09-22 to 2262-04-11)."""
    if stamp is None or not (pd.Timestamp.min < stamp < pd.Timestamp.max):
        return None
    return stamp


def _date_from_number(text: str) -> datetime | None:
    for digits, layout in ((8, "%Y%m%d"), (14, "%Y%m%d%H%M%S")):
        if len(text) == digits and text.isdigit():
            try:
                return _representable(datetime.strptime(text, layout))
            except ValueError:
                return None
    serial = float(text)
    if 0 < serial <= _EXCEL_MAX_SERIAL:
        # An Excel serial date: days since 1899-12-30, the fraction is the time of day.
        return _representable(_EXCEL_EPOCH + timedelta(days=serial))
    return None


# --- per-table parsing --------------------------------------------------------------------------


@dataclass
class _Part:
    """One file's rows of one table, parsed into canonical columns."""

    source: _Source
    layout: _Layout
    file_index: int
    keys: _KeyProvider
    frame: pd.DataFrame
    reason: np.ndarray
    # Raw text of the cells that failed to parse, so two different unparsable values are not
    # mistaken for duplicates (both parse to missing).
    failed_key: np.ndarray
    # The rows with a reason (the quarantine candidates, unless duplicates): their line and
    # raw values, set aside by :func:`_release_source` before the raw text is let go.
    suspect_rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    suspect_lines: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    suspect_values: list[str] = field(default_factory=list)


def _release_source(part: _Part, reason: np.ndarray) -> None:
    """Keep what the quarantine needs of the raw file, then let go of its text.

    The raw text (every cell as read) is as large as the parsed table; held to the end it
    only adds to the peak. Only rows with a reason (``reason``, the part's final codes) can
    reach the quarantine, so their lines and raw values are taken now, and the file's table
    is replaced by an empty one.
    """
    suspects = np.flatnonzero(reason > 0)
    if len(suspects):
        part.suspect_rows = suspects
        part.suspect_lines = part.source.lines(part.source.records[suspects])
        part.suspect_values = _raw_json(part, suspects)
    part.source.table = part.source.table.schema.empty_table()


class _Reasons:
    """Assigns the first reason that applies to each row."""

    def __init__(self, n: int) -> None:
        self.codes = np.zeros(n, dtype=np.int8)
        self.failed: list[tuple[np.ndarray, pa.ChunkedArray]] = []

    def flag(self, mask: np.ndarray, reason: str) -> None:
        self.codes[(self.codes == 0) & mask] = _REASON_CODE[reason]

    def failed_parse(self, mask: np.ndarray, raw: pa.ChunkedArray, reason: str) -> None:
        self.flag(mask, reason)
        if mask.any():
            self.failed.append((mask, raw))

    def failed_key(self) -> np.ndarray:
        if not self.failed:
            return np.zeros(len(self.codes), dtype=bool)  # falsy: nothing failed
        key = np.full(len(self.codes), None, dtype=object)
        for mask, raw in self.failed:
            rows = np.flatnonzero(mask)
            texts = pc.take(raw, pa.array(rows)).to_pylist()
            for row, value in zip(rows, texts, strict=True):
                key[row] = f"{key[row] or ''}\x1f{value}"
        return key


def _strings(column: pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.array(column, dtype="string"))


def _dates_checks(reasons: _Reasons, ts: np.ndarray, options: _Options) -> None:
    if options.earliest is not None:
        reasons.flag(ts < options.earliest.to_datetime64(), "date_too_early")
    if options.as_of_cutoff is not None:
        reasons.flag(ts >= options.as_of_cutoff.to_datetime64(), "date_after_as_of")


def _pseudonymised(column: pa.ChunkedArray, name: str, keys: _KeyProvider) -> pd.Series:
    text = _clean_text(column)
    if name == "phone":
        # One phone, one pseudonym: "+86 138-0013-8000" and "13800138000" must join.
        text = pc.replace_substring_regex(text, r"\D", "")
        text = pc.replace_substring_regex(text, r"^86(1\d{10})$", r"\1")
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    keys.columns_pseudonymised.add(name)
    return pseudonymise(_strings(text), key=keys.key())


def _parse_orders(
    source: _Source, layout: _Layout, options: _Options, keys: _KeyProvider, file_index: int
) -> _Part:
    table, cols = source.table, layout.columns
    n = table.num_rows
    reasons = _Reasons(n)
    frame: dict[str, Any] = {}
    customer_id = _clean_ids(table.column(cols["customer_id"]))
    frame["customer_id"] = _strings(customer_id)
    if layout.row_is_order:
        # Each row is its own order (CDNOW): the id is the customer and the line, so the same
        # file read twice still yields the same ids and is recognised as duplicate.
        lines = source.lines(source.records)
        frame["order_id"] = frame["customer_id"].fillna("") + ":" + pd.Series(lines).astype(str)
        order_id_valid = np.ones(n, dtype=bool)
    else:
        order_id = _clean_ids(table.column(cols["order_id"]))
        frame["order_id"] = _strings(order_id)
        order_id_valid = _valid(order_id)
    reasons.flag(~order_id_valid, "missing_order_id")

    raw_ts = table.column(cols["order_ts"])
    ts, ts_failed = _parse_datetimes(raw_ts, date_format=layout.date_format)
    reasons.flag(np.isnat(ts) & ~ts_failed, "missing_date")
    reasons.failed_parse(ts_failed, raw_ts, "unparsable_date")
    frame["order_ts"] = ts

    numbers: dict[str, np.ndarray] = {}
    for name in ("quantity", "unit_price", "amount"):
        if name in cols:
            raw = table.column(cols[name])
            values, failed = _parse_numbers(raw)
            reasons.failed_parse(failed, raw, f"unparsable_{name}")
            numbers[name] = values
    quantity = numbers.get("quantity")
    unit_price = numbers.get("unit_price")
    amount = numbers.get("amount")
    if quantity is not None and unit_price is not None:
        # Rounded to 6 places: 6 x 2.55 is 15.299999999999999 in floating point.
        computed = np.round(quantity * unit_price, 6)
        amount = computed if amount is None else np.where(np.isnan(amount), computed, amount)
    assert amount is not None  # _check_required guarantees an amount or quantity and price
    reasons.flag(np.isnan(amount), "missing_amount")
    frame["amount"] = amount
    if quantity is not None:
        frame["quantity"] = quantity
    if unit_price is not None:
        frame["unit_price"] = unit_price
    _dates_checks(reasons, ts, options)

    cancelled = np.zeros(n, dtype=bool)
    if layout.cancellation_prefix and not layout.row_is_order:
        cancelled = np.asarray(
            pc.fill_null(pc.starts_with(order_id, layout.cancellation_prefix), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
    frame["_cancelled"] = cancelled
    if unit_price is not None:
        returned = cancelled | (quantity < 0 if quantity is not None else amount < 0)
        refund = returned & (amount < 0)
        reasons.flag((unit_price <= 0) & ~refund, "nonpositive_unit_price")

    for name in ("product_id", "category", "channel", "store"):
        if name in cols:
            clean = _clean_ids if name == "product_id" else _clean_text
            frame[name] = _strings(clean(table.column(cols[name])))
    if "product_name" in cols:
        # Free text is kept as written (trimming half a million descriptions costs time and
        # changes nothing an analysis uses).
        frame["product_name"] = _strings(_as_text(table.column(cols["product_name"])))
    for name, header in layout.customer_attributes.items():
        raw = table.column(header)
        frame[name] = (
            _pseudonymised(raw, name, keys) if name in PII_COLUMNS else _strings(_clean_text(raw))
        )
    return _Part(
        source=source,
        layout=layout,
        file_index=file_index,
        keys=keys,
        frame=pd.DataFrame(frame),
        reason=reasons.codes,
        failed_key=reasons.failed_key(),
    )


def _parse_customers(
    source: _Source, layout: _Layout, options: _Options, keys: _KeyProvider, file_index: int
) -> _Part:
    table, cols = source.table, layout.columns
    reasons = _Reasons(table.num_rows)
    customer_id = _clean_ids(table.column(cols["customer_id"]))
    frame: dict[str, Any] = {"customer_id": _strings(customer_id)}
    reasons.flag(~_valid(customer_id), "missing_customer_id")
    if "first_seen_ts" in cols:
        raw = table.column(cols["first_seen_ts"])
        ts, failed = _parse_datetimes(raw)
        reasons.failed_parse(failed, raw, "unparsable_date")
        _dates_checks(reasons, ts, options)
        frame["first_seen_ts"] = ts
    for name in ("region", "city", "city_tier", "source_channel", "industry"):
        if name in cols:
            frame[name] = _strings(_clean_text(table.column(cols[name])))
    if "tags" in cols:
        frame["tags"] = _normalise_tags(_strings(_clean_text(table.column(cols["tags"]))))
    for name in PII_COLUMNS:
        if name in cols:
            frame[name] = _pseudonymised(table.column(cols[name]), name, keys)
    return _Part(
        source=source,
        layout=layout,
        file_index=file_index,
        keys=keys,
        frame=pd.DataFrame(frame),
        reason=reasons.codes,
        failed_key=reasons.failed_key(),
    )


def _normalise_tags(tags: pd.Series) -> pd.Series:
    """Several tags in one cell, however separated, become one ``;``-joined cell."""

    def tidy(cell: str) -> str | None:
        parts = [p.strip() for p in re.split(r"[,，、;；|]", cell)]
        unique = list(dict.fromkeys(p for p in parts if p))
        return TAG_SEPARATOR.join(unique) or None

    codes, uniques = pd.factorize(tags)
    tidied = pd.array([*(tidy(str(u)) for u in uniques), None], dtype="string")
    return pd.Series(tidied[codes], index=tags.index, dtype="string")


def _parse_interactions(
    source: _Source, layout: _Layout, options: _Options, keys: _KeyProvider, file_index: int
) -> _Part:
    table, cols = source.table, layout.columns
    reasons = _Reasons(table.num_rows)
    customer_id = _clean_ids(table.column(cols["customer_id"]))
    reasons.flag(~_valid(customer_id), "missing_customer_id")
    raw_ts = table.column(cols["ts"])
    ts, failed = _parse_datetimes(raw_ts)
    reasons.flag(np.isnat(ts) & ~failed, "missing_date")
    reasons.failed_parse(failed, raw_ts, "unparsable_date")
    kind = _clean_text(table.column(cols["kind"]))
    reasons.flag(~_valid(kind), "missing_kind")
    _dates_checks(reasons, ts, options)
    vocabulary = {**INTERACTION_KINDS, **options.mapping.kinds}
    kinds = _strings(kind)
    frame = pd.DataFrame(
        {
            "customer_id": _strings(customer_id),
            "ts": ts,
            # Unknown kinds are kept as written, so nothing is lost.
            "kind": kinds.map(lambda k: vocabulary.get(k, k), na_action="ignore").astype("string"),
        }
    )
    return _Part(
        source=source,
        layout=layout,
        file_index=file_index,
        keys=keys,
        frame=frame,
        reason=reasons.codes,
        failed_key=reasons.failed_key(),
    )


_PARSERS = {
    "orders": _parse_orders,
    "customers": _parse_customers,
    "interactions": _parse_interactions,
}


# --- assembling tables --------------------------------------------------------------------------


@dataclass
class _Assembled:
    name: str
    # Every parsed row of every file, with _file and _record, before dropping anything.
    rows: pd.DataFrame
    kept: np.ndarray
    duplicate: np.ndarray
    reason: np.ndarray
    # Customer id of every row as a code into customer_ids (-1 when missing): counting and
    # grouping customers on integers is many times faster than on text.
    customer_codes: np.ndarray
    customer_ids: pd.Index
    # The kept rows in output order, with every parsed column (e.g. customer attributes).
    kept_rows: pd.DataFrame
    kept_order: np.ndarray
    table: pd.DataFrame
    quarantine: pd.DataFrame
    rows_in: int
    parts: list[_Part]


def _assemble(name: str, parts: list[_Part]) -> _Assembled:
    any_failed = any(p.failed_key.any() for p in parts)
    frames = [
        p.frame.assign(
            _file=np.full(len(p.frame), p.file_index, dtype=np.int64),
            _record=p.source.records,
            # Only when a value failed to parse: otherwise the column is all missing.
            **({"_failed": _failed_column(p)} if any_failed else {}),
        )
        for p in parts
    ]
    rows = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    reason = np.concatenate([p.reason for p in parts]) if parts else np.array([], np.int8)
    compared = [c for c in rows.columns if c not in ("_file", "_record", "_cancelled")]
    customer_codes, customer_ids = pd.factorize(rows["customer_id"])
    duplicate = _duplicates(rows, compared, codes={"customer_id": customer_codes})
    kept = ~duplicate & (reason == 0)
    if name == "customers":
        # One row per customer: a later row (a newer export) supersedes an earlier one.
        repeated = np.zeros(len(rows), dtype=bool)
        repeated[kept] = pd.Series(customer_codes[kept]).duplicated(keep="last").to_numpy()
        reason = np.where(repeated, _REASON_CODE["repeated_customer_id"], reason).astype(np.int8)
        kept &= ~repeated
        ends = np.cumsum([len(p.frame) for p in parts])
        for part, part_reason in zip(parts, np.split(reason, ends[:-1]), strict=True):
            _release_source(part, part_reason)
    quarantined = ~duplicate & (reason > 0)

    # One take of the kept rows, already in output order: takes of text columns are costly.
    kept_order = _output_order(name, rows, np.flatnonzero(kept))
    wanted = [c for c in rows.columns if c not in ("_file", "_record", "_failed", "_cancelled")]
    if np.array_equal(kept_order, np.arange(len(rows))):
        # Every row kept and already in time order, as exports usually are: no copy needed.
        kept_rows = rows[wanted].reset_index(drop=True)
    else:
        kept_rows = rows[wanted].take(kept_order).reset_index(drop=True)
    table = conform(kept_rows, TABLES[name])

    records: list[dict[str, Any]] = []
    bad_counts: dict[str, int] = {}
    for part in parts:
        for bad in part.source.bad_rows:
            records.append(
                {
                    "_file": part.file_index,
                    "file": part.source.display,
                    "row": bad.line,
                    "table": name,
                    "reason": bad.reason,
                    "values": _bad_row_json(part, bad),
                }
            )
            bad_counts[bad.reason] = bad_counts.get(bad.reason, 0) + 1
    offset = 0
    for part in parts:
        n = len(part.frame)
        local = np.flatnonzero(quarantined[offset : offset + n])
        if len(local):
            # Quarantined rows are among the suspects set aside by _release_source.
            at = np.searchsorted(part.suspect_rows, local)
            lines = part.suspect_lines[at]
            values = [part.suspect_values[j] for j in at]
            for i, line, value in zip(local, lines, values, strict=True):
                records.append(
                    {
                        "_file": part.file_index,
                        "file": part.source.display,
                        "row": int(line),
                        "table": name,
                        "reason": _REASON_NAME[reason[offset + i]],
                        "values": value,
                    }
                )
        offset += n
    quarantine = pd.DataFrame.from_records(
        records, columns=["_file", "file", "row", "table", "reason", "values"]
    )
    rows_in = len(rows) + sum(bad_counts.values())
    result = _Assembled(
        name=name,
        rows=rows,
        kept=kept,
        duplicate=duplicate,
        reason=reason,
        customer_codes=np.asarray(customer_codes, dtype=np.int64),
        customer_ids=pd.Index(customer_ids),
        kept_rows=kept_rows,
        kept_order=kept_order,
        table=table,
        quarantine=quarantine,
        rows_in=rows_in,
        parts=parts,
    )
    _reconcile(result)
    if not kept.any():
        raise _no_usable_rows(result)
    return result


def _failed_column(part: _Part) -> np.ndarray:
    key = part.failed_key
    return key if key.dtype == object else np.full(len(key), None, dtype=object)


def _output_order(name: str, rows: pd.DataFrame, kept: np.ndarray) -> np.ndarray:
    """Row positions in a deterministic output order: by time, then input file and line."""
    file, record = rows["_file"].to_numpy()[kept], rows["_record"].to_numpy()[kept]
    if name == "customers":
        by_id = rows["customer_id"].iloc[kept].argsort(kind="stable").to_numpy()
        return kept[by_id]
    ts = rows["order_ts" if name == "orders" else "ts"].to_numpy()[kept].view(np.int64)
    return kept[np.lexsort((record, file, ts))]


def _duplicates(
    rows: pd.DataFrame, columns: list[str], *, codes: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Rows equal to an earlier row in every one of ``columns``.

    Rows are hashed from their numbers, dates and a few discriminating text columns (by
    factorized code) in vectorised passes; only rows that share a hash with another row are
    then compared exactly on every column. Equal rows always share a hash, and a hash
    collision only costs an exact comparison, so the result is exact.
    """
    n = len(rows)
    digest = np.zeros(n, dtype=np.uint64)
    # Quantity and unit price add little to amount and time; the exact check has them all.
    hashed = [
        c for c in columns if rows[c].dtype.kind in "fMmbiu" and c not in ("quantity", "unit_price")
    ]
    hashed += [c for c in ("customer_id", "product_id", "kind") if c in columns]
    if len(hashed) < 3:
        hashed = columns  # too little to go on (e.g. a bare list of customer ids): hash all
    for name in hashed:
        bits = codes[name].astype(np.int64).view(np.uint64) if name in codes else None
        digest = _mix(digest, bits if bits is not None else _value_bits(rows[name]))
    candidates = _shared_values(digest)
    duplicate = np.zeros(n, dtype=bool)
    if len(candidates):
        subset = rows[columns].iloc[candidates]
        duplicate[candidates] = subset.duplicated(keep="first").to_numpy()
    return duplicate


def _shared_values(digest: np.ndarray) -> np.ndarray:
    """Positions of the values that occur more than once in ``digest``, in increasing order."""
    ordered = np.sort(digest)  # a vectorised sort of integers beats a hash table here
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated) == 0:
        return np.array([], dtype=np.int64)
    at = np.minimum(np.searchsorted(repeated, digest), len(repeated) - 1)
    return np.flatnonzero(repeated[at] == digest)


def _value_bits(column: pd.Series) -> np.ndarray:
    values = column.to_numpy() if column.dtype.kind in "fMmbiu" else None
    if values is None:
        return pd.factorize(column)[0].astype(np.int64).view(np.uint64)
    if values.dtype.kind == "f":
        # One bit pattern for NaN and for zero, so equal values hash equally.
        values = np.where(np.isnan(values), np.nan, values + 0.0)
    if values.dtype.kind == "b":
        return values.astype(np.uint64)
    return values.astype(values.dtype.newbyteorder("=")).view(np.uint64)


def _mix(digest: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Fold 64-bit values into a running hash (a multiply-xorshift step)."""
    x = bits * np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(31)
    x ^= digest
    x *= np.uint64(0x94D049BB133111EB)
    return x


def _reconcile(assembled: _Assembled) -> None:
    """rows_in = kept + duplicate + quarantined, or ingest has lost a row (a bug)."""
    quarantined = len(assembled.quarantine)
    kept = len(assembled.table)
    duplicate = int(assembled.duplicate.sum())
    if assembled.rows_in != kept + duplicate + quarantined:
        raise RuntimeError(
            f"{assembled.name}: reconciliation failed: {assembled.rows_in} rows in != "
            f"{kept} kept + {duplicate} duplicate + {quarantined} quarantined"
        )


def _no_usable_rows(assembled: _Assembled) -> NoUsableRowsError:
    files = ", ".join(p.source.display for p in assembled.parts)
    duplicate = int(assembled.duplicate.sum())
    counts = assembled.quarantine["reason"].value_counts()
    reasons = ", ".join(f"{r} {c:,}" for r, c in counts.items())
    example = ""
    if len(assembled.quarantine):
        first = assembled.quarantine.iloc[0]
        example = f" (e.g. {first['file']} line {first['row']}: {first['reason']})"
    return NoUsableRowsError(
        f"{files}: none of the {assembled.rows_in:,} {assembled.name} rows is usable: "
        f"{duplicate:,} duplicate, quarantined: {reasons or 'none'}{example}. Fix those rows in "
        f"the export, or check --as-of and the column mapping"
    )


def _json_value(value: object) -> object:
    """JSON for the values json cannot write itself (dates from Parquet, decimals)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _raw_json(part: _Part, local: np.ndarray) -> list[str]:
    """The raw values of some rows, as JSON; PII replaced by the row's pseudonyms."""
    layout = part.layout
    mapped = {**layout.columns, **layout.customer_attributes}
    headers = [h for h in part.source.header if h in mapped.values()]
    pii_headers = {h: c for c, h in mapped.items() if c in PII_COLUMNS}
    taken = part.source.table.select(headers).take(pa.array(local)).to_pylist()
    out = []
    for i, row in zip(local, taken, strict=True):
        for header, canonical in pii_headers.items():
            pseudonym = part.frame[canonical].iloc[i]
            row[header] = None if pd.isna(pseudonym) else str(pseudonym)
        out.append(json.dumps(row, ensure_ascii=False, default=_json_value))
    return out


def _bad_row_json(part: _Part, bad: _BadRow) -> str:
    """A line that did not split into the header's fields: values by position, PII hashed."""
    layout = part.layout
    mapped = {**layout.columns, **layout.customer_attributes}
    pii_headers = {h for c, h in mapped.items() if c in PII_COLUMNS}
    row: dict[str, object] = {}
    for position, value in enumerate(bad.fields):
        header = (
            part.source.header[position]
            if position < len(part.source.header)
            else f"_extra_{position - len(part.source.header) + 1}"
        )
        row[header] = value
    for header in sorted(pii_headers & set(row)):
        row[header] = str(pseudonymise([row[header]], key=part.keys.key()).iloc[0])
    return json.dumps(row, ensure_ascii=False)


def _quarantine_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS}).astype(
            {"row": "int64"}
        )
    order = {name: i for i, name in enumerate(TABLES)}
    frame = frame.assign(_table=frame["table"].map(order)).sort_values(
        ["_table", "_file", "row"], kind="stable"
    )
    out = frame[list(QUARANTINE_COLUMNS)].reset_index(drop=True)
    return out.astype(
        {
            "file": "string",
            "row": "int64",
            "table": "string",
            "reason": "string",
            "values": "string",
        }
    )


def _dictionary_encoded(
    orders: _Assembled,
    customers: pd.DataFrame | None,
    *,
    coded: Mapping[str, pd.Categorical] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The orders and customers with their :attr:`TableSpec.dictionary` columns encoded.

    ``coded`` gives orders columns already encoded by :func:`_dictionary_column`.

    Customer ids in both tables take one set of categories, the sorted ids of every customer
    in either; the orders' codes come from the factorisation made while assembling (no text
    is hashed twice). Order ids keep their first appearance's order; other columns are
    sorted.
    """
    table = orders.table
    codes = orders.customer_codes[orders.kept_order]  # -1 for guests
    id_text = arrow_text(orders.customer_ids)
    has_id = codes >= 0
    used = np.bincount(codes[has_id], minlength=len(id_text)) > 0
    listed = arrow_text(customers["customer_id"]) if customers is not None else None
    # Usually the customers table (sorted, one row per id) lists everyone who ordered: then
    # it is the categories as it stands, and one lookup places the orders' ids in it.
    position = None
    if listed is not None and strictly_increasing(listed):
        found = pc.fill_null(pc.index_in(id_text, value_set=listed), -1).to_numpy()
        if bool((found[used] >= 0).all()):
            categories, position = listed, found
    if position is None:
        known = [id_text.filter(pa.array(used)), *([listed] if listed is not None else [])]
        everyone = pc.unique(pa.concat_arrays(known))
        categories = everyone.take(pc.sort_indices(everyone))
        position = pc.fill_null(pc.index_in(id_text, value_set=categories), -1).to_numpy()
    id_dtype = _categorical_dtype(pd.array(categories, dtype=table["customer_id"].dtype))
    row_code = np.full(len(codes), -1, dtype=np.int64)
    row_code[has_id] = position[codes[has_id]]
    encoded = {"customer_id": pd.Categorical.from_codes(row_code, dtype=id_dtype, validate=False)}
    for column in ORDERS.dictionary:
        if coded and column in coded:
            encoded[column] = coded[column]
        elif column != "customer_id":
            encoded[column] = _dictionary_column(table[column], sort=column != "order_id")
    orders_out = table.assign(**encoded)
    if customers is None or listed is None:
        return orders_out, None
    listed_code = (
        np.arange(len(listed), dtype=np.int64)
        if categories is listed
        else pc.fill_null(pc.index_in(listed, value_set=categories), -1).to_numpy()
    )
    return orders_out, customers.assign(
        customer_id=pd.Categorical.from_codes(listed_code, dtype=id_dtype, validate=False)
    )


def _dictionary_column(values: pd.Series, *, sort: bool) -> pd.Categorical:
    """A text column as a categorical of that text: pyarrow's hashing, in first-appearance
    order of the values, or sorted."""
    encoded = pc.dictionary_encode(arrow_text(values))
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    dictionary = encoded.dictionary
    if sort and len(dictionary):
        order = pc.sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        dictionary = dictionary.take(pa.array(order))
        has_value = codes >= 0
        codes[has_value] = rank[codes[has_value]]
    dtype = _categorical_dtype(pd.array(dictionary, dtype=values.dtype))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _categorical_dtype(categories: Any) -> pd.CategoricalDtype:
    """An unordered categorical dtype over ``categories``, which must hold no repeats.

    pyarrow's ``unique`` and ``dictionary_encode`` give them unique already; pandas' public
    constructor would hash them all again to check (half a second for a million order ids),
    so its unchecked constructor is used where pandas has it.
    """
    index = pd.Index(categories)
    unchecked = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if unchecked is None:
        return pd.CategoricalDtype(index, ordered=False)
    dtype: pd.CategoricalDtype = unchecked(index, ordered=False)
    return dtype


def _customers_table(assembled: _Assembled | None, orders: _Assembled) -> pd.DataFrame | None:
    """Customers from files, with attributes from order exports filling the gaps.

    Order files (e.g. Online Retail's Country) give each customer the latest non-missing value
    of each attribute. With a customers file, those values only fill its missing cells; without
    one, they make the customers table.
    """
    attributes = [c for c in CUSTOMERS.optional if c in orders.rows.columns]
    derived = None
    if attributes:
        derived = _latest_attributes(orders, attributes)
    if assembled is None:
        if derived is None or derived.empty:
            return None
        return conform(derived.reset_index(), CUSTOMERS)
    table = assembled.table
    if derived is not None and not derived.empty:
        filled = table.set_index("customer_id")
        extra = derived.reindex(filled.index)
        for column in extra.columns:
            filled[column] = filled[column].fillna(extra[column])
        table = conform(filled.reset_index(), CUSTOMERS)
    return table


def _latest_attributes(orders: _Assembled, attributes: list[str]) -> pd.DataFrame:
    """Per customer, the latest non-missing value of each attribute on their kept orders."""
    codes = orders.customer_codes[orders.kept_order]  # kept rows are in time order
    columns: dict[str, pd.Series] = {}
    for attribute in attributes:
        values = orders.kept_rows[attribute]
        rows = np.flatnonzero((codes >= 0) & values.notna().to_numpy())
        # The last of each customer's rows: the largest position per customer code.
        last = np.full(len(orders.customer_ids), -1, dtype=np.int64)
        np.maximum.at(last, codes[rows], rows)
        known = np.flatnonzero(last >= 0)
        columns[attribute] = pd.Series(values.take(last[known]).array, index=known)
    derived = pd.DataFrame(columns)  # customers with at least one known value
    derived.index = pd.Index(orders.customer_ids.take(derived.index.to_numpy()), name="customer_id")
    return derived.sort_index()


# --- quality ------------------------------------------------------------------------------------


def _counts(assembled: _Assembled) -> dict[str, Any]:
    counts = assembled.quarantine["reason"].value_counts()
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


def _orders_quality(orders: _Assembled) -> dict[str, Any]:
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


def _quality(
    assembled: dict[str, _Assembled],
    *,
    customers: pd.DataFrame | None,
    files: list[dict[str, Any]],
    repeated: list[str],
    options: _Options,
    pii_columns: set[str],
) -> dict[str, Any]:
    orders = _orders_quality(assembled["orders"])
    tables: dict[str, Any] = {"orders": orders}
    if "customers" in assembled or customers is not None:
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
        tables["customers"] = info
    if "interactions" in assembled:
        inter = assembled["interactions"]
        info = _counts(inter)
        kinds = inter.table["kind"].value_counts()
        known = set(INTERACTION_KINDS.values()) | set(options.mapping.kinds.values())
        info["kinds"] = {str(k): int(v) for k, v in sorted(kinds.items())}
        info["kinds_unmapped"] = {
            str(k): int(v) for k, v in sorted(kinds.items()) if k not in known
        }
        info["date_min"] = _iso(inter.table["ts"].min())
        info["date_max"] = _iso(inter.table["ts"].max())
        tables["interactions"] = info
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
    }


def _file_info(source: _Source, layout: _Layout, part: _Part) -> dict[str, Any]:
    info: dict[str, Any] = {
        "path": source.display,
        "sha256": source.sha256,
        "bytes": source.size,
        "format": source.file_format,
        "encoding": source.encoding,
        "table": layout.table,
        "layout": layout.name,
        "rows_in": len(part.frame) + len(source.bad_rows),
        "columns": {**layout.columns, **layout.customer_attributes},
        "unmapped": list(layout.unmapped),
    }
    if source.blank_rows:
        info["blank_lines"] = source.blank_rows
    if source.notes:
        info["notes"] = source.notes
    return info
