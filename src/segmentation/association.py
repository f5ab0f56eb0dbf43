"""What each segment buys together: baskets, FP-growth rules and an affinity index.

One order id is one basket. An item (a product, or a category) is in the basket when the
order's net amount for it is positive, so a fully refunded line was not bought. Guests'
orders count for the whole shop's rules and are left out of every segment's.

Frequent itemsets and rules come from ``mlxtend`` (:func:`mlxtend.frequent_patterns.fpgrowth`
and :func:`~mlxtend.frequent_patterns.association_rules`); this module only builds the basket
matrices, chooses the minimum support and ranks what comes back.

References
----------
Han, J., Pei, J. & Yin, Y. (2000). Mining frequent patterns without candidate generation.
SIGMOD Record 29(2), 1-12.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import InvalidOptionError
from segmentation.features import REFUND_TOLERANCE, as_of_cutoff, as_text
from segmentation.schemes.base import Segmentation

__all__ = [
    "LEVELS",
    "AssociationResult",
    "SegmentRules",
    "association_analysis",
    "association_from_config",
    "basket_matrix",
    "item_affinity",
    "mine_rules",
    "order_baskets",
    "support_threshold",
]

#: Basket levels and the orders column whose values are the items.
LEVELS: dict[str, str] = {"product": "product_id", "category": "category"}

#: The columns of a rules table, in order.
RULE_COLUMNS: tuple[str, ...] = (
    "antecedents",
    "consequents",
    "baskets",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)


@dataclass(frozen=True)
class SegmentRules:
    """The rules and the affinity of one group of baskets (a segment, or the whole shop).

    Attributes
    ----------
    n_baskets : int
        Baskets FP-growth ran on (after sampling, if any).
    min_support : float
        The minimum support used (:func:`support_threshold`); NaN when there were too few
        baskets to mine.
    rules : pandas.DataFrame
        :data:`RULE_COLUMNS`, the best by lift first; antecedents and consequents are tuples
        of items.
    affinity : pandas.DataFrame
        :func:`item_affinity` (empty for the whole shop).
    """

    n_baskets: int
    min_support: float
    rules: pd.DataFrame
    affinity: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class AssociationResult:
    """The association analysis of one scheme at one level.

    Attributes
    ----------
    scheme, level : str
        The scheme whose segments were mined, and ``"product"`` or ``"category"``.
    start, end : pandas.Timestamp
        The baskets' dates: after ``start``, up to and including ``end``.
    n_baskets : int
        Every basket in the window, guests' included.
    sample_size : int or None
        The seeded sample of baskets FP-growth ran on, or None when it ran on every basket.
    shop : SegmentRules
        The whole shop's rules (guests' baskets included).
    segments : dict of str to SegmentRules
        Per segment (in the scheme's order) its rules and affinity.
    item_names : dict of str to str
        A product id's name, where the orders have names.
    """

    scheme: str
    level: str
    start: pd.Timestamp
    end: pd.Timestamp
    n_baskets: int
    sample_size: int | None
    shop: SegmentRules
    segments: dict[str, SegmentRules]
    item_names: dict[str, str] = field(default_factory=dict)


def order_baskets(
    orders: pd.DataFrame,
    *,
    level: str = "product",
    as_of: str | pd.Timestamp,
    lookback_days: int,
) -> pd.DataFrame:
    """One row per (order, item) bought in the ``lookback_days`` up to ``as_of``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders with the level's column (:data:`LEVELS`).
    level : {"product", "category"}, default "product"
    as_of : str or pandas.Timestamp
        The last day of the window (inclusive).
    lookback_days : int
        The window's length in days.

    Returns
    -------
    pandas.DataFrame
        ``order_id``, ``customer_id`` (missing for guests) and ``item``, as text; an item
        whose net amount in the order (sales less refunds dated in the window) is not
        positive is left out.
    """
    return _order_baskets(orders, level=level, as_of=as_of, lookback_days=lookback_days)[0]


def _order_baskets(
    orders: pd.DataFrame, *, level: str, as_of: str | pd.Timestamp, lookback_days: int
) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`order_baskets`, and each basket row's ``customer_id`` as the orders hold it."""
    if level not in LEVELS:
        raise InvalidOptionError(f"level: {level!r} is not one of {sorted(LEVELS)}")
    column = LEVELS[level]
    end = as_of_cutoff(as_of)
    start = end - pd.Timedelta(days=lookback_days)
    rows = orders.loc[
        (orders["order_ts"] >= start) & (orders["order_ts"] < end) & orders[column].notna(),
        ["order_id", "customer_id", column, "amount"],
    ]
    # Integer codes: grouping millions of lines by two text columns hashes every string.
    order_codes, order_ids = pd.factorize(rows["order_id"])
    item_codes, items = pd.factorize(rows[column])
    key = order_codes.astype(np.int64) * max(len(items), 1) + item_codes
    net = pd.Series(rows["amount"].to_numpy(dtype=float)).groupby(key, sort=True).sum()
    bought = net.index.to_numpy()[net.to_numpy() > REFUND_TOLERANCE]
    order_of, item_of = np.divmod(bought, max(len(items), 1))
    # An order's customer is the same on all its lines: take its first line's.
    _, first_line = np.unique(order_codes, return_index=True)
    customers = rows["customer_id"].iloc[first_line[order_of]].reset_index(drop=True)
    baskets = pd.DataFrame(
        {
            "order_id": as_text(pd.Series(np.asarray(order_ids)[order_of])),
            "customer_id": as_text(customers),
            "item": as_text(pd.Series(np.asarray(items)[item_of])),
        }
    )
    return baskets, customers


def _positions_among(index: pd.Index, customers: pd.Series) -> np.ndarray:
    """Each of ``customers``' row in ``index`` (both compared as text), -1 where absent.

    Ids as ingest writes them are a categorical: its categories are looked up once (none at
    all when they are ``index`` itself, as this month's snapshot's are) and each row takes
    its category's position, where looking up every basket's id hashed 2.7 million strings
    at a million customers (1.2 s)."""
    wanted = pd.Index(as_text(pd.Series(index)))
    if not isinstance(customers.dtype, pd.CategoricalDtype):
        return wanted.get_indexer(as_text(customers))
    categories = pd.Index(as_text(pd.Series(customers.cat.categories)))
    of_category = (
        np.arange(len(categories)) if categories.equals(wanted) else wanted.get_indexer(categories)
    )
    codes = customers.cat.codes.to_numpy()
    if not len(of_category):  # no categories: every row is missing
        return np.full(len(codes), -1, dtype=np.intp)
    return np.where(codes >= 0, of_category[np.maximum(codes, 0)], -1)


def basket_matrix(baskets: pd.DataFrame, *, items: pd.Index | None = None) -> pd.DataFrame:
    """The one-hot basket matrix FP-growth reads: one row per order, one column per item.

    Parameters
    ----------
    baskets : pandas.DataFrame
        :func:`order_baskets` (or a subset).
    items : pandas.Index, optional
        The columns to keep (every item of ``baskets`` when omitted); an order left without
        any of them stays as an empty row, so supports keep every basket as denominator.

    Returns
    -------
    pandas.DataFrame
        Boolean, indexed by ``order_id`` (sorted), columns the items (sorted).
    """
    orders = pd.Index(baskets["order_id"].unique()).sort_values()
    kept = baskets if items is None else baskets.loc[baskets["item"].isin(items)]
    columns = pd.Index(kept["item"].unique() if items is None else items).sort_values()
    matrix = np.zeros((len(orders), len(columns)), dtype=bool)
    matrix[orders.get_indexer(kept["order_id"]), columns.get_indexer(kept["item"])] = True
    return pd.DataFrame(matrix, index=orders.rename("order_id"), columns=columns.rename("item"))


def support_threshold(n_baskets: int, *, min_baskets: int, min_support: float) -> float:
    """The minimum support of ``n_baskets`` baskets: ``max(min_baskets / n, min_support)``.

    An itemset must be in at least ``min_baskets`` baskets (a small segment still yields
    rules) and in at least ``min_support`` of them (a large one is not flooded with rare
    itemsets). NaN when there are fewer than ``min_baskets`` baskets.
    """
    if n_baskets < max(min_baskets, 1):
        return float("nan")
    return max(min_baskets / n_baskets, float(min_support))


def mine_rules(
    matrix: pd.DataFrame,
    *,
    min_support: float,
    max_len: int,
    min_confidence: float,
    top: int | None = None,
) -> pd.DataFrame:
    """FP-growth and association rules of a basket matrix, the best by lift first.

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`basket_matrix`.
    min_support : float
        Passed to :func:`mlxtend.frequent_patterns.fpgrowth`.
    max_len : int
        The longest itemset.
    min_confidence : float
        Rules below this confidence are dropped
        (:func:`mlxtend.frequent_patterns.association_rules`, ``metric="confidence"``).
    top : int, optional
        Keep this many rules.

    Returns
    -------
    pandas.DataFrame
        :data:`RULE_COLUMNS`; ``baskets`` is the support as a count of baskets. Sorted by
        lift, then confidence, then support (each descending), then the items' text.
    """
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    empty = pd.DataFrame({column: [] for column in RULE_COLUMNS})
    if not len(matrix) or not matrix.shape[1] or not np.isfinite(min_support):
        return empty
    frequent = fpgrowth(matrix, min_support=min_support, use_colnames=True, max_len=max_len)
    if not len(frequent) or frequent["itemsets"].map(len).max() < 2:
        return empty
    # mlxtend computes every metric it knows; some (certainty, Zhang's) divide by zero when
    # an item is in every basket, which says nothing about the five kept here.
    with np.errstate(divide="ignore", invalid="ignore"):
        rules = association_rules(
            frequent, num_itemsets=len(matrix), metric="confidence", min_threshold=min_confidence
        )
    if not len(rules):
        return empty
    table = pd.DataFrame(
        {
            "antecedents": rules["antecedents"].map(lambda s: tuple(sorted(s))),
            "consequents": rules["consequents"].map(lambda s: tuple(sorted(s))),
            "baskets": np.rint(rules["support"].to_numpy() * len(matrix)).astype(np.int64),
            **{c: rules[c].to_numpy(dtype=float) for c in RULE_COLUMNS[3:]},
        }
    )
    order = np.lexsort(
        (
            table["consequents"].map(str).to_numpy(),
            table["antecedents"].map(str).to_numpy(),
            -table["support"].to_numpy(),
            -table["confidence"].to_numpy(),
            -table["lift"].to_numpy(),
        )
    )
    table = table.iloc[order].reset_index(drop=True)
    return table.head(top) if top is not None else table


def item_affinity(
    segment: pd.DataFrame, shop: pd.DataFrame, *, min_baskets: int, top: int | None = None
) -> pd.DataFrame:
    """Items a segment buys more than the whole shop: its share of baskets over the shop's.

    Parameters
    ----------
    segment, shop : pandas.DataFrame
        :func:`order_baskets` rows of the segment's baskets and of every basket.
    min_baskets : int
        Items in fewer of the segment's baskets are left out.
    top : int, optional
        Keep this many items.

    Returns
    -------
    pandas.DataFrame
        Indexed by item: ``baskets`` (the segment's baskets with it), ``segment_share``,
        ``shop_share`` and ``affinity`` (their ratio: 1.5 means half as often again as the
        shop), the highest affinity first (ties: more baskets, then the item).
    """
    return _affinity(
        segment["item"],
        int(segment["order_id"].nunique()),
        shop["item"].value_counts(),
        int(shop["order_id"].nunique()),
        min_baskets=min_baskets,
        top=top,
    )


def _affinity(
    segment_items: pd.Series,
    segment_total: int,
    shop_counts: pd.Series,
    shop_total: int,
    *,
    min_baskets: int,
    top: int | None,
) -> pd.DataFrame:
    """:func:`item_affinity` from the segment's basket rows' items and the shop's counts."""
    # One row per (order, item): an item's rows are its baskets.
    counts = segment_items.value_counts()
    counts = counts.loc[counts >= min_baskets]
    table = pd.DataFrame(
        {
            "baskets": counts.astype(np.int64),
            "segment_share": counts / segment_total if segment_total else np.nan,
            "shop_share": shop_counts.reindex(counts.index) / shop_total,
        }
    )
    table["affinity"] = table["segment_share"] / table["shop_share"]
    order = np.lexsort(
        (table.index.to_numpy(dtype=str), -table["baskets"].to_numpy(), -table["affinity"])
    )
    table = table.iloc[order].rename_axis("item")
    return table.head(top) if top is not None else table


def association_analysis(
    orders: pd.DataFrame,
    segmentation: Segmentation,
    *,
    as_of: str | pd.Timestamp,
    level: str,
    settings: Mapping[str, Any],
    random_state: int = 0,
) -> AssociationResult:
    """Rules of the whole shop and of each segment of ``segmentation``, and each segment's
    affinity, at one level.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    segmentation : Segmentation
        Its labels say which segment a customer's baskets belong to.
    as_of : str or pandas.Timestamp
    level : {"product", "category"}
    settings : mapping
        The config's ``association`` section.
    random_state : int, default 0
        Seeds the sample of baskets, when there are more than ``max_baskets``.

    Returns
    -------
    AssociationResult
    """
    lookback = int(settings["lookback_days"])
    baskets, customers = _order_baskets(orders, level=level, as_of=as_of, lookback_days=lookback)
    # Orders and segments as integer codes: the counts below never hash text again. The rows
    # of one order are next to each other (order_baskets sorts them), so codes increase.
    order_codes, unique_orders = pd.factorize(baskets["order_id"])
    first_row = np.flatnonzero(np.diff(order_codes, prepend=-1))
    chosen, sample_size = _basket_sample(
        len(unique_orders), int(settings["max_baskets"]), random_state
    )
    in_sample = chosen[order_codes]
    labels = segmentation.labels
    position = _positions_among(labels.index, customers)
    segment_codes = np.where(position >= 0, labels.cat.codes.to_numpy()[position], -1)
    order_segment = segment_codes[first_row] + 1  # 0: a guest's basket
    n_categories = len(labels.cat.categories) + 1
    totals = np.bincount(order_segment, minlength=n_categories)
    sampled = np.bincount(order_segment[chosen], minlength=n_categories)
    shop_counts = baskets["item"].value_counts()
    top, min_baskets = int(settings["top_affinity"]), int(settings["min_baskets"])
    segments = {}
    for code, segment in enumerate(labels.cat.categories):
        member = segment_codes == code
        rules = _group_rules(baskets.loc[member & in_sample], int(sampled[code + 1]), settings)
        affinity = _affinity(
            baskets.loc[member, "item"], int(totals[code + 1]), shop_counts,
            len(unique_orders), min_baskets=min_baskets, top=top,
        )  # fmt: skip
        segments[str(segment)] = dataclasses.replace(rules, affinity=affinity)
    end = pd.Timestamp(as_of).normalize()
    return AssociationResult(
        scheme=segmentation.scheme,
        level=level,
        start=end - pd.Timedelta(days=lookback),
        end=end,
        n_baskets=len(unique_orders),
        sample_size=sample_size,
        shop=_group_rules(baskets.loc[in_sample], int(chosen.sum()), settings),
        segments=segments,
        item_names=_item_names(orders) if level == "product" else {},
    )


def _basket_sample(
    n_orders: int, max_baskets: int, random_state: int
) -> tuple[np.ndarray, int | None]:
    """Which orders FP-growth reads: all, or a seeded sample of ``max_baskets`` of them."""
    if n_orders <= max_baskets:
        return np.ones(n_orders, dtype=bool), None
    chosen = np.zeros(n_orders, dtype=bool)
    chosen[np.random.default_rng(random_state).choice(n_orders, max_baskets, replace=False)] = True
    return chosen, max_baskets


def _group_rules(
    baskets: pd.DataFrame, n_baskets: int, settings: Mapping[str, Any]
) -> SegmentRules:
    """The rules of one group of ``n_baskets`` baskets."""
    min_baskets = int(settings["min_baskets"])
    min_support = support_threshold(
        n_baskets, min_baskets=min_baskets, min_support=float(settings["min_support"])
    )
    rules = pd.DataFrame({column: [] for column in RULE_COLUMNS})
    if np.isfinite(min_support):
        # Items below the support cannot be in a frequent itemset: leaving their columns out
        # changes no rule and keeps the matrix small.
        counts = baskets["item"].value_counts()
        frequent_items = counts.index[counts / n_baskets >= min_support]
        rules = mine_rules(
            basket_matrix(baskets, items=pd.Index(frequent_items)),
            min_support=min_support,
            max_len=int(settings["max_len"]),
            min_confidence=float(settings["min_confidence"]),
            top=int(settings["top_rules"]),
        )
    return SegmentRules(n_baskets, min_support, rules)


def _item_names(orders: pd.DataFrame) -> dict[str, str]:
    """Each product id's most common name (ties: the first in text order)."""
    if "product_name" not in orders or not orders["product_name"].notna().any():
        return {}
    named = pd.DataFrame(
        {"id": as_text(orders["product_id"]), "name": as_text(orders["product_name"])}
    ).dropna()
    counts = named.value_counts().reset_index(name="n")
    counts = counts.sort_values(["id", "n", "name"], ascending=[True, False, True])
    return dict(counts.drop_duplicates("id").set_index("id")["name"].astype(str))


def association_from_config(
    orders: pd.DataFrame,
    segmentations: Mapping[str, Segmentation],
    *,
    recommended: str | None,
    as_of: str | pd.Timestamp,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> dict[tuple[str, str], AssociationResult]:
    """The association analysis of the recommended scheme and of the config's ``schemes``,
    at every level the orders support.

    Returns
    -------
    dict of (scheme, level) to AssociationResult
        Empty when the orders have neither products nor categories, or no scheme was
        recommended.
    """
    settings = config["association"]
    names = [n for n in dict.fromkeys([recommended, *settings["schemes"]]) if n is not None]
    levels = [
        level
        for level, column in LEVELS.items()
        if column in orders.columns and orders[column].notna().any()
    ]
    return {
        (name, level): association_analysis(
            orders,
            segmentations[name],
            as_of=as_of,
            level=level,
            settings=settings,
            random_state=random_state,
        )
        for name in names
        if name in segmentations
        for level in levels
    }
