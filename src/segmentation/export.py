"""segments.csv: every customer's segment in every scheme, ready for a CRM import.

The file is UTF-8 with a byte-order mark, so Excel opens the Chinese names correctly. It has
one row per customer: ``customer_id`` (pseudonymous by default), one column per scheme with
the segment's display name, and the recommended action of one scheme (the value tiers unless
configured otherwise). Text cells that a spreadsheet would read as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with a single quote, so
opening the file never runs anything (OWASP, "CSV Injection").
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import load_config
from segmentation.errors import InvalidOptionError, SegmentationInputError
from segmentation.features import customer_snapshot
from segmentation.i18n import check_lang
from segmentation.schemes.base import Segmentation
from segmentation.schemes.registry import run_schemes

__all__ = [
    "ACTION_HEADER",
    "SEGMENTS_FILE",
    "SegmentExport",
    "escape_formulas",
    "export_segments",
    "segments_table",
    "write_segments_csv",
]

SEGMENTS_FILE = "segments.csv"
ACTION_HEADER = {"zh": "推荐动作", "en": "recommended_action"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows written per block: bounds the memory of the text being built at any size.
_ROWS_PER_BLOCK = 200_000
# The only characters that make the csv module quote (or refuse) a field in this dialect.
_CSV_SPECIAL = r'[,"\r\n\x00]'

IdTransform = Callable[[pd.Series], pd.Series]


@dataclass(frozen=True)
class _Column:
    """One text column as category codes: ``values[codes]`` is the column, code -1 missing."""

    header: str
    codes: np.ndarray
    values: pd.Series


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a spreadsheet formula with a single quote.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame; only text (object or string) columns are touched.

    Returns
    -------
    pandas.DataFrame
        A copy; ``"=HYPERLINK(...)"`` becomes ``"'=HYPERLINK(...)"``, other cells are kept.

    References
    ----------
    OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = _escaped_text(out[column])
    return out


def _escaped_text(values: pd.Series) -> pd.Series:
    """``values`` as dtype ``string``, formula-like cells prefixed with a single quote."""
    text = values.astype("string")
    risky = text.str.startswith(_FORMULA_STARTS).fillna(False).astype(bool)
    return text.mask(risky, "'" + text)


def segments_table(
    segmentations: Sequence[Segmentation],
    *,
    lang: str = "zh",
    action_scheme: str = "value_tier",
    id_transform: IdTransform | None = None,
) -> pd.DataFrame:
    """One row per customer: id, the segment name in each scheme, and the recommended action.

    Parameters
    ----------
    segmentations : sequence of Segmentation
        Schemes computed on one snapshot, in the column order wanted.
    lang : {"zh", "en"}, default "zh"
        Language of the headers, segment names and actions.
    action_scheme : str, default "value_tier"
        The scheme whose segment's action fills the action column.
    id_transform : callable, optional
        Maps the Series of customer ids to the ids to write (e.g. a keyed pseudonym);
        identity when omitted.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, one per scheme (headed by its title in ``lang``) and the
        action (:data:`ACTION_HEADER`), sorted by the written id; not yet escaped.

    Raises
    ------
    SegmentationInputError
        When ``action_scheme`` is not among the segmentations, or ``lang`` is unknown.
    """
    written, columns = _table_parts(
        segmentations, lang=lang, action_scheme=action_scheme, id_transform=id_transform
    )
    ids = pd.Series(written.to_numpy(), name="customer_id")
    order = ids.sort_values(kind="stable").index.to_numpy()
    table = pd.DataFrame({"customer_id": ids.take(order).reset_index(drop=True)})
    for column in columns:
        table[column.header] = _take(column.values, column.codes[order])
    return table


def write_segments_csv(
    segmentations: Sequence[Segmentation],
    out_dir: str | Path,
    *,
    lang: str = "zh",
    action_scheme: str = "value_tier",
    id_transform: IdTransform | None = None,
) -> Path:
    """Write ``out_dir/segments.csv`` (UTF-8 with BOM, formula cells escaped).

    The file is the one ``escape_formulas(segments_table(...)).to_csv(path, index=False,
    encoding="utf-8-sig", lineterminator="\\n")`` writes, byte for byte; it is built from
    each scheme's few distinct names instead of a million text cells.

    Parameters
    ----------
    segmentations : sequence of Segmentation
        Schemes computed on one snapshot.
    out_dir : str or Path
        Folder to write; created if absent.
    lang, action_scheme, id_transform
        As in :func:`segments_table`.

    Returns
    -------
    Path
        The file written.
    """
    written, columns = _table_parts(
        segmentations, lang=lang, action_scheme=action_scheme, id_transform=id_transform
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SEGMENTS_FILE
    # The ids as segments_table holds them; a string array already is that, without the
    # round trip through a million Python objects.
    ids = pd.Series(
        written.array if isinstance(written.dtype, pd.StringDtype) else written.to_numpy(),
        name="customer_id",
    )
    if not (ids.dtype == object or isinstance(ids.dtype, pd.StringDtype)):
        # Ids that are not text (an unusual id_transform): pandas formats them.
        table = segments_table(
            segmentations, lang=lang, action_scheme=action_scheme, id_transform=id_transform
        )
        escape_formulas(table).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        return path
    ordered = ids.sort_values(kind="stable")
    order = ordered.index.to_numpy()
    id_cells = _csv_cells_column(_escaped_text(ordered.reset_index(drop=True)))
    cells = [_csv_cells(_escaped_text(column.values)) for column in columns]
    # The line ends with the last column's cell, so every row is one join.
    cells[-1] = [cell + "\n" for cell in cells[-1]]
    tables = [_arrow_cells(values) for values in cells]
    codes = [_value_positions(column)[order] for column in columns]
    header = _csv_line(["customer_id", *(column.header for column in columns)])
    with path.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        handle.write(header.encode("utf-8"))
        for start in range(0, len(order), _ROWS_PER_BLOCK):
            stop = start + _ROWS_PER_BLOCK
            handle.write(
                _joined_rows(
                    id_cells[start:stop],
                    [
                        table.take(code[start:stop])
                        for table, code in zip(tables, codes, strict=True)
                    ],
                )
            )
    return path


def _table_parts(
    segmentations: Sequence[Segmentation],
    *,
    lang: str,
    action_scheme: str,
    id_transform: IdTransform | None,
) -> tuple[pd.Series, list[_Column]]:
    """The written ids in customer order, and every other column as category codes."""
    check_lang(lang, where="segments.csv: lang")
    by_name = {s.scheme: s for s in segmentations}
    if action_scheme not in by_name:
        raise SegmentationInputError(
            f"segments.csv: the action scheme {action_scheme!r} was not computed (have "
            f"{sorted(by_name)}); set export.action_scheme in the config to one of them."
        )
    customers = by_name[action_scheme].labels.index
    ids = pd.Series(customers.astype("string"), index=customers, name="customer_id")
    written = (id_transform or _identity)(ids)
    if len(written) != len(ids):
        raise ValueError(f"id_transform returned {len(written)} ids for {len(ids)} customers")
    columns: list[_Column] = []
    headers: set[str] = {"customer_id", ACTION_HEADER[lang]}
    for segmentation in segmentations:
        header = segmentation.display_title(lang)
        if header in headers:  # two schemes with one title: keep both apart
            header = f"{header} ({segmentation.scheme})"
        headers.add(header)
        columns.append(
            _Column(header, *_codes_and_values(segmentation.named_labels(lang), customers))
        )
    action = by_name[action_scheme]
    codes, keys = _codes_and_values(action.labels, customers, as_text=False)
    # A cell's action is its segment key mapped through the profile, as for every row.
    actions = keys.map(action.profile[f"action_{lang}"]).astype("string")
    columns.append(_Column(ACTION_HEADER[lang], codes, actions))
    return written, columns


def _codes_and_values(
    labels: pd.Series, customers: pd.Index, *, as_text: bool = True
) -> tuple[np.ndarray, pd.Series]:
    """Categorical ``labels`` on ``customers`` as codes and the values they pick.

    The values are the categories followed by a missing value, which code -1 (a customer
    without a label) picks; as dtype ``string`` when ``as_text``, as objects otherwise.
    """
    if not (labels.index is customers or labels.index.equals(customers)):
        labels = labels.reindex(customers)
    categorical = labels.array
    if not isinstance(categorical, pd.Categorical):
        categorical = pd.Categorical(labels)
    values = pd.Series([*categorical.categories.astype(object), np.nan], dtype=object)
    return categorical.codes, values.astype("string") if as_text else values


def _value_positions(column: _Column) -> np.ndarray:
    """The position in ``column.values`` of each cell: code -1 picks the last (missing) one."""
    codes = column.codes.astype(np.int32)
    return np.where(codes < 0, np.int32(len(column.values) - 1), codes)


def _take(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """``values`` at ``codes``, where code -1 picks the last value (the missing one)."""
    return pd.Series(values.array.take(np.where(codes < 0, len(values) - 1, codes)))


def _csv_writer(handle: io.StringIO) -> Any:
    # The dialect pandas' to_csv uses with its defaults and lineterminator="\n".
    return csv.writer(
        handle,
        lineterminator="\n",
        delimiter=",",
        quoting=csv.QUOTE_MINIMAL,
        doublequote=True,
        escapechar=None,
        quotechar='"',
    )


def _csv_line(fields: Sequence[str]) -> str:
    """One row as the csv module writes it."""
    buffer = io.StringIO()
    _csv_writer(buffer).writerow(fields)
    return buffer.getvalue()


def _csv_cells(text: pd.Series) -> list[str]:
    """Each value as the csv module writes it inside a row; missing values as empty cells."""
    buffer = io.StringIO()
    writer = _csv_writer(buffer)
    cells = []
    for value in text.tolist():
        if pd.isna(value):
            cells.append("")
            continue
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([value, ""])  # a second cell, so an empty value is not a lone field
        cells.append(buffer.getvalue()[: -len(",\n")])
    return cells


def _csv_cells_column(text: pd.Series) -> Any:
    """:func:`_csv_cells` for a long column, as a pyarrow array: only the values holding a
    delimiter, quote, line break or NUL go through the csv module; the rest are unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pa.array(text.array, type=pa.large_string())
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    special = pc.fill_null(pc.match_substring_regex(cells, _CSV_SPECIAL), False)
    if pc.any(special).as_py():
        quoted = _csv_cells(pd.Series(cells.filter(special).to_pylist(), dtype="string"))
        cells = pc.replace_with_mask(cells, special, pa.array(quoted, type=pa.large_string()))
    return pc.fill_null(cells, "")


