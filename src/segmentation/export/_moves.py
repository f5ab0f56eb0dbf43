"""The re-grading file beside segments.csv: who moved up or down since last month's end.

``grade_moves.csv`` has one row per customer and scheme (config ``over_time.moved_schemes``:
member grades and value tiers) whose segment at this month's end differs from last month's,
both computed as of their own month-end (:class:`~segmentation.schemes.history.
SegmentHistory`): the id, the scheme, up or down, last month's and this month's segment and
the playbook's action for this month's. Customers first known this month have no earlier
grade and are not listed. Ids follow segments.csv's policy (:func:`choose_ids`): the shop's
own, or keyed pseudonyms when asked or when they look like personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.config import config_section
from segmentation.export._csv import escape_formulas
from segmentation.export._ids import IdChoice, choose_ids
from segmentation.i18n import localized
from segmentation.outputs import atomic_file, translated_output_errors
from segmentation.schemes.history import SegmentHistory

__all__ = ["GRADE_MOVES_FILE", "grade_moves_table", "write_grade_moves"]

GRADE_MOVES_FILE = "grade_moves.csv"


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
    ids: str | None = None,
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
    ids : {"original", "pseudonymous"}, optional
        As segments.csv was written (``CrmExport.ids.written``); ``export.ids`` when omitted.
        The decision is made on every customer known this month, as segments.csv's is.
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
    transform, choice = choose_ids(
        history.customer_ids, config=config, ids=ids, project_dir=project_dir
    )
    id_header = table.columns[0]
    if transform is not None:
        table[id_header] = transform(table[id_header]).astype("string").to_numpy()
    out = Path(out_dir)
    path = out / GRADE_MOVES_FILE
    with translated_output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as partial:
            escape_formulas(table).to_csv(
                partial, index=False, encoding="utf-8-sig", lineterminator="\n"
            )
    return path, len(table), choice
