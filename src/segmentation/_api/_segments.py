"""Every customer's segment in each scheme: :func:`segment`, :class:`Segments` and
:func:`export_crm`."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segmentation._api._display import displayed_frame, unavailable_html
from segmentation._api._export import ExportData, settings_of
from segmentation.errors import InvalidOptionError
from segmentation.i18n import check_lang

if TYPE_CHECKING:
    from segmentation._api._comparison import Comparison
    from segmentation.export import CrmExport
    from segmentation.schemes import Segmentation
    from segmentation.schemes.registry import SchemeRun

__all__ = ["Segments", "export_crm", "segment"]

# The summary's words, in each language.
_HEADING = {
    "zh": "<p><b>{schemes} 个分层方案</b> · {customers} 名客户 · 截至 {as_of}{recommended}</p>",
    "en": "<p><b>{schemes} schemes</b> · {customers} customers · as of {as_of}{recommended}</p>",
}
_RECOMMENDED = {"zh": " · 推荐：{title}", "en": " · recommended: {title}"}
_SUMMARY_HEADERS = {
    "zh": ("方案", "分层数", "最大分层", "最大分层人数占比"),
    "en": ("scheme", "segments", "largest segment", "its share of customers"),
}
_SCHEME_LEVEL = {"zh": "方案", "en": "scheme"}


@dataclass(frozen=True)
class Segments:
    """Every customer's segment in each scheme computed on one snapshot.

    Shown in Jupyter as one line per scheme (its segments and largest segment) in ``lang``.
    ``segments["value_tier"]`` is that scheme's :class:`~segmentation.schemes.Segmentation`.

    Attributes
    ----------
    run : segmentation.schemes.registry.SchemeRun
        The schemes computed (in report order), those the data cannot support with the
        reason, and the snapshot they saw.
    config : mapping
        The config the schemes ran with (its ``export`` section writes the CRM files).
    lang : {"zh", "en"}
        The language of names, headers and the CRM files.
    recommended : str or None
        The scheme a comparison recommends (:func:`compare`); None from :func:`segment`,
        whose CRM files then fill the recommended columns from ``export.fallback_scheme``.
    recommendation : dict of str to str
        The comparison's sentence in zh and en; empty from :func:`segment`.
    """

    run: SchemeRun
    config: Mapping[str, Any]
    lang: str
    recommended: str | None = None
    recommendation: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def as_of(self) -> pd.Timestamp:
        """The day the customers were looked at."""
        return self.run.as_of

    @property
    def schemes(self) -> list[str]:
        """The schemes computed, in report order."""
        return list(self.run.segmentations)

    @property
    def unavailable(self) -> dict[str, str]:
        """The schemes the data cannot support, each with the reason."""
        return dict(self.run.unavailable)

    @property
    def snapshot(self) -> pd.DataFrame:
        """The customer snapshot the schemes saw (with ``clv`` and ``p_alive`` when the CLV
        tiers ran)."""
        return self.run.snapshot

    def __getitem__(self, scheme: str) -> Segmentation:
        try:
            return self.run.segmentations[scheme]
        except KeyError:
            raise InvalidOptionError(self._no_scheme(scheme)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.run.segmentations)

    def __len__(self) -> int:
        return len(self.run.segmentations)

    def in_language(self, lang: str) -> Segments:
        """The same segments, shown and written in ``lang`` ("zh" or "en")."""
        return dataclasses.replace(self, lang=check_lang(lang))

    def labels(self, *, named: bool = True) -> pd.DataFrame:
        """One row per customer, one column per scheme: the customer's segment.

        Parameters
        ----------
        named : bool, default True
            Segment names in :attr:`lang` (``高价值``); False for the schemes' own keys
            (``high``).

        Returns
        -------
        pandas.DataFrame
            Indexed by customer id, columns named by scheme (``value_tier``), each an
            ordered categorical from the lowest-value segment to the highest.
        """
        columns = {
            name: (seg.named_labels(self.lang) if named else seg.labels)
            for name, seg in self.run.segmentations.items()
        }
        return pd.DataFrame(columns, index=self.run.snapshot.index)

    def profile(self, scheme: str | None = None) -> pd.DataFrame:
        """Each segment's size, share, mean recency, purchases and spend, revenue share and
        recommended action, with headers in :attr:`lang`.

        Parameters
        ----------
        scheme : str, optional
            One scheme's profile; every scheme's, one after another, when omitted.

        Returns
        -------
        pandas.DataFrame
            Indexed by segment name (and, for every scheme, by the scheme's title first).
        """
        if scheme is not None:
            return displayed_frame(self[scheme].profile_table(self.lang))
        tables = {
            seg.display_title(self.lang): displayed_frame(seg.profile_table(self.lang))
            for seg in self.run.segmentations.values()
        }
        return pd.concat(tables, names=[_SCHEME_LEVEL[self.lang]])

    def export_crm(self, out_dir: str | Path, *, ids: str | None = None) -> CrmExport:
        """Write segments.csv, segments.xlsx, wecom_tags.csv and segments_README.txt.

        The files ``segmentation segment`` writes (from :func:`segment`) or those beside a
        report (from :func:`compare`, whose recommended scheme fills the recommended
        columns).

        Parameters
        ----------
        out_dir : str or Path
            Folder to write; created if absent.
        ids : {"original", "pseudonymous"}, optional
            Overrides the config's ``export.ids``; ids that look like personal data are
            keyed pseudonyms whatever is asked.

        Returns
        -------
        segmentation.export.CrmExport
            The files, their rows and the ids written.
        """
        from segmentation.export import write_crm_export

        return write_crm_export(
            list(self.run.segmentations.values()),
            out_dir,
            config=self.config,
            lang=self.lang,
            recommended=self.recommended,
            recommendation=self.recommendation.get(self.lang, ""),
            ids=ids,
            as_of=self.as_of,
        )

    def __repr__(self) -> str:
        unavailable = ", ".join(self.run.unavailable) or "none"
        recommended = f"; recommended {self.recommended}" if self.recommended else ""
        return (
            f"Segments({len(self)} schemes on {len(self.run.snapshot):,} customers as of "
            f"{self.as_of:%Y-%m-%d}{recommended}; unavailable: {unavailable})"
        )

    def _repr_html_(self) -> str:
        from segmentation.formatting import styled

        lang = self.lang
        recommended = (
            _RECOMMENDED[lang].format(title=html.escape(self[self.recommended].display_title(lang)))
            if self.recommended in self.run.segmentations
            else ""
        )
        heading = _HEADING[lang].format(
            schemes=len(self),
            customers=f"{len(self.run.snapshot):,}",
            as_of=f"{self.as_of:%Y-%m-%d}",
            recommended=recommended,
        )
        table = self._summary()
        kinds = dict(zip(table.columns, ("count", "text", "percent"), strict=True))
        return (
            heading
            + styled(table, kinds).to_html()
            + unavailable_html(self.run.unavailable, lang=lang)
        )

    def _summary(self) -> pd.DataFrame:
        """One row per scheme: its number of segments, the largest and its share."""
        scheme, segments, largest, share = _SUMMARY_HEADERS[self.lang]
        rows = []
        for seg in self.run.segmentations.values():
            biggest = seg.profile.iloc[int(seg.profile["size"].to_numpy().argmax())]
            name, biggest_share = biggest[f"name_{self.lang}"], biggest["share"]
            rows.append((seg.display_title(self.lang), len(seg.profile), name, biggest_share))
        table = pd.DataFrame(rows, columns=[scheme, segments, largest, share])
        return table.set_index(scheme)

    def _no_scheme(self, scheme: str) -> str:
        reason = self.run.unavailable.get(scheme)
        if reason:
            return f"{scheme}: the data cannot support this scheme: {reason}"
        return f"no scheme {scheme!r} here; the schemes computed are {', '.join(self)}."


def segment(
    export: ExportData,
    *,
    month: str | None = None,
    as_of: str | pd.Timestamp | None = None,
    schemes: Collection[str] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    random_state: int = 0,
    lang: str | None = None,
) -> Segments:
    """Segment every customer with every scheme the data allows, or with the ones named.

    The labels are those ``segmentation segment --as-of`` writes for the same day: the
    snapshot (:func:`take_snapshot`), then :func:`segmentation.schemes.registry.run_schemes`
    with the CLV model a backtest ending on that day chooses (config ``clv.model: auto``).

    Parameters
    ----------
    export : ExportData
        :func:`read_export`.
    month : str, optional
        ``YYYY-MM``, looked at as of its last day; the data's last complete month when
        neither this nor ``as_of`` is given.
    as_of : str or pandas.Timestamp, optional
        A day (``YYYY-MM-DD``) instead of a month's end.
    schemes : collection of str, optional
        Registry names (``["value_tier", "lifecycle"]``); every scheme when omitted. Churn
        risk and clusters run the CLV tiers too, so their labels are a full run's.
    config : str, Path or mapping, optional
        A config override; the export's when omitted.
    random_state : int, default 0
        Seed for every model.
    lang : {"zh", "en"}, optional
        The language of names and CRM files; the export's when omitted.

    Returns
    -------
    Segments

    Raises
    ------
    SegmentationInputError
        A month the data does not cover, a malformed date, an unknown scheme name.

    Examples
    --------
    >>> segments = seg.segment(export, schemes=["value_tier", "lifecycle"])  # doctest: +SKIP
    >>> segments.labels().head()  # doctest: +SKIP
    """
    from segmentation.features import customer_snapshot
    from segmentation.schemes.registry import registry, run_schemes, schemes_to_run

    lang = check_lang(lang or export.lang)
    settings = settings_of(export, config)
    day = export._day(month=month, as_of=as_of)
    to_run = schemes_to_run(schemes, registry())  # an unknown name fails before any work
    snapshot = customer_snapshot(export.orders, export.customers, export.interactions, as_of=day)
    run = run_schemes(
        snapshot,
        as_of=day,
        config=_clv_model_resolved(settings, export.orders, day, to_run),
        random_state=random_state,
        schemes=schemes,
    )
    return Segments(run=run, config=settings, lang=lang)


def _clv_model_resolved(
    settings: Mapping[str, Any], orders: pd.DataFrame, day: pd.Timestamp, to_run: set[str]
) -> Mapping[str, Any]:
    """The config with ``clv.model`` resolved as ``segmentation segment`` resolves it, when a
    CLV scheme runs (the backtest that resolves it takes seconds)."""
    # The CLI's own resolution, so the labels are the ones it writes.
    from segmentation.export._segment import _with_scheme_model
    from segmentation.schemes.clv_tiers import CLV_SCHEMES

    if not to_run & set(CLV_SCHEMES):
        return settings
    return _with_scheme_model(settings, orders, day)


def export_crm(
    segments: Segments | Comparison,
    out_dir: str | Path,
    *,
    ids: str | None = None,
    lang: str | None = None,
) -> CrmExport:
    """Write the CRM files of :func:`segment` or :func:`compare` into ``out_dir``.

    segments.csv (UTF-8 with BOM), segments.xlsx (ids as text cells), wecom_tags.csv (id,
    tag group, tag) and segments_README.txt, as ``segmentation segment`` and the report
    write them.

    Parameters
    ----------
    segments : Segments or Comparison
        What to write; a comparison writes this month's schemes with its recommended
        scheme in the recommended columns.
    out_dir : str or Path
        Folder to write; created if absent.
    ids : {"original", "pseudonymous"}, optional
        Overrides the config's ``export.ids``; ids that look like personal data are keyed
        pseudonyms whatever is asked.
    lang : {"zh", "en"}, optional
        Language of headers, labels and actions; the segments' own when omitted.

    Returns
    -------
    segmentation.export.CrmExport
        The files, their rows and the ids written.
    """
    from segmentation._api._comparison import Comparison

    found = segments.segments if isinstance(segments, Comparison) else segments
    if not isinstance(found, Segments):
        raise InvalidOptionError(
            f"export_crm: found a {type(segments).__name__}; give what segment() or compare() "
            "returned."
        )
    if lang is not None:
        found = found.in_language(lang)
    return found.export_crm(out_dir, ids=ids)
