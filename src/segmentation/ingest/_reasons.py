"""Why a row is quarantined: every reason, in priority order, and the first that applies."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["REASONS", "REASON_CODE", "REASON_NAME", "Reasons"]

# Every reason a row can be quarantined for, in priority order: a row with several problems
# is quarantined for the first one, so each row is counted once.
REASONS: dict[str, str] = {
    "wrong_field_count": "the line has more or fewer fields than the header",
    "truncated_row": "the file ends in the middle of this row (the export was cut off)",
    "unterminated_quote": (
        "a quote opened on this line is never closed: the rest of the file is one cut-off "
        "record, counted as the non-blank lines it spans"
    ),
    "undecodable_line": "the line is not text in the file's encoding (e.g. GBK in a UTF-8 file)",
    "nul_bytes": "the line holds NUL bytes (binary data)",
    "missing_order_id": "no order id",
    "missing_customer_id": "no customer id (customers and interactions; guest orders are kept)",
    "missing_date": "no date",
    "unparsable_date": "the date matches no known format (nor an Excel serial number)",
    "unparsable_quantity": "the quantity is not a number",
    "unparsable_unit_price": "the unit price is not a number",
    "missing_amount": "no amount, and no quantity and unit price to compute it from",
    "unparsable_amount": "the amount is not a number, even allowing for ¥, 元 and separators",
    "missing_kind": "no interaction kind",
    "date_too_early": "dated before `earliest` (default 1990-01-01): usually a placeholder",
    "date_after_as_of": "dated after the as-of day",
    "date_out_of_range": "a real date, but before 1678 or after 2261, which cannot be stored "
    "(with `as_of` or `earliest` set it is quarantined as after or before them)",
    "nonpositive_unit_price": "unit price zero or below on a row that is not a refund",
    "repeated_customer_id": "a later row of the customers table has the same customer id",
    "missing_campaign_id": "no campaign id (campaign log)",
    "unknown_group": "the group is neither treated (实验组, 触达组) nor control (对照组); "
    "a row of unknown group cannot be counted on either side",
    "unknown_customer": "the customer is in neither the orders nor the customers table "
    "(campaign log): the id is mistyped, or the customer's export is missing",
}
REASON_CODE: dict[str, int] = {name: code for code, name in enumerate(REASONS, start=1)}
REASON_NAME: tuple[str, ...] = ("", *REASONS)


class Reasons:
    """Assigns the first reason that applies to each row.

    A row's code is 0 while no reason applies, else ``REASON_CODE`` of the first one flagged.
    ``failed_key`` keeps the raw text of the cells that failed to parse, so two different
    unparsable values are not mistaken for duplicates (both parse to missing).
    """

    def __init__(self, n: int) -> None:
        self.codes = np.zeros(n, dtype=np.int8)
        self.failed: list[tuple[np.ndarray, pa.ChunkedArray]] = []

    def flag(self, mask: np.ndarray, reason: str) -> None:
        self.codes[(self.codes == 0) & mask] = REASON_CODE[reason]

    def failed_parse(self, mask: np.ndarray, raw: pa.ChunkedArray, reason: str) -> None:
        self.flag(mask, reason)
        if mask.any():
            self.failed.append((mask, raw))

    def failed_key(self) -> np.ndarray:
        if not self.failed:
            return np.zeros(len(self.codes), dtype=bool)  # falsy: nothing failed
        key = np.full(len(self.codes), None, dtype=object)
        for mask, raw in self.failed:
            rows = np.flatnonzero(mask)
            texts = pc.take(raw, pa.array(rows)).to_pylist()
            for row, value in zip(rows, texts, strict=True):
                key[row] = f"{key[row] or ''}\x1f{value}"
        return key
