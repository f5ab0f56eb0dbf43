"""segments.csv: every customer's segment in every scheme, ready for a CRM import.

The file is UTF-8 with a byte-order mark, so Excel opens the Chinese names correctly. It has
one row per customer: ``customer_id`` (pseudonymous by default), one column per scheme with
the segment's display name, and the recommended action of one scheme (the value tiers unless
configured otherwise). Text cells that a spreadsheet would read as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with a single quote, so
opening the file never runs anything (OWASP, "CSV Injection").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.config import load_config
from segmentation.errors import InvalidOptionError, SegmentationInputError
from segmentation.features import customer_snapshot
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

IdTransform = Callable[[pd.Series], pd.Series]


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
            text = out[column].astype("string")
            risky = text.str.startswith(_FORMULA_STARTS).fillna(False).astype(bool)
            out[column] = text.mask(risky, "'" + text)
    return out


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
    if lang not in ("zh", "en"):
        raise SegmentationInputError(f"segments.csv: lang must be 'zh' or 'en', found {lang!r}.")
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
    table = pd.DataFrame({"customer_id": pd.Series(written.to_numpy(), index=customers)})
    headers: set[str] = {"customer_id", ACTION_HEADER[lang]}
    for segmentation in segmentations:
        header = segmentation.display_title(lang)
        if header in headers:  # two schemes with one title: keep both apart
            header = f"{header} ({segmentation.scheme})"
        headers.add(header)
        table[header] = segmentation.named_labels(lang).reindex(customers).astype("string")
    action = by_name[action_scheme]
    actions = action.profile[f"action_{lang}"]
    table[ACTION_HEADER[lang]] = (
        action.labels.reindex(customers).astype(object).map(actions).astype("string")
    )
    return table.reset_index(drop=True).sort_values("customer_id", kind="stable", ignore_index=True)


def write_segments_csv(
    segmentations: Sequence[Segmentation],
    out_dir: str | Path,
    *,
    lang: str = "zh",
    action_scheme: str = "value_tier",
    id_transform: IdTransform | None = None,
) -> Path:
    """Write ``out_dir/segments.csv`` (UTF-8 with BOM, formula cells escaped).

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
    table = segments_table(
        segmentations, lang=lang, action_scheme=action_scheme, id_transform=id_transform
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SEGMENTS_FILE
    escape_formulas(table).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


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
    run = run_schemes(snapshot, as_of=day, config=settings)
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
