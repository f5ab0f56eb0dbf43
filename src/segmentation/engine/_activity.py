"""The snapshot's optional columns on the engine, as the pandas snapshot adds them
(:mod:`segmentation.features._attributes`): interactions in the trailing 30 and 90 days, and
the product features the needs scheme reads (the mean price ratio to the category median,
the number of categories bought)."""

from __future__ import annotations

import ibis

from segmentation.engine._load import EngineTables

__all__ = [
    "INTERACTION_WINDOW_DAYS",
    "interaction_counts_expr",
    "product_features_expr",
    "sale_lines",
]

#: The interaction windows the snapshot counts, by column, in days ending on the as-of day.
INTERACTION_WINDOW_DAYS: dict[str, int] = {"interactions_30d": 30, "interactions_90d": 90}


def interaction_counts_expr(tables: EngineTables, cutoff: ibis.Value) -> ibis.Table | None:
    """``customer_id`` and the counts of :data:`INTERACTION_WINDOW_DAYS` per customer with an
    interaction in the longest window before ``cutoff``, or None without an interaction log.

    Parameters
    ----------
    tables : EngineTables
        Its ``interactions`` (``customer_id``, ``ts``).
    cutoff : ibis timestamp literal
        The end of the as-of day (exclusive).

    Returns
    -------
    ibis.Table or None
        Left-join it to the known customers and fill 0: an interaction of an id that is not
        a known customer is dropped by the join, as the pandas snapshot drops it.
    """
    if tables.interactions is None:
        return None
    log = tables.interactions
    longest = max(INTERACTION_WINDOW_DAYS.values())
    recent = log.filter(
        log.customer_id.notnull(),
        log.ts < cutoff,
        log.ts >= cutoff - ibis.interval(days=longest),
    )
    counts = {
        column: recent.count(where=recent.ts >= cutoff - ibis.interval(days=days))
        for column, days in INTERACTION_WINDOW_DAYS.items()
    }
    return recent.group_by("customer_id").aggregate(**counts)


def product_features_expr(rows: ibis.Table) -> ibis.Table | None:
    """``customer_id``, ``avg_unit_price_ratio`` and ``category_breadth`` per customer with a
    sale line, or None when the orders carry no unit price and category.

    A sale line is a customer's row up to the as-of day with a positive amount, a positive
    unit price and a category. A category's median is that of its sale lines' unit prices
    (the middle one, or the mean of the two middle ones, as numpy takes it); a line's ratio
    is its unit price over its category's median.

    Parameters
    ----------
    rows : ibis.Table
        The snapshot's order rows (:func:`segmentation.engine._netting.order_rows`).

    Returns
    -------
    ibis.Table or None
        One row per customer with a sale line. The mean ratio is a float sum, whose order an
        engine chooses: it can differ from the pandas path in the last bit (not the labels,
        unless a mean lands on the premium threshold to the last bit).
    """
    if "unit_price" not in rows.columns or "category" not in rows.columns:
        return None
    lines = sale_lines(rows)
    # A histogram of the distinct prices per category (small) with a running count: the
    # middle one or two prices are at 0-based ranks (n - 1) // 2 and n // 2.
    histogram = lines.group_by("category", "unit_price").aggregate(count=lines.count())
    running = histogram.mutate(
        below=histogram["count"]
        .sum()
        .over(
            ibis.window(
                group_by=histogram.category,
                order_by=histogram.unit_price,
                preceding=None,
                following=0,
            )
        ),
        n=histogram["count"].sum().over(ibis.window(group_by=histogram.category)),
    )
    medians = running.group_by("category").aggregate(
        low=running.unit_price.min(where=running.below > (running.n - 1) // 2),
        high=running.unit_price.min(where=running.below > running.n // 2),
    )
    medians = medians.select("category", median=(medians.low + medians.high) / 2.0)
    priced = lines.join(medians, "category")
    ratio = priced.unit_price / priced.median
    return priced.group_by("customer_id").aggregate(
        avg_unit_price_ratio=ratio.sum() / priced.count().cast("float64"),
        category_breadth=priced.category.nunique().cast("int64"),
    )


def sale_lines(rows: ibis.Table) -> ibis.Table:
    """The rows with a positive amount, a positive unit price and a category."""
    return rows.filter(rows.amount_cents > 0, rows.unit_price > 0, rows.category.notnull()).select(
        "customer_id", "category", "unit_price"
    )