def _arrow_cells(cells: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(cells, type=pa.large_string())


def _joined_rows(first: Any, others: list[Any]) -> memoryview:
    """The text of rows whose cells are ``first`` and ``others`` (each an array of text),
    joined with commas; the last column's cells end the line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pc.binary_join_element_wise(first, *others, pa.scalar(",", pa.large_string()))
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[
        rows.offset : rows.offset + len(rows) + 1
    ]
    data = rows.buffers()[2]
    return (
        memoryview(data)[int(offsets[0]) : int(offsets[-1])]
        if data is not None
        else memoryview(b"")
    )


@dataclass(frozen=True)
class SegmentExport:
    """What :func:`export_segments` wrote.

    Attributes
    ----------
    path : Path
        The segments.csv file.
    as_of : pandas.Timestamp
        The as-of date used.
    n_customers : int
        Rows written.
    schemes : list of str
        Schemes written, in column order.
    unavailable : dict of str to str
        Schemes the data could not support, with the reason.
    """

    path: Path
    as_of: pd.Timestamp
    n_customers: int
    schemes: list[str]
    unavailable: dict[str, str] = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line for the command line."""
        skipped = f"; unavailable: {', '.join(self.unavailable)}" if self.unavailable else ""
        return (
            f"wrote {self.path} ({self.n_customers:,} customers as of {self.as_of:%Y-%m-%d}, "
            f"{len(self.schemes)} schemes{skipped})"
        )


def export_segments(
    input_path: str | Path | Sequence[str | Path],
    *,
    out_dir: str | Path,
    as_of: str | pd.Timestamp | None = None,
    lang: str = "zh",
    config: str | Path | Mapping[str, Any] | None = None,
    mapping: str | Path | Mapping[str, Any] | None = None,
    original_ids: bool = False,
) -> SegmentExport:
    """Ingest an export, segment every customer with every scheme the data allows, and write
    segments.csv.

    Parameters
    ----------
    input_path : path or sequence of paths
        Files or folders for :func:`segmentation.ingest.ingest`.
    out_dir : str or Path
        Folder for segments.csv.
    as_of : str or Timestamp, optional
        The as-of date; the day of the last order when omitted.
    lang : {"zh", "en"}, default "zh"
        Language of headers, names and actions.
    config : path or mapping, optional
        Overrides for :func:`segmentation.config.load_config`.
    mapping : path or mapping, optional
        Column mapping for ingest.
    original_ids : bool, default False
        Write the original customer ids instead of keyed pseudonyms
        (:func:`segmentation.privacy.pseudonymise_customer_ids` with the project's key).

    Returns
    -------
    SegmentExport
    """
    from segmentation.ingest import ingest
    from segmentation.privacy import load_pii_key, pseudonymise_customer_ids

    settings = load_config(config)
    requested = _as_of_day(as_of)
    data = ingest(input_path, mapping=mapping)
    day = requested or pd.Timestamp(data.orders["order_ts"].max()).normalize()
    snapshot = customer_snapshot(data.orders, data.customers, data.interactions, as_of=day)
    run = run_schemes(snapshot, as_of=day, config=_with_scheme_model(settings, data.orders, day))
    segmentations = list(run.segmentations.values())
    unavailable = run.unavailable
    id_transform: IdTransform | None = None
    if not original_ids:
        key = load_pii_key()

        def id_transform(ids: pd.Series) -> pd.Series:
            return pseudonymise_customer_ids(ids, key=key)

    path = write_segments_csv(
        segmentations,
        out_dir,
        lang=lang,
        action_scheme=str(settings["export"]["action_scheme"]),
        id_transform=id_transform,
    )
    return SegmentExport(
        path=path,
        as_of=day,
        n_customers=len(snapshot),
        schemes=[s.scheme for s in segmentations],
        unavailable=unavailable,
    )


def _identity(ids: pd.Series) -> pd.Series:
    return ids


def _as_of_day(as_of: str | pd.Timestamp | None) -> pd.Timestamp | None:
    if as_of is None:
        return None
    try:
        return pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as error:
        raise InvalidOptionError(
            f"--as-of: {as_of!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-10-31."
        ) from error


def _with_scheme_model(
    settings: Mapping[str, Any], orders: pd.DataFrame, day: pd.Timestamp
) -> Mapping[str, Any]:
    """The config with ``clv.model`` resolved as the report resolves it: ``auto`` takes the
    model a backtest with its holdout ending on ``day`` chooses."""
    from segmentation.clv import backtest_from_config, scheme_model
    from segmentation.config import Settings, merge_config

    if settings["clv"]["model"] != "auto":
        return settings
    try:
        backtest = backtest_from_config(orders, config=settings, holdout_end=day)
        model, _ = scheme_model(settings, backtest)
    except SegmentationInputError as error:
        model, _ = scheme_model(settings, None, unavailable=str(error))
    return Settings(merge_config(settings, {"clv": {"model": model}}))
