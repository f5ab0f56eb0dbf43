"""An export read once, and the day its customers are looked at: :func:`read_export`,
:class:`ExportData` and :func:`take_snapshot`."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segmentation.errors import InvalidOptionError
from segmentation.i18n import check_lang

if TYPE_CHECKING:
    from segmentation.report import MonthData

__all__ = ["ExportData", "read_export", "take_snapshot"]

# The first lines of an export's HTML, in each language.
_HEADING = {
    "zh": "<p><b>{source}</b> · 默认月份 {month}（截至 {as_of}） · 订单日期 {first} 至 {last}</p>",
    "en": "<p><b>{source}</b> · default month {month} (as of {as_of}) · orders from {first} to "
    "{last}</p>",
}
_WARNINGS = {"zh": "读取时的提示", "en": "Notes from reading"}


@dataclass(frozen=True)
class ExportData:
    """An export's canonical tables, read once, with the month they default to.

    Shown in Jupyter as the report's data-quality overview and reconciliation in ``lang``.

    Attributes
    ----------
    data : segmentation.report.MonthData
        The tables, quarantine and quality, and the data's last complete month.
    input_path : Path or None
        The export file or folder read; None for a built-in ``dataset``.
    dataset : str
        The built-in dataset read when ``input_path`` is None ("demo" or "cdnow").
    mapping : Path or None
        The YAML column mapping the export was read with.
    config : Path or None
        The YAML config override the later steps use unless given another.
    demo_customers : int
        Size of the generated demo export.
    lang : {"zh", "en"}
        The language the results of this export are shown and written in.
    """

    data: MonthData
    input_path: Path | None
    dataset: str
    mapping: Path | None
    config: Path | None
    demo_customers: int
    lang: str

    @property
    def orders(self) -> pd.DataFrame:
        """The canonical orders (:data:`segmentation.schema.ORDERS`), one row per line item."""
        return self.data.orders

    @property
    def customers(self) -> pd.DataFrame | None:
        """The canonical customers, or None when the export has no customer attributes."""
        return self.data.customers

    @property
    def interactions(self) -> pd.DataFrame | None:
        """The canonical interactions, or None without an interaction log."""
        return self.data.interactions

    @property
    def quarantine(self) -> pd.DataFrame:
        """Every row set aside, with its file, line, table and reason."""
        return self.data.quarantine

    @property
    def quality(self) -> dict[str, Any]:
        """Ingest's counts: rows in, kept, duplicate and quarantined, customers, guests."""
        return self.data.quality

    @property
    def month(self) -> str:
        """The last complete month in the data, ``YYYY-MM``: what the later steps default to."""
        return self.data.month

    @property
    def as_of(self) -> pd.Timestamp:
        """The last day of :attr:`month` (the data's last day when it ends inside it)."""
        return self.data.as_of

    def in_language(self, lang: str) -> ExportData:
        """The same export, shown and written in ``lang`` ("zh" or "en") from now on."""
        return dataclasses.replace(self, lang=check_lang(lang))

    def _month_data(self, month: str | None = None) -> MonthData:
        """The tables as the report sees ``month`` (``YYYY-MM``; None: :attr:`month`).

        Raises
        ------
        SegmentationInputError
            When ``month`` is malformed or the data does not cover it (as ``segmentation
            report --month`` says).
        """
        from segmentation.report._data import month_as_of

        if not month or month == self.data.month:
            return self.data
        as_of, notes = month_as_of(month, self.data.orders["order_ts"])
        return dataclasses.replace(self.data, month=month, as_of=as_of, notes=notes)

    def _day(
        self, *, month: str | None = None, as_of: str | pd.Timestamp | None = None
    ) -> pd.Timestamp:
        """The day customers are looked at: ``as_of`` when given, else the end of ``month``
        (checked against the data as the report checks it), else :attr:`as_of`.

        Raises
        ------
        InvalidOptionError
            When both are given, or ``as_of`` is not a date.
        """
        if as_of is None:
            return self._month_data(month).as_of
        if month:
            raise InvalidOptionError(
                f"month={month!r} and as_of={as_of!r}: give one of them (a month is looked at "
                "as of its last day)."
            )
        from segmentation.features import as_of_day

        return as_of_day(as_of, name="as_of")

    def __repr__(self) -> str:
        quality = self.quality
        first, last = _date_range(self.orders)
        return (
            f"ExportData({self._source('en')}: {quality['rows_kept']:,} of "
            f"{quality['rows_in']:,} order rows kept, "
            f"{quality['customers']:,} customers with orders, "
            f"{first} to {last}; month {self.month})"
        )

    def _repr_html_(self) -> str:
        from segmentation.report.quality_sections import overview_table, reconciliation

        first, last = _date_range(self.orders)
        heading = _HEADING[self.lang].format(
            source=html.escape(self._source(self.lang)),
            month=self.month,
            as_of=f"{self.as_of:%Y-%m-%d}",
            first=first,
            last=last,
        )
        notes = [html.escape(text) for _, text in self.data.warnings]
        listed = (
            f"<p>{_WARNINGS[self.lang]}:</p><ul>{''.join(f'<li>{n}</li>' for n in notes)}</ul>"
            if notes
            else ""
        )
        return (
            heading
            + overview_table(self.data, lang=self.lang).to_html()
            + reconciliation(self.data, lang=self.lang).to_html()
            + listed
        )

    def _source(self, lang: str) -> str:
        from segmentation.report._data import source_label

        return source_label(self.data.source, lang)


