"""Read raw exports into the canonical tables, with every row accounted for.

``ingest`` takes files or folders of exports (CSV in UTF-8, UTF-8 with BOM, GB18030/GBK or
UTF-16; gzip-compressed CSV; whitespace-separated text such as CDNOW; XLSX; Parquet), tells
from each header whether a file holds orders, customers, interactions or a campaign log, maps its columns to
the canonical names of :mod:`segmentation.schema` and parses dates and amounts. Every row
read ends in exactly one place::

    rows_in = rows_kept + rows_duplicate + sum(rows_quarantined over reasons)

per table, and this is checked on every run. A row is a record (a quoted value with line
breaks makes one record of several lines); an unterminated quote, which swallows the rest of
the file, counts as the non-blank lines it spans. Quarantined rows are kept with the file,
the line a user would see in an editor or Excel (header = line 1) and the reason; see
``_quarantine`` for what of their values is kept (never personal data, never the text of a
line that cannot be aligned to the header).

Lines, not files, are refused: a line that does not decode or holds NUL bytes is quarantined
and the rest of the file read; a field of any length is read.

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
* Times with an offset (``…T11:30:45Z``, ``…+08:00``) are converted to the shop's time zone
  (``time_zone``, config ``ingest.shop_time_zone``) before their day is taken; times without
  one are the shop's wall-clock time, as they are.
* Dates before ``earliest`` (default 1990-01-01) or after the ``as_of`` day are quarantined,
  whatever the year (a year-2999 date is after the as-of day, not unparsable); with
  ``as_of=None`` there is no future-date check, so the result does not depend on today.
* Phone numbers, names and WeChat ids are replaced by keyed hashes (:mod:`segmentation.privacy`)
  before anything else sees them, including the quarantine.
* Customer attributes found on order exports (Online Retail's ``Country``, a shop's 省份 or
  手机号) go to the customers table, as each customer's latest non-missing value; with a
  customers file they only fill its gaps.
* Output order is deterministic: orders by ``order_ts``, interactions by ``ts``, then input
  file and line; customers by ``customer_id``. The same input gives byte-identical files.

The steps, one private module each:

1. ``_readers`` finds the files and reads each into a ``_source.Source`` (text: ``_text``).
2. ``_layout`` tells its table and columns (from ``_presets`` and, in ``_options``, the
   user's mapping).
3. ``_tables`` parses its rows (``_values``) and gives each its first reason (``_reasons``).
4. ``_assemble`` joins each table's files, drops duplicates and accounts for every row; the
   rows with a reason go to ``_quarantine``.
5. ``_customers`` builds the customers table, ``_encode`` codes the ids, ``_quality`` counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.errors import EmptyInputError, SegmentationInputError, UnknownLayoutError
from segmentation.ingest._assemble import assemble
from segmentation.ingest._campaigns import flag_unknown_customers
from segmentation.ingest._customers import customers_table
from segmentation.ingest._encode import dictionary_column, dictionary_encoded
from segmentation.ingest._layout import resolve_layout
from segmentation.ingest._options import (
    KeyProvider,
    Options,
    ingest_settings,
    load_mapping,
    option_time_zone,
    option_timestamp,
)
from segmentation.ingest._quality import file_info, quality_summary
from segmentation.ingest._quarantine import quarantine_frame, release_source
from segmentation.ingest._readers import InputFiles, find_inputs, read_source
from segmentation.ingest._tables import PARSERS, Part
from segmentation.schema import TABLES

__all__ = ["IngestResult", "ingest", "write_ingest"]


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
        One row per quarantined record: ``file``, ``row`` (line number, header = 1),
        ``table``, ``reason`` (a key of ``REASONS``) and ``values``: JSON of the raw values of
        the mapped columns (personal data pseudonymised) for a row aligned to the header, or
        ``{"fields": n, "lines": k, "line_digest": "line_..."}`` for a line that is not
        (``lines`` only for an unterminated quote spanning several).
    quality : dict
        Counts and checks, JSON-serialisable; written as ``quality.json``.
    """

    orders: pd.DataFrame
    customers: pd.DataFrame | None
    interactions: pd.DataFrame | None
    quarantine: pd.DataFrame
    quality: dict[str, Any]
    # Conforms to :data:`segmentation.schema.CAMPAIGNS`, sorted by ``contacted_at``; ``None``
    # without a campaign log. Last, with a default, so existing constructions stay valid.
    campaigns: pd.DataFrame | None = None

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
    time_zone: str | None = None,
) -> IngestResult:
    """Read exports into validated canonical tables, accounting for every row.

    Parameters
    ----------
    inputs : str, Path or sequence of them
        Files or folders. Folders are read recursively (``.csv``, ``.tsv``, ``.txt``, ``.gz``,
        ``.xlsx``, ``.xlsm``, ``.parquet``), skipping hidden files, Excel lock files and
        ``README*``; files are read in the order given, a folder's files sorted by path. A file
        named twice is read once. A ``.txt`` file of a folder that is not a table is skipped;
        every file of a folder not read is listed in ``quality["files_skipped"]``.
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
    time_zone : str, optional
        The shop's time zone (IANA name); the config's ``ingest.shop_time_zone``
        (Asia/Shanghai) when omitted. Times with an offset are converted to it before their
        day is taken; times without one are taken as its wall-clock time.

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
        ``as_of`` or ``earliest`` is not a date, or ``time_zone`` is not a time zone.
    """
    settings = ingest_settings()
    options = Options(
        as_of=option_timestamp(as_of, "as_of"),
        earliest=option_timestamp(earliest, "earliest"),
        mapping=load_mapping(mapping),
        time_zone=option_time_zone(time_zone),
        binary_line_share=float(settings["binary_line_share"]),
    )
    keys = KeyProvider(pii_key)
    inputs_found = find_inputs(inputs)
    parts, files, skipped = _read_parts(inputs_found, options, keys)
    if not parts["orders"]:
        listed = ", ".join(f"{f['path']} ({f['table']})" for f in files)
        raise EmptyInputError(
            f"no orders file among the inputs: {listed}. Give at least one order export "
            f"(columns such as 订单号, 客户ID, 下单时间, 实付金额 or order_id, customer_id, "
            f"order_ts, amount)"
        )
    return _assembled_result(
        parts,
        files=files,
        repeated=inputs_found.repeated,
        skipped=skipped,
        options=options,
        keys=keys,
    )


