"""How customers moved between two months' segments, counted on the engine.

Two segment tables (:func:`segmentation.engine.rule_labels_expr` as of two days) are joined
on the customer; only the counts of each (earlier, later) pair come back, as
:class:`segmentation.schemes.migration.Migration` counts them: a customer known only at the
later day is in its ``new`` row, one known only at the earlier day in its ``gone`` column
(pass ``schemes.migration.NEW`` and ``GONE``: the engine sits below the schemes).
"""

from __future__ import annotations

import ibis

__all__ = ["migration_counts_expr"]


def migration_counts_expr(
    earlier: ibis.Table, later: ibis.Table, scheme: str, *, new: str, gone: str
) -> ibis.Table:
    """Customers per (earlier segment, later segment) of ``scheme``, on the engine.

    Parameters
    ----------
    earlier, later : ibis.Table
        ``customer_id`` and a column named ``scheme`` of segment keys, as of two days.
    scheme : str
        The scheme's column, e.g. ``"member_grade"``.
    new, gone : str
        The earlier key of a customer known only later, and the later key of one known only
        earlier (``segmentation.schemes.migration.NEW`` and ``GONE``).

    Returns
    -------
    ibis.Table
        ``earlier``, ``later`` (keys, or ``new`` / ``gone``) and ``customers`` (int64), one
        row per pair that occurs.
    """
    before = earlier.select(customer_id=earlier.customer_id, earlier=earlier[scheme].cast("string"))
    after = later.select(later_id=later.customer_id, later=later[scheme].cast("string"))
    joined = before.outer_join(after, before.customer_id == after.later_id)
    pairs = joined.select(earlier=joined.earlier.fill_null(new), later=joined.later.fill_null(gone))
    return pairs.group_by(["earlier", "later"]).aggregate(customers=pairs.count().cast("int64"))