def _date_range(orders: pd.DataFrame) -> tuple[str, str]:
    stamps = orders["order_ts"]
    return f"{stamps.min():%Y-%m-%d}", f"{stamps.max():%Y-%m-%d}"


def read_export(
    path: str | Path | None = None,
    *,
    dataset: str = "demo",
    mapping: str | Path | None = None,
    config: str | Path | None = None,
    lang: str = "zh",
    demo_customers: int = 5000,
) -> ExportData:
    """Read an export (a file or a folder of files) into the canonical tables.

    The export is read as ``segmentation report`` reads it (:func:`segmentation.ingest.ingest`:
    every row kept, dropped as a duplicate or quarantined with the reason), and kept in the
    notebooks' cache (config ``report.cache_dir``), so reading the same files again takes a
    second.

    Parameters
    ----------
    path : str or Path, optional
        An export file or a folder of exports (CSV, XLSX, Parquet, CDNOW text). Omitted:
        the built-in ``dataset``.
    dataset : {"demo", "cdnow"}, default "demo"
        Read when ``path`` is omitted; the demo export is generated under the project's
        data/ on first use.
    mapping : str or Path, optional
        A YAML column mapping, for headers the kit does not recognise.
    config : str or Path, optional
        A YAML config override (thresholds, names, playbook, cache); the later steps use it
        unless given another.
    lang : {"zh", "en"}, default "zh"
        The language results are shown and written in.
    demo_customers : int, default 5000
        Size of the generated demo export.

    Returns
    -------
    ExportData

    Raises
    ------
    SegmentationInputError
        A missing file, an unreadable or unrecognised layout, a malformed mapping or config.

    Examples
    --------
    >>> import segmentation as seg
    >>> export = seg.read_export("data/demo")  # doctest: +SKIP
    """
    from segmentation.report import load_month_data

    check_lang(lang)
    data = load_month_data(
        input_path=path or "",
        dataset=dataset,
        mapping=mapping,
        config=config,
        demo_customers=demo_customers,
    )
    return ExportData(
        data=data,
        input_path=Path(path) if path else None,
        dataset=dataset,
        mapping=Path(mapping) if mapping else None,
        config=Path(config) if config else None,
        demo_customers=demo_customers,
        lang=lang,
    )


def take_snapshot(
    export: ExportData,
    *,
    month: str | None = None,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer known on a day: recency, frequency, spend, tenure, attributes.

    The table every scheme reads (:func:`segmentation.features.customer_snapshot`).

    Parameters
    ----------
    export : ExportData
        :func:`read_export`.
    month : str, optional
        ``YYYY-MM``: as of its last day; the data's last complete month when neither this
        nor ``as_of`` is given.
    as_of : str or pandas.Timestamp, optional
        A day (``YYYY-MM-DD``) instead of a month's end.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id; potential customers (never bought) included.
    """
    from segmentation.features import customer_snapshot

    day = export._day(month=month, as_of=as_of)
    return customer_snapshot(export.orders, export.customers, export.interactions, as_of=day)


def settings_of(
    export: ExportData, config: str | Path | Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """The config a step uses: ``config`` when given, else the export's."""
    from segmentation.config import load_config

    return load_config(config if config is not None else export.config)
