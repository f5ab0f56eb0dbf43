"""The CRM export: every customer's segment and action in every scheme, ready for a CRM.

Beside every report (and from ``segmentation segment``) four files:

- ``segments.csv``: one row per customer (UTF-8 with BOM): the id, the recommended segment
  and action (from the scheme the month's comparison recommends), then each scheme's segment
  and action. Labels start with the scheme's short name (``价值分层:高价值``), so they are
  unique across schemes.
- ``segments.xlsx``: the same table, ids as text cells, so Excel keeps ``00123`` and
  18-digit ids.
- ``wecom_tags.csv``: one row per customer and scheme: id, tag group (the scheme's title),
  tag (the segment's label), for a WeCom tag import.
- ``grade_moves.csv`` (beside a report): who moved up or down in member grade and value
  tier since last month's end, with both segments and the action for the new one.
- ``grade_history.csv`` (beside a report): every customer's member grade, value tier and
  lifecycle stage at each of the last 12 month-ends, each as of its own day.
- ``segments_README.txt``: which ids the files carry and, for pseudonyms, how to map them
  back with the key; where the recommended action comes from.

Ids are the shop's own by default (member numbers are not personal data); pseudonymous when
asked (``export.ids``, ``--ids pseudonymous``) or when they look like phone numbers, WeChat
ids, email addresses or identity card numbers. Text cells that start like a formula are
escaped in the CSV files (OWASP, "CSV Injection").
"""

from segmentation.export._csv import escape_formulas
from segmentation.export._files import (
    EXPORT_FILES,
    EXPORT_README_FILE,
    SEGMENTS_FILE,
    SEGMENTS_XLSX_FILE,
    WECOM_TAGS_FILE,
    CrmExport,
    write_crm_export,
    write_segments_csv,
)
from segmentation.export._ids import ID_CHOICES, IdChoice, choose_ids
from segmentation.export._moves import (
    GRADE_HISTORY_FILE,
    GRADE_MOVES_FILE,
    grade_history_table,
    grade_moves_table,
    write_grade_history,
    write_grade_moves,
)
from segmentation.export._segment import SegmentExport, export_segments
from segmentation.export._table import CrmTable, crm_table, segments_table, wecom_tags_table
from segmentation.export._xlsx import EXCEL_MAX_ROWS

__all__ = [
    "EXCEL_MAX_ROWS",
    "EXPORT_FILES",
    "EXPORT_README_FILE",
    "GRADE_HISTORY_FILE",
    "GRADE_MOVES_FILE",
    "ID_CHOICES",
    "SEGMENTS_FILE",
    "SEGMENTS_XLSX_FILE",
    "WECOM_TAGS_FILE",
    "CrmExport",
    "CrmTable",
    "IdChoice",
    "SegmentExport",
    "choose_ids",
    "crm_table",
    "escape_formulas",
    "export_segments",
    "grade_history_table",
    "grade_moves_table",
    "segments_table",
    "wecom_tags_table",
    "write_crm_export",
    "write_grade_history",
    "write_grade_moves",
    "write_segments_csv",
]
