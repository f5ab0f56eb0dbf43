"""The month's comparison of the schemes and the report: :func:`compare`, :class:`Comparison`
and :func:`build_report`."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segmentation._api._display import displayed_frame, unavailable_html
from segmentation._api._export import ExportData, settings_of
from segmentation._api._segments import Segments
from segmentation.i18n import check_lang

if TYPE_CHECKING:
    from segmentation.analysis import MonthAnalysis
    from segmentation.export import CrmExport
    from segmentation.report import ReportResult

__all__ = ["Comparison", "build_report", "compare"]

_HEADING = {
    "zh": "<p><b>{month}</b>（截至 {as_of}） · 回测：{start} → {end}</p>",
    "en": "<p><b>{month}</b> (as of {as_of}) · backtest: {start} → {end}</p>",
}


@dataclass(frozen=True)
class Comparison:
    """The month's schemes scored on held-out months, ranked, and the one recommended.

    Shown in Jupyter as the report's comparison: the backtest window, the recommendation,
    the ranking rule and the ranked table, in ``lang``.

    Attributes
    ----------
    analysis : segmentation.analysis.MonthAnalysis
        Every scheme this month, last month and at calibration, their scores, the
        agreement between them and the verdict.
    month : str
        ``YYYY-MM``.
    config : mapping
        The config the analysis ran with.
    lang : {"zh", "en"}
        The language tables, sentences and the CRM files are in.
    """

    analysis: MonthAnalysis
    month: str
    config: Mapping[str, Any]
    lang: str

    @property
    def as_of(self) -> pd.Timestamp:
        """The month's as-of day (its last day, or the data's last day inside it)."""
        return self.analysis.as_of

    @property
    def recommended(self) -> str | None:
        """The scheme ranked first, or None when no scheme could be ranked."""
        return self.analysis.verdict.scheme

    @property
    def recommendation(self) -> str:
        """The one-sentence recommendation in :attr:`lang`, with the numbers behind it."""
        return self.analysis.recommendation[self.lang]

    @property
    def scores(self) -> pd.DataFrame:
        """One row per scheme, ranked: backtest scores, bootstrap support, shape, stability."""
        return self.analysis.scores

    @property
    def segments(self) -> Segments:
        """This month's segments in every scheme, with the recommended scheme marked (what
        the report's CRM files carry)."""
        verdict = self.analysis.verdict
        return Segments(
            run=self.analysis.current,
            config=self.config,
            lang=self.lang,
            recommended=verdict.scheme,
            recommendation=dict(verdict.sentence),
        )

    def in_language(self, lang: str) -> Comparison:
        """The same comparison, shown and written in ``lang`` ("zh" or "en")."""
        return dataclasses.replace(self, lang=check_lang(lang))

    def ranking(self) -> pd.DataFrame:
        """The ranked table as the report shows it: scheme titles and headers in
        :attr:`lang` (the values stay numbers).

        Returns
        -------
        pandas.DataFrame
            One row per scheme, best first.
        """
        return displayed_frame(self._ranking_table())

    def export_crm(self, out_dir: str | Path, *, ids: str | None = None) -> CrmExport:
        """Write this month's CRM files, as the report writes them beside index.html.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write; created if absent.
        ids : {"original", "pseudonymous"}, optional
            Overrides the config's ``export.ids``.

        Returns
        -------
        segmentation.export.CrmExport
        """
        return self.segments.export_crm(out_dir, ids=ids)

    def __repr__(self) -> str:
        ranked = int(self.scores["rank"].notna().sum()) if len(self.scores) else 0
        support = self.analysis.verdict.support
        chosen = (
            f"recommended {self.recommended} (first in {support:.0%} of bootstrap replicates)"
            if self.recommended
            else "no scheme could be ranked"
        )
        return (
            f"Comparison({self.month}: {ranked} of {len(self.scores)} schemes ranked, {chosen}; "
            f"backtest {self.analysis.calibration_end:%Y-%m-%d} to "
            f"{self.analysis.outcomes_end:%Y-%m-%d})"
        )

    def _repr_html_(self) -> str:
        from segmentation.report._data import cut_month_note

        analysis = self.analysis
        heading = _HEADING[self.lang].format(
            month=self.month,
            as_of=f"{self.as_of:%Y-%m-%d}",
            start=f"{analysis.calibration_end:%Y-%m-%d}",
            end=f"{analysis.outcomes_end:%Y-%m-%d}",
        )
        note = cut_month_note(self.month, self.as_of, lang=self.lang)
        parts = [
            heading,
            f"<p>⚠ {html.escape(note)}</p>" if note else "",
            f"<p><b>{html.escape(self.recommendation)}</b></p>",
            f"<p>{html.escape(analysis.verdict.rule[self.lang])}</p>",
            self._ranking_table().to_html(),
        ]
        parts.append(unavailable_html(analysis.current.unavailable, lang=self.lang))
        return "".join(parts)

    def _ranking_table(self) -> Any:
        from segmentation.evaluate import scores_table

        return scores_table(self.scores, self.analysis.scheme_titles(), lang=self.lang)


