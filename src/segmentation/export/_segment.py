"""``segmentation segment``: ingest an export, segment every customer, write the CRM export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.config import load_config
from segmentation.errors import SegmentationInputError
from segmentation.export._files import CrmExport, write_crm_export
from segmentation.features import (
    as_of_day,
    check_within_data,
    customer_snapshot,
    data_days,
    state_counts,
    states_line,
)
from segmentation.schemes.registry import run_schemes

__all__ = ["SegmentExport", "export_segments"]


@dataclass(frozen=True)
class SegmentExport:
    """What :func:`export_segments` wrote.

    Attributes
    ----------
    export : CrmExport
        The files, their rows and the ids written.
    as_of : pandas.Timestamp
        The as-of date used.
    unavailable : dict of str to str
        Schemes the data could not support, with the reason.
    states : dict of str to int
        Customers by state as of ``as_of`` (:func:`segmentation.features.state_counts`):
        the counts every scheme's labels have.
    states_text : str
        The same as one line in the export's language
        (:func:`segmentation.features.states_line`).
    """

    export: CrmExport
    as_of: pd.Timestamp
    unavailable: dict[str, str] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    states_text: str = ""

    @property
    def path(self) -> Path:
        """segments.csv."""
        return self.export.paths[0]

    def summary_line(self) -> str:
        """One line for the command line."""
        skipped = f"; unavailable: {', '.join(self.unavailable)}" if self.unavailable else ""
        states = f"\n{self.states_text}" if self.states_text else ""
        return (
            f"{self.export.summary_line()}; as of {self.as_of:%Y-%m-%d}, "
            f"{len(self.export.schemes)} schemes{skipped}{states}"
        )


def export_segments(
    input_path: str | Path | Sequence[str | Path],
    *,
    out_dir: str | Path,
    as_of: str | pd.Timestamp | None = None,
    lang: str = "zh",
    config: str | Path | Mapping[str, Any] | None = None,
    mapping: str | Path | Mapping[str, Any] | None = None,
    ids: str | None = None,
) -> SegmentExport:
    """Ingest an export, segment every customer with every scheme the data allows, and write
    the CRM export (:func:`write_crm_export`).

    Parameters
    ----------
    input_path : path or sequence of paths
        Files or folders for :func:`segmentation.ingest.ingest`.
    out_dir : str or Path
        Folder for the files.
    as_of : str or Timestamp, optional
        The as-of date; the day of the last order when omitted. A day before the first order
        or after the last one is refused (:class:`~segmentation.errors.AsOfOutsideDataError`).
    lang : {"zh", "en"}, default "zh"
        Language of headers, names and actions.
    config : path or mapping, optional
        Overrides for :func:`segmentation.config.load_config`.
    mapping : path or mapping, optional
        Column mapping for ingest.
    ids : {"original", "pseudonymous"}, optional
        Overrides ``export.ids`` (the shop's own ids by default); ids that look like personal
        data are written as keyed pseudonyms whatever is asked.

    Returns
    -------
    SegmentExport
    """
    from segmentation.ingest import ingest

    settings = load_config(config)
    requested = as_of_day(as_of) if as_of is not None else None
    data = ingest(input_path, mapping=mapping, time_zone=settings["ingest"]["shop_time_zone"])
    _, last = data_days(data.orders["order_ts"])
    if requested is not None:
        # Before the first order every customer is a prospect, after the last every one
        # drifts to lapsed: refused as `report --month` refuses a month outside the data.
        check_within_data(
            data.orders["order_ts"],
            start=requested,
            end=requested,
            option=f"--as-of {requested:%Y-%m-%d}",
            period="day",
        )
    day = requested or last
    snapshot = customer_snapshot(data.orders, data.customers, data.interactions, as_of=day)
    run = run_schemes(snapshot, as_of=day, config=_with_scheme_model(settings, data.orders, day))
    # No backtest here, so no scheme is recommended: export.fallback_scheme fills the
    # recommended columns, and the notice says so.
    written = write_crm_export(
        list(run.segmentations.values()), out_dir, config=settings, lang=lang, ids=ids, as_of=day
    )
    states = state_counts(snapshot)
    return SegmentExport(
        export=written,
        as_of=day,
        unavailable=run.unavailable,
        states=states,
        states_text=states_line(states, config=settings, lang=lang),
    )


def _with_scheme_model(
    settings: Mapping[str, Any], orders: pd.DataFrame, day: pd.Timestamp
) -> Mapping[str, Any]:
    """The config with ``clv.model`` resolved as the report resolves it: ``auto`` takes the
    model a backtest with its holdout ending on ``day`` chooses."""
    from segmentation.clv import backtest_from_config, scheme_model_overrides
    from segmentation.config import Settings, merge_config

    if settings["clv"]["model"] != "auto":
        return settings
    try:
        backtest = backtest_from_config(orders, config=settings, holdout_end=day)
        overrides, _ = scheme_model_overrides(settings, backtest)
    except SegmentationInputError as error:
        overrides, _ = scheme_model_overrides(settings, None, unavailable=str(error))
    return Settings(merge_config(settings, overrides))
