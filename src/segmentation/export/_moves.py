"""The re-grading files beside segments.csv: who moved up or down since last month's end,
and every customer's grade at each of the last month-ends.

``grade_moves.csv`` has one row per customer and scheme (config ``over_time.moved_schemes``:
member grades and value tiers) whose segment at this month's end differs from last month's,
both computed as of their own month-end (:class:`~segmentation.schemes.history.
SegmentHistory`): the id, the scheme, up or down, last month's and this month's segment and
the playbook's action for this month's. Customers first known this month have no earlier
grade and are not listed. Ids follow segments.csv's policy (:func:`choose_ids`): the shop's
own, or keyed pseudonyms when asked or when they look like personal data.

``grade_history.csv`` has one row per customer known at this month's end and scheme
(config ``over_time.grade_schemes``: member grade, value tier, lifecycle), one column per
month-end (``YYYY-MM``, oldest first) with the segment the customer had as of that day, empty
before the customer was known. Ids follow the same policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import config_section
from segmentation.export._csv import write_frame_csv
from segmentation.export._ids import IdChoice, choose_ids
from segmentation.i18n import localized
from segmentation.outputs import atomic_file, translated_output_errors
from segmentation.schemes.history import SegmentHistory

__all__ = [
    "GRADE_HISTORY_FILE",
    "GRADE_MOVES_FILE",
    "grade_history_table",
    "grade_moves_table",
    "write_grade_history",
    "write_grade_moves",
]

GRADE_MOVES_FILE = "grade_moves.csv"
GRADE_HISTORY_FILE = "grade_history.csv"


def grade_moves_table(
    history: SegmentHistory,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    schemes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The moves of this month as the file shows them, headers and names in ``lang``.

    Parameters
    ----------
    history : SegmentHistory
        :func:`segmentation.schemes.history.segment_history` with the schemes tracked.
    config : mapping
        The config: ``over_time.moved_schemes`` and ``over_time.moves_headers``, and
        ``export.headers.id`` and ``export.tag_prefix`` as segments.csv uses them.
    lang : {"zh", "en"}, default "zh"
    schemes : sequence of str, optional
        The schemes listed; ``over_time.moved_schemes`` when omitted. Schemes the history
        did not track, or that have no order, are left out.

    Returns
    -------
    pandas.DataFrame
        Columns: the id header, scheme, move, last month's segment, this month's segment,
        action; ids as the shop's own (the writer applies the id policy). Rows by scheme
        (in ``schemes`` order), moves up first, then by id.
    """
    section = config_section(config, "over_time")
    headers = {key: localized(value, lang) for key, value in section["moves_headers"].items()}
    export = config_section(config, "export")
    id_header = localized(export["headers"]["id"], lang)
    wanted = list(section["moved_schemes"] if schemes is None else schemes)
    frames = []
    for order, scheme in enumerate(wanted):
        if scheme not in history.grades or not history.ordered.get(scheme, False):
            continue
        moves = history.moves(scheme)
        segments = history.segments[scheme]
        names = segments[f"name_{lang}"]
        frames.append(
            pd.DataFrame(
                {
                    "_order": order,
                    "_down": moves["direction"].eq("down").to_numpy(),
                    id_header: moves["customer_id"].astype("string").to_numpy(),
                    headers["scheme"]: localized(export["tag_prefix"][scheme], lang),
                    headers["move"]: moves["direction"].map(
                        {"up": headers["up"], "down": headers["down"]}
                    ),
                    headers["before"]: moves["before"].map(names).to_numpy(),
                    headers["after"]: moves["after"].map(names).to_numpy(),
                    headers["action"]: moves["after"].map(segments[f"action_{lang}"]).to_numpy(),
                }
            )
        )
    columns = [id_header, *(headers[key] for key in ("scheme", "move", "before", "after"))]
    columns.append(headers["action"])
    if not frames:
        return pd.DataFrame({column: pd.array([], dtype="string") for column in columns})
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["_order", "_down", id_header], kind="stable", ignore_index=True)
    return table[columns]


def write_grade_moves(
    history: SegmentHistory,
    out_dir: str | Path,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    ids: str | IdChoice | None = None,
    project_dir: str | Path | None = None,
) -> tuple[Path, int, IdChoice]:
    """Write ``out_dir/grade_moves.csv`` (UTF-8 with BOM, formula cells escaped).

    Parameters
    ----------
    history : SegmentHistory
        :func:`segmentation.schemes.history.segment_history`.
    out_dir : str or Path
        The folder (segments.csv's); created if absent.
    config : mapping
        The config (see :func:`grade_moves_table`; ``export.ids`` and the personal-id
        checks decide the ids).
    lang : {"zh", "en"}, default "zh"
    ids : {"original", "pseudonymous"} or IdChoice, optional
        As segments.csv was written: its choice (``CrmExport.ids``), kept as it is, or what
        it wrote (``CrmExport.ids.written``); ``export.ids`` when omitted. The decision is
        made on every customer known this month, as segments.csv's is.
    project_dir : str or Path, optional
        Folder of the pseudonymisation key.

    Returns
    -------
    path : Path
        The file written.
    rows : int
        Its data rows (moves).
    ids : IdChoice
        The ids written and why.
    """
    table = grade_moves_table(history, config=config, lang=lang)
    return _write(table, Path(out_dir) / GRADE_MOVES_FILE, history, config, ids, project_dir)