def compare(
    export: ExportData,
    *,
    month: str | None = None,
    horizon_days: int | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    random_state: int = 0,
    lang: str | None = None,
) -> Comparison:
    """Score every scheme on held-out months, rank them and recommend one, as the report does.

    Every scheme is computed as of the month's end, last month's end and the calibration
    day (the month's end minus the horizon), scored on what customers did after
    calibration, and ranked by the one rule of :mod:`segmentation.ranking`. The analysis is
    kept in the notebooks' cache (config ``report.cache_dir``), so the report's notebooks
    and the next call on the same export, month and options read it back.

    Parameters
    ----------
    export : ExportData
        :func:`read_export`.
    month : str, optional
        ``YYYY-MM``; the data's last complete month when omitted.
    horizon_days : int, optional
        The backtest's held-out window; the config's ``report.horizon_days`` (90) when
        omitted.
    config : str, Path or mapping, optional
        A config override; the export's when omitted.
    random_state : int, default 0
        Seed for every model and the bootstrap.
    lang : {"zh", "en"}, optional
        The language of tables and sentences; the export's when omitted.

    Returns
    -------
    Comparison

    Raises
    ------
    SegmentationInputError
        A malformed month or one the data does not cover, a horizon below one day.
    """
    from segmentation.report import cached_analysis

    lang = check_lang(lang or export.lang)
    data = export._month_data(month)
    chosen = config if config is not None else export.config
    analysis = cached_analysis(
        data, horizon_days=horizon_days, random_state=random_state, config=chosen
    )
    return Comparison(
        analysis=analysis, month=data.month, config=settings_of(export, config), lang=lang
    )


def build_report(
    export: ExportData | str | Path | None = None,
    *,
    month: str | None = None,
    lang: str | None = None,
    reports_dir: str | Path = "reports",
    horizon_days: int | None = None,
    config: str | Path | None = None,
    ids: str | None = None,
    random_state: int = 0,
    progress: bool = False,
) -> ReportResult:
    """Build the month's HTML report, as ``segmentation report`` does.

    ``reports/<YYYY-MM>/index.html`` (one self-contained file), the executed notebooks,
    the CRM files, quarantine.csv and manifest.json (:func:`segmentation.report.build_report`).

    Parameters
    ----------
    export : ExportData, str or Path, optional
        :func:`read_export` (its file or folder, mapping, config and language are used), or
        the path of an export; the built-in demo when omitted.
    month : str, optional
        ``YYYY-MM``; the data's last complete month when omitted.
    lang : {"zh", "en"}, optional
        The report's language; the export's (or "zh") when omitted.
    reports_dir : str or Path, default "reports"
        The report goes to ``reports_dir/<YYYY-MM>/``.
    horizon_days : int, optional
        The backtest's held-out window; the config's ``report.horizon_days`` when omitted.
    config : str or Path, optional
        A YAML config override; the export's when omitted.
    ids : {"original", "pseudonymous"}, optional
        Customer ids in the CRM files; the config's ``export.ids`` when omitted.
    random_state : int, default 0
        Seed for every model.
    progress : bool, default False
        Write one line per stage, with its seconds, to stderr.

    Returns
    -------
    segmentation.report.ReportResult
        Where the report is (``index_html``), its month and manifest.
    """
    from segmentation.report import build_report as build

    if isinstance(export, ExportData):
        inputs: dict[str, Any] = {
            "input_path": export.input_path,
            "dataset": export.dataset,
            "mapping": export.mapping,
            "demo_customers": export.demo_customers,
        }
        lang = lang or export.lang
        config = config if config is not None else export.config
    else:
        inputs = {"input_path": Path(export) if export else None}
    return build(
        **inputs,
        month=month,
        lang=check_lang(lang or "zh"),
        config=config,
        reports_dir=reports_dir,
        random_state=random_state,
        horizon_days=horizon_days,
        ids=ids,
        progress=progress,
    )
