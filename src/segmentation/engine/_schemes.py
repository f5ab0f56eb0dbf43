"""Every rule scheme's segment keys on the engine, as the pandas schemes define them
(:mod:`segmentation.schemes.rfm`, ``tiers``, ``lifecycle``, ``needs``), from the same config
values: RFM named and eight classes, value tiers, member grades, frequency and interaction
tiers, lifecycle and needs.

Each scheme is one CASE expression over the snapshot's columns; the few statistics of the
whole snapshot a scheme needs (quintile edges, centres, revenue ranks) are worked out on the
engine too. The keys are those the pandas Segmentation labels carry, ``fully_refunded``
included (a customer with refunds and no purchase, in the schemes with a potential segment).
Money thresholds are in currency units in the config and in minor units here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from segmentation.config import config_section, load_config
from segmentation.engine._quantiles import exact_medians
from segmentation.engine._rfm import rfm_measures, rfm_score_columns

__all__ = ["RULE_SCHEME_NAMES", "customer_state", "rule_labels_expr"]

#: The rule schemes :func:`rule_labels_expr` labels, in report order.
RULE_SCHEME_NAMES: tuple[str, ...] = (
    "rfm_named",
    "rfm_8class",
    "value_tier",
    "member_grade",
    "frequency_tier",
    "interaction_tier",
    "lifecycle",
    "needs",
)

_POTENTIAL = "potential"
_FULLY_REFUNDED = "fully_refunded"
_DAYS_PER_MONTH = 365.25 / 12  # as the pandas frequency tiers count a month
# Cumulative revenue shares: a share this close below a boundary has reached it (as pandas).
_SHARE_TOLERANCE = 1e-9


def rule_labels_expr(
    snapshot: ibis.Table,
    *,
    money_scale: int,
    config: Mapping[str, Any] | None = None,
) -> ibis.Table:
    """``customer_id`` and one column of segment keys per rule scheme the snapshot supports.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr` (money in minor units);
        cache it first (``snapshot.cache()``): the statistics read it several times.
    money_scale : int
        Minor units per currency unit (``EngineTables.money_scale``): the member grades'
        thresholds are scaled by it.
    config : mapping, optional
        The merged config, the sections the pandas schemes read. The built-in one when
        omitted.

    Returns
    -------
    ibis.Table
        Text columns named as :data:`RULE_SCHEME_NAMES`, without ``interaction_tier`` when
        the snapshot has no interaction counts and without ``needs`` when it has no product
        features (the pandas schemes are unavailable there too). Each equals the keys of the
        pandas scheme's ``labels`` on the same snapshot.
    """
    settings = config if config is not None else load_config()
    table = _with_share_above(snapshot)
    state = customer_state(table)
    labels: dict[str, ibis.Value] = {
        "rfm_named": _rfm_named(table, state, settings),
        "rfm_8class": _rfm_8class(table, state, settings),
        "value_tier": _value_tier(table, state, settings),
        "member_grade": _member_grade(table, settings, money_scale=money_scale),
        "frequency_tier": _frequency_tier(table, state, settings),
        "lifecycle": _lifecycle(table, state, settings),
    }
    window = int(config_section(settings, "interaction_tier").get("window_days", 90))
    if f"interactions_{window}d" in table.columns:
        labels["interaction_tier"] = _interaction_tier(table, settings, window=window)
    if {"avg_unit_price_ratio", "category_breadth"} <= set(table.columns):
        labels["needs"] = _needs(table, settings)
    ordered = {name: labels[name] for name in RULE_SCHEME_NAMES if name in labels}
    return table.select("customer_id", **ordered)


def customer_state(snapshot: ibis.Table) -> ibis.Value:
    """``potential`` or ``fully_refunded`` for the customers who did not buy, else null: the
    one definition of the states (segmentation.features.customer_states)."""
    refunded = snapshot.refund_share.fill_null(0.0) > 0
    return ibis.cases(
        (snapshot.is_potential & refunded, _FULLY_REFUNDED),
        (snapshot.is_potential, _POTENTIAL),
        else_=ibis.null("string"),
    )


def _threshold_tier(
    measure: ibis.Value, thresholds: Mapping[str, float], *, default: str
) -> ibis.Value:
    """The highest tier whose threshold ``measure`` reaches (``thresholds`` lowest first)."""
    branches = [(measure >= float(thresholds[t]), t) for t in list(thresholds)[::-1]]
    return ibis.cases(*branches, else_=default)


def _thresholds(section: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    return {name: float(section[name]) for name in names}


def _rfm_named(snapshot: ibis.Table, state: ibis.Value, config: Mapping[str, Any]) -> ibis.Value:
    """The named RFM segment: the grid cell of the R and FM scores."""
    grid = config_section(config, "rfm_named")["grid"]
    scores = rfm_score_columns(snapshot, config=config)
    cells = [
        ((scores["R"] == int(r)) & (scores["FM"] == fm), str(key))
        for r, row in grid.items()
        for fm, key in enumerate(row, start=1)
    ]
    return state.fill_null(ibis.cases(*cells, else_=ibis.null("string")))


def _rfm_8class(snapshot: ibis.Table, state: ibis.Value, config: Mapping[str, Any]) -> ibis.Value:
    """The eight classes: R, F and M against the buyers' mean or median."""
    section = config_section(config, "rfm_8class")
    buyers = snapshot.filter(~snapshot.is_potential)
    # R is compared in days here (fewer is better), not minus the days as RFM scores it.
    days = _in_days(rfm_measures(snapshot, config))
    of_buyers = _in_days(rfm_measures(buyers, config))
    if section.get("center", "mean") == "median":
        centers = exact_medians(buyers, of_buyers)
    else:
        centers = _means(buyers, of_buyers)
    high = {
        "R": days["R"] < centers["R"],
        "F": days["F"] > centers["F"],
        "M": days["M"] > centers["M"],
    }
    letters = {k: ibis.ifelse(v, "H", "L") for k, v in high.items()}
    code = letters["R"].concat(letters["F"], letters["M"])
    classes = dict(section["classes"])
    return state.fill_null(
        ibis.cases(*((code == c, str(k)) for c, k in classes.items()), else_=ibis.null("string"))
    )


def _in_days(measures: dict[str, ibis.Value]) -> dict[str, ibis.Value]:
    """The RFM measures with R back in days since the last purchase."""
    return {letter: -v if letter == "R" else v for letter, v in measures.items()}


def _means(table: ibis.Table, columns: Mapping[str, ibis.Value]) -> dict[str, float]:
    """``numpy.mean`` of each column: its sum over its count, divided here in Python (NaN
    without rows). The sums are of whole days, counts and minor units: exact in any order."""
    row = (
        table.aggregate(
            n=table.count(), **{f"sum_{k}": v.cast("float64").sum() for k, v in columns.items()}
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    n = int(row["n"])
    return {k: float(row[f"sum_{k}"]) / n if n else float("nan") for k in columns}


def _with_share_above(snapshot: ibis.Table) -> ibis.Table:
    """The snapshot with ``share_above``: for a buyer, the share of revenue (positive net
    spend) held by the buyers who spent strictly more; equal spends share one rank."""
    buyers = snapshot.filter(~snapshot.is_potential)
    spend = buyers.monetary_total.cast("float64")
    groups = buyers.group_by(spend=spend).aggregate(revenue=ibis.greatest(spend, 0.0).sum())
    total = groups.revenue.sum().over(ibis.window())
    # Spends are distinct here: a running sum over rows is one over ranks.
    at_or_below = groups.revenue.sum().over(
        ibis.window(order_by=groups.spend, preceding=None, following=0)
    )
    # Whole minor units: every sum is exact, whichever order an engine adds in.
    share = ibis.ifelse(total > 0, ibis.least((total - at_or_below) / total, 1.0), 1.0)
    ranked = groups.select(ranked_spend=groups.spend, share_above=share)
    joined = snapshot.left_join(
        ranked, snapshot.monetary_total.cast("float64") == ranked.ranked_spend
    )
    return joined.drop("ranked_spend")


def _value_tier(table: ibis.Table, state: ibis.Value, config: Mapping[str, Any]) -> ibis.Value:
    """High, mid, low by the revenue share of the buyers who spent strictly more."""
    shares = [float(s) for s in config_section(config, "value_tier")["cumulative_shares"]]
    tier = ibis.cases(
        (table.share_above < shares[0] - _SHARE_TOLERANCE, "high"),
        (table.share_above < shares[0] + shares[1] - _SHARE_TOLERANCE, "mid"),
        else_="low",
    )
    return state.fill_null(tier)


def _member_grade(
    snapshot: ibis.Table, config: Mapping[str, Any], *, money_scale: int
) -> ibis.Value:
    """The highest grade whose minimum spend the net spend reaches; else regular."""
    section = config_section(config, "member_grade")
    column = section.get("spend_column", "monetary_total")
    # Money columns are in minor units on the engine; a count (n_orders) is not.
    scale = money_scale if column.startswith("monetary_") else 1
    thresholds = {
        k: v * scale
        for k, v in _thresholds(section["thresholds"], ("silver", "gold", "diamond")).items()
    }
    spend = snapshot[column].cast("float64")
    spend = ibis.ifelse(snapshot.is_potential, 0.0, spend)
    return _threshold_tier(spend, thresholds, default="regular")


def _frequency_tier(
    snapshot: ibis.Table, state: ibis.Value, config: Mapping[str, Any]
) -> ibis.Value:
    """High, mid, low by purchases (or purchases per month of tenure)."""
    section = config_section(config, "frequency_tier")
    basis = section.get("basis", "n_orders")
    thresholds = _thresholds(section["thresholds"][basis], ("mid", "high"))
    orders = snapshot.n_orders.cast("float64")
    if basis == "n_orders":
        measure = orders
    else:
        floor = float(section.get("min_tenure_days", 0))
        tenure = ibis.greatest(snapshot.tenure_days.fill_null(floor), floor)
        measure = orders / ibis.greatest(tenure, 1.0) * _DAYS_PER_MONTH
    return state.fill_null(_threshold_tier(measure, thresholds, default="low"))


def _interaction_tier(
    snapshot: ibis.Table, config: Mapping[str, Any], *, window: int
) -> ibis.Value:
    """High, mid, low by the interactions in the window; everyone is tiered."""
    thresholds = _thresholds(
        config_section(config, "interaction_tier")["thresholds"], ("mid", "high")
    )
    count = snapshot[f"interactions_{window}d"].cast("float64")
    return _threshold_tier(count, thresholds, default="low")


def _lifecycle(snapshot: ibis.Table, state: ibis.Value, config: Mapping[str, Any]) -> ibis.Value:
    """Churned, sleeping, new, loyal, active: the first rule that applies."""
    section = config_section(config, "lifecycle")
    frequency = snapshot.frequency.cast("float64")
    gap = ibis.ifelse(frequency > 0, snapshot.recency / frequency, ibis.null("float64"))

    def limit(rule: Mapping[str, Any]) -> ibis.Value:
        low, high = float(rule["min_days"]), float(rule["max_days"])
        scaled = ibis.least(ibis.greatest(gap * float(rule["gap_factor"]), low), high)
        return ibis.ifelse(gap.isnull(), high, scaled)

    recency_days = snapshot.recency_days
    stage = ibis.cases(
        (recency_days > limit(section["churned"]), "churned"),
        (recency_days > limit(section["sleeping"]), "sleeping"),
        (snapshot["T"] <= float(section["new_days"]), "new"),
        (snapshot.n_orders.cast("float64") >= float(section["loyal_min_orders"]), "loyal"),
        else_="active",
    )
    return state.fill_null(stage)


def _needs(snapshot: ibis.Table, config: Mapping[str, Any]) -> ibis.Value:
    """Premium, personalised, basic; no_products without a priced, categorised sale line."""
    section = config_section(config, "needs")
    ratio = snapshot.avg_unit_price_ratio
    return ibis.cases(
        (ratio.isnull() | snapshot.is_potential, "no_products"),
        (ratio >= float(section["premium_min_price_ratio"]), "premium"),
        (
            snapshot.category_breadth.cast("float64")
            >= float(section["personalised_min_categories"]),
            "personalised",
        ),
        else_="basic",
    )