def grade_history_table(
    history: SegmentHistory,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    schemes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every customer's segment at each month-end, as the file shows it, in ``lang``.

    Parameters
    ----------
    history : SegmentHistory
        :func:`segmentation.schemes.history.segment_history`.
    config : mapping
        The config: ``over_time.grade_schemes`` and ``over_time.moves_headers.scheme``, and
        ``export.headers.id`` and ``export.tag_prefix`` as segments.csv uses them.
    lang : {"zh", "en"}, default "zh"
    schemes : sequence of str, optional
        The schemes listed; ``over_time.grade_schemes`` when omitted. Schemes the history
        did not track are left out.

    Returns
    -------
    pandas.DataFrame
        Columns: the id header (categorical, each customer's id a category), scheme
        (categorical), then one per month-end (``YYYY-MM``, oldest first): the segment's
        name (categorical), missing before the customer was known. Rows by scheme
        (in ``schemes`` order), then by id; every customer known at the last month-end once
        per scheme.
    """
    section = config_section(config, "over_time")
    scheme_header = localized(section["moves_headers"]["scheme"], lang)
    export = config_section(config, "export")
    id_header = localized(export["headers"]["id"], lang)
    months = [f"{day:%Y-%m}" for day in history.month_ends]
    wanted = [
        scheme
        for scheme in (section["grade_schemes"] if schemes is None else schemes)
        if scheme in history.grades
    ]
    names = {
        scheme: history.segments[scheme].loc[history.sizes[scheme].columns, f"name_{lang}"]
        for scheme in wanted
    }
    # One category list for all schemes, so the month columns stay categorical when the
    # schemes are stacked (a million customers write in seconds, not as Python strings).
    categories = pd.Index(list(dict.fromkeys(name for scheme in wanted for name in names[scheme])))
    stacked = [
        _recoded(history.grades[scheme], categories.get_indexer(names[scheme])) for scheme in wanted
    ]
    codes = np.concatenate(stacked) if stacked else np.empty((0, len(months)), dtype=np.int16)
    known = len(history.customer_ids)
    # Each id once, as a category: the file writer escapes and quotes a million ids once,
    # not once per scheme.
    ids = pd.Index(history.customer_ids.astype(str), dtype="string")
    table = pd.DataFrame(
        {
            id_header: pd.Categorical.from_codes(
                np.tile(np.arange(known), len(wanted)), categories=ids
            ),
            scheme_header: pd.Categorical.from_codes(
                np.repeat(np.arange(len(wanted)), known),
                categories=pd.Index(
                    [localized(export["tag_prefix"][scheme], lang) for scheme in wanted]
                ),
            ),
        }
    )
    for position, month in enumerate(months):
        table[month] = pd.Categorical.from_codes(codes[:, position], categories=categories)
    return table


def _recoded(grades: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """A scheme's segment codes as positions in the shared categories; -1 stays -1."""
    recoded = positions.astype(np.int16)[np.maximum(grades, 0)]
    return np.where(grades >= 0, recoded, -1).astype(np.int16)


def write_grade_history(
    history: SegmentHistory,
    out_dir: str | Path,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    ids: str | IdChoice | None = None,
    project_dir: str | Path | None = None,
) -> tuple[Path, int, IdChoice]:
    """Write ``out_dir/grade_history.csv`` (UTF-8 with BOM, formula cells escaped).

    Parameters
    ----------
    history : SegmentHistory
        :func:`segmentation.schemes.history.segment_history`.
    out_dir : str or Path
        The folder (segments.csv's); created if absent.
    config : mapping
        The config (see :func:`grade_history_table`; ``export.ids`` and the personal-id
        checks decide the ids).
    lang : {"zh", "en"}, default "zh"
    ids : {"original", "pseudonymous"} or IdChoice, optional
        As segments.csv was written (its ``CrmExport.ids``, kept as it is, or what it
        wrote); ``export.ids`` when omitted.
    project_dir : str or Path, optional
        Folder of the pseudonymisation key.

    Returns
    -------
    path : Path
        The file written.
    rows : int
        Its data rows (customers times schemes).
    ids : IdChoice
        The ids written and why.
    """
    table = grade_history_table(history, config=config, lang=lang)
    return _write(table, Path(out_dir) / GRADE_HISTORY_FILE, history, config, ids, project_dir)


def _write(
    table: pd.DataFrame,
    path: Path,
    history: SegmentHistory,
    config: Mapping[str, Any],
    ids: str | IdChoice | None,
    project_dir: str | Path | None,
) -> tuple[Path, int, IdChoice]:
    """Write ``table`` to ``path`` with segments.csv's id policy (its first column)."""
    transform, choice = choose_ids(
        history.customer_ids, config=config, ids=ids, project_dir=project_dir
    )
    id_header = table.columns[0]
    if transform is not None:
        column = table[id_header]
        pseudonyms = None
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Each distinct id pseudonymised once (grade_history.csv's ids repeat per scheme).
            pseudonyms = pd.Index(transform(pd.Series(column.cat.categories)), dtype="string")
        if pseudonyms is not None and pseudonyms.is_unique:
            table[id_header] = pd.Categorical.from_codes(column.cat.codes, categories=pseudonyms)
        else:  # text ids, or two ids sharing a 64-bit pseudonym (a category must be unique)
            table[id_header] = transform(column.astype("string")).astype("string").to_numpy()
    out = path.parent
    with translated_output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as partial:
            write_frame_csv(table, partial)
    return path, len(table), choice
