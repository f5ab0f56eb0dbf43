"""Writing the CRM export: segments.csv, segments.xlsx, wecom_tags.csv and their notice."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import config_section
from segmentation.export._csv import (
    arrow_text,
    csv_cells,
    csv_cells_column,
    escaped_text,
    joined_rows,
    value_positions,
    write_rows,
)
from segmentation.export._ids import IdChoice, choose_ids
from segmentation.export._notice import NoticeFacts, export_notice
from segmentation.export._table import CrmTable, IdTransform, crm_table
from segmentation.export._xlsx import write_xlsx
from segmentation.i18n import localized
from segmentation.outputs import atomic_file, translated_output_errors
from segmentation.schemes.base import Segmentation

__all__ = [
    "EXPORT_FILES",
    "EXPORT_README_FILE",
    "SEGMENTS_FILE",
    "SEGMENTS_XLSX_FILE",
    "WECOM_TAGS_FILE",
    "CrmExport",
    "write_crm_export",
    "write_segments_csv",
]

SEGMENTS_FILE = "segments.csv"
SEGMENTS_XLSX_FILE = "segments.xlsx"
WECOM_TAGS_FILE = "wecom_tags.csv"
EXPORT_README_FILE = "segments_README.txt"
EXPORT_FILES = (SEGMENTS_FILE, SEGMENTS_XLSX_FILE, WECOM_TAGS_FILE, EXPORT_README_FILE)


@dataclass(frozen=True)
class CrmExport:
    """What :func:`write_crm_export` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder holding the files.
    rows : dict of str to int
        Data rows (the header aside) of each table file, by file name.
    columns : list of str
        segments.csv's header.
    recommended : str
        The scheme whose segment and action fill the recommended columns.
    recommended_by : {"comparison", "fallback"}
        Whether the month's comparison chose it or ``export.fallback_scheme``.
    ids : IdChoice
        Which ids were written and why.
    xlsx_sheets : int
        Sheets of segments.xlsx (more than one beyond Excel's 1,048,575 rows).
    schemes : list of str
        The schemes written, in column order.
    """

    out_dir: Path
    rows: dict[str, int]
    columns: list[str]
    recommended: str
    recommended_by: str
    ids: IdChoice
    xlsx_sheets: int
    schemes: list[str]

    @property
    def paths(self) -> list[Path]:
        """The files written, segments.csv first."""
        return [self.out_dir / name for name in EXPORT_FILES]

    def manifest_entry(self) -> dict[str, Any]:
        """For manifest.json: each file with its rows, the ids written and the scheme behind
        the recommended columns."""
        files: dict[str, dict[str, int]] = {
            SEGMENTS_FILE: {"rows": self.rows[SEGMENTS_FILE], "columns": len(self.columns)},
            SEGMENTS_XLSX_FILE: {"rows": self.rows[SEGMENTS_XLSX_FILE], "sheets": self.xlsx_sheets},
            WECOM_TAGS_FILE: {"rows": self.rows[WECOM_TAGS_FILE], "columns": 3},
            EXPORT_README_FILE: {"lines": self.rows[EXPORT_README_FILE]},
        }
        return {
            "files": files,
            "ids": self.ids.to_dict(),
            "recommended_scheme": self.recommended,
            "recommended_by": self.recommended_by,
        }

    def summary_line(self) -> str:
        """One line for the command line."""
        forced = " (they look like personal data)" if self.ids.forced else ""
        return (
            f"wrote {SEGMENTS_FILE}, {SEGMENTS_XLSX_FILE} ({self.rows[SEGMENTS_FILE]:,} "
            f"customers), {WECOM_TAGS_FILE} ({self.rows[WECOM_TAGS_FILE]:,} tags) and "
            f"{EXPORT_README_FILE} to {self.out_dir}; {self.ids.written} ids{forced}"
        )


def write_crm_export(
    segmentations: Sequence[Segmentation],
    out_dir: str | Path,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    recommended: str | None = None,
    recommendation: str = "",
    ids: str | None = None,
    project_dir: str | Path | None = None,
    as_of: pd.Timestamp | None = None,
) -> CrmExport:
    """Write the CRM export into ``out_dir``: segments.csv, segments.xlsx, wecom_tags.csv and
    segments_README.txt.

    Parameters
    ----------
    segmentations : sequence of Segmentation
        Schemes computed on one snapshot, in column order.
    out_dir : str or Path
        Folder to write; created if absent.
    config : mapping
        The config (its ``export`` section).
    lang : {"zh", "en"}, default "zh"
        Language of headers, labels, actions and the notice.
    recommended : str, optional
        The scheme the month's comparison recommends (``MonthAnalysis.verdict.scheme``);
        ``export.fallback_scheme`` when None.
    recommendation : str, optional
        The comparison's sentence in ``lang``, quoted in the notice.
    ids : {"original", "pseudonymous"}, optional
        Overrides ``export.ids``; ids that look like personal data are pseudonymous always.
    project_dir : str or Path, optional
        Folder of the pseudonymisation key.
    as_of : pandas.Timestamp, optional
        The data's as-of day, for the notice.

    Returns
    -------
    CrmExport
    """
    table = crm_table(segmentations, config=config, lang=lang, recommended=recommended)
    transform, choice = choose_ids(table.ids, config=config, ids=ids, project_dir=project_dir)
    if transform is not None:
        table = dataclasses.replace(table, ids=transform(table.ids).astype("string"))
    out = Path(out_dir)
    with translated_output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        headers = config_section(config, "export")["headers"]
        order = table.row_order()
        id_cells = csv_cells_column(escaped_text(table.ids.take(order).reset_index(drop=True)))
        # Each file is written aside and renamed into place whole (an interrupted run leaves
        # the last complete file, never a part). The workbook, mostly zlib (which releases
        # the GIL), is written on a second thread beside the two CSV files (at a million
        # customers the export takes 5.1 s); it is renamed into place only once they are.
        with (
            atomic_file(out / SEGMENTS_XLSX_FILE) as workbook_partial,
            ThreadPoolExecutor(max_workers=1) as beside,
        ):
            workbook = beside.submit(
                write_xlsx,
                workbook_partial,
                id_header=table.id_header,
                ids=table.ids,
                columns=table.columns,
                order=order,
                sheet=localized(headers["sheet"], lang),
            )
            with atomic_file(out / SEGMENTS_FILE) as partial:
                written = _write_table_csv(table, partial, order, id_cells)
            with atomic_file(out / WECOM_TAGS_FILE) as partial:
                tags = _write_tags_csv(
                    table,
                    partial,
                    order,
                    id_cells,
                    header=[localized(headers["tag_group"], lang), localized(headers["tag"], lang)],
                )
            sheets = workbook.result()
        rows = {SEGMENTS_FILE: written, WECOM_TAGS_FILE: tags, SEGMENTS_XLSX_FILE: len(order)}
    by_comparison = recommended == table.recommended
    titles = {s.scheme: s.display_title(lang) for s in segmentations}
    notice = export_notice(
        NoticeFacts(
            lang=lang,
            as_of=as_of,
            rows=rows,
            files={
                "csv": SEGMENTS_FILE,
                "xlsx": SEGMENTS_XLSX_FILE,
                "tags": WECOM_TAGS_FILE,
                "notice": EXPORT_README_FILE,
            },
            n_customers=len(order),
            n_schemes=len(table.schemes),
            id_header=table.id_header,
            ids=choice,
            recommended_title=titles[table.recommended],
            recommended_sentence=recommendation if by_comparison else "",
            asked_scheme=recommended,
            example_tag=_example_tag(table),
            recommended_headers=(table.columns[0].header, table.columns[1].header),
        )
    )
    with translated_output_errors(out), atomic_file(out / EXPORT_README_FILE) as partial:
        partial.write_text(notice, encoding="utf-8")
    rows[EXPORT_README_FILE] = notice.count("\n")
    return CrmExport(
        out_dir=out,
        rows=rows,
        columns=[table.id_header, *(column.header for column in table.columns)],
        recommended=table.recommended,
        recommended_by="comparison" if by_comparison else "fallback",
        ids=choice,
        xlsx_sheets=sheets,
        schemes=table.schemes,
    )


def write_segments_csv(
    segmentations: Sequence[Segmentation],
    out_dir: str | Path,
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    recommended: str | None = None,
    id_transform: IdTransform | None = None,
) -> Path:
    """Write ``out_dir/segments.csv`` alone (UTF-8 with BOM, formula cells escaped).

    The file is the one ``escape_formulas(segments_table(...)).to_csv(path, index=False,
    encoding="utf-8-sig", lineterminator="\\n")`` writes, byte for byte.

    Parameters
    ----------
    segmentations : sequence of Segmentation
        Schemes computed on one snapshot.
    out_dir : str or Path
        Folder to write; created if absent.
    config, lang, recommended, id_transform
        As in :func:`segmentation.export.crm_table`.

    Returns
    -------
    Path
        The file written.
    """
    table = crm_table(
        segmentations,
        config=config,
        lang=lang,
        recommended=recommended,
        id_transform=id_transform,
    )
    out = Path(out_dir)
    order = table.row_order()
    id_cells = csv_cells_column(escaped_text(table.ids.take(order).reset_index(drop=True)))
    with translated_output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(out / SEGMENTS_FILE) as partial:
            _write_table_csv(table, partial, order, id_cells)
    return out / SEGMENTS_FILE


def _write_table_csv(table: CrmTable, path: Path, order: np.ndarray, id_cells: Any) -> int:
    """segments.csv from the table's codes; the rows written."""
    cells = [csv_cells(escaped_text(column.values)) for column in table.columns]
    # The line ends with the last column's cell, so every row is one join.
    cells[-1] = [cell + "\n" for cell in cells[-1]]
    texts = [arrow_text(values) for values in cells]
    positions = [
        value_positions(column.codes, len(column.values))[order] for column in table.columns
    ]

    def block(start: int, stop: int) -> memoryview:
        picked = [text.take(at[start:stop]) for text, at in zip(texts, positions, strict=True)]
        return joined_rows([id_cells[start:stop], *picked])

    header = [table.id_header, *(column.header for column in table.columns)]
    write_rows(path, header, len(order), block)
    return len(order)


def _write_tags_csv(
    table: CrmTable, path: Path, order: np.ndarray, id_cells: Any, *, header: list[str]
) -> int:
    """wecom_tags.csv: per customer, a line per scheme that labels them; the rows written."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Per scheme and label, the line after the id: ",group,tag\n"; none for a missing label.
    endings, positions = [], []
    for group, column in table.tag_groups:
        (group_cell,) = csv_cells(escaped_text(pd.Series([group], dtype="string")))
        tags = csv_cells(escaped_text(column.values))
        missing = column.values.isna().to_numpy()
        endings.append(
            arrow_text(
                [
                    None if gone else f",{group_cell},{tag}\n"
                    for tag, gone in zip(tags, missing, strict=True)
                ]
            )
        )
        positions.append(value_positions(column.codes, len(column.values))[order])
    empty = pa.scalar("", pa.large_string())

    def block(start: int, stop: int) -> memoryview:
        lines = [
            pc.fill_null(
                pc.binary_join_element_wise(
                    id_cells[start:stop], ending.take(at[start:stop]), empty
                ),
                "",
            )
            for ending, at in zip(endings, positions, strict=True)
        ]
        return joined_rows(lines, separator="")

    write_rows(path, [table.id_header, *header], len(order), block)
    return table.n_tags()


def _example_tag(table: CrmTable) -> str:
    """The recommended scheme's highest segment label, to show how labels read."""
    values = table.columns[0].values.dropna()
    return str(values.iloc[-1]) if len(values) else ""