def write_ingest(result: IngestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write an :class:`IngestResult` to a folder.

    Layout::

        out_dir/orders.parquet        always
        out_dir/customers.parquet     when there are customer attributes
        out_dir/interactions.parquet  when there is an interaction log
        out_dir/campaigns.parquet     when there is a campaign log
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
        "campaigns": result.campaigns,
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


def _read_parts(
    found: InputFiles, options: Options, keys: KeyProvider
) -> tuple[dict[str, list[Part]], list[dict[str, Any]], list[dict[str, str]]]:
    """Every file read, its layout resolved and its rows parsed, in input order; what
    quality.json says about each file; and the files skipped (those a folder held that are
    not read, and text files of a folder that turn out not to be a table)."""
    parts: dict[str, list[Part]] = {name: [] for name in TABLES}
    files: list[dict[str, Any]] = []
    skipped = list(found.skipped)
    for file_index, path in enumerate(found.paths):
        try:
            source = read_source(path, binary_line_share=options.binary_line_share)
            layout = resolve_layout(source, options.mapping)
        except (UnknownLayoutError, EmptyInputError) as error:
            if path not in found.from_folder or path.suffix.lower() != ".txt":
                raise
            skipped.append({"path": str(path), "reason": _not_a_table(error)})
            continue
        part = PARSERS[layout.table](source, layout, options, keys, file_index)
        # Customers' repeated ids, and the campaign log's unknown customers, are known only
        # once every file is read: those tables are released when assembled.
        if layout.table not in ("customers", "campaigns"):
            release_source(part, part.reason)
        parts[layout.table].append(part)
        files.append(file_info(source, layout, part))
    return parts, files, skipped


def _not_a_table(error: SegmentationInputError) -> str:
    """Why a text file of a folder is skipped. A fixed sentence, not the error's message:
    that quotes the file's first line, which in a notes file may name a person."""
    if isinstance(error, UnknownLayoutError):
        return (
            "not a table: its first line names no orders, customers or interactions column "
            "(a .txt file in a folder is skipped; give it by name to read it as data)"
        )
    return "not a table: no data rows (a .txt file in a folder is skipped)"


def _assembled_result(
    parts: dict[str, list[Part]],
    *,
    files: list[dict[str, Any]],
    repeated: list[str],
    skipped: list[dict[str, str]],
    options: Options,
    keys: KeyProvider,
) -> IngestResult:
    """The tables assembled across files, the quarantine, the quality summary, ids encoded."""
    with ThreadPoolExecutor(max_workers=1) as beside:
        # The other core assembles the customers and interactions (their hashing and sorting
        # run in pyarrow, which lets go of the GIL) while this one assembles the orders, and
        # then codes the order ids, the one text with a value per order, while this one goes
        # on. Each table's assembly reads only its own parts.
        others = {
            name: beside.submit(assemble, name, table_parts)
            for name, table_parts in parts.items()
            if table_parts and name not in ("orders", "campaigns")
        }
        orders = assemble("orders", parts["orders"])
        order_ids = beside.submit(dictionary_column, orders.table["order_id"], sort=False)
        assembled = {"orders": orders} | {name: table.result() for name, table in others.items()}
        customers = customers_table(assembled.get("customers"), orders)
        if parts["campaigns"]:
            flag_unknown_customers(parts["campaigns"], orders, customers)
            assembled["campaigns"] = assemble("campaigns", parts["campaigns"], allow_empty=True)
        interactions = assembled.get("interactions")
        quarantine = quarantine_frame([a.quarantine for a in assembled.values()])
        quality = quality_summary(
            assembled,
            customers=customers,
            files=files,
            repeated=repeated,
            skipped=skipped,
            options=options,
            pii_columns=keys.columns_pseudonymised,
        )
        encoded_orders, encoded_customers = dictionary_encoded(
            orders, customers, coded={"order_id": order_ids.result()}
        )
    return IngestResult(
        orders=encoded_orders,
        customers=encoded_customers,
        interactions=interactions.table if interactions is not None else None,
        quarantine=quarantine,
        quality=quality,
        campaigns=assembled["campaigns"].table if "campaigns" in assembled else None,
    )
