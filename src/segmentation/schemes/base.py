"""The one interface every segmentation scheme returns: :class:`Segmentation`.

A scheme is a function ``scheme(snapshot, *, config, random_state=0, previous=None)`` from
the customer snapshot (:func:`segmentation.features.customer_snapshot`) to a Segmentation.
A scheme the data cannot support raises :class:`SchemeUnavailable` with a message the report
shows; it never fills in made-up values.

Segments are data, not branches of code: a scheme's labels are short stable keys (``"high"``,
``"champions"``), and the profile carries each key's bilingual name and recommended action.
Categories are ordered from the lowest-value segment to the highest, so ``<`` means "worth
less" and migration matrices read naturally (moving right is moving up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from segmentation.config import config_section
from segmentation.errors import SchemeUnavailable, SegmentationInputError
from segmentation.features import FULLY_REFUNDED, customer_states
from segmentation.formatting import styled

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "POTENTIAL_KEY",
    "PROFILE_COLUMNS",
    "Scheme",
    "SchemeUnavailable",
    "Segment",
    "Segmentation",
    "common_positions",
    "config_section",
    "config_segments",
    "fully_refunded_segment",
    "make_segmentation",
    "segment_profile",
    "select_keys",
]

#: The segment key of customers who never bought, in every scheme that has them.
POTENTIAL_KEY = "potential"

PROFILE_COLUMNS = [
    "name_zh",
    "name_en",
    "size",
    "share",
    "recency_days_mean",
    "frequency_mean",
    "monetary_total_mean",
    "revenue_share",
    "action_zh",
    "action_en",
]


# Each profile column's header in the report's language and its kind of value
# (segmentation.formatting); the segment's name heads the first column.
_PROFILE_HEADERS: dict[str, dict[str, str]] = {
    "zh": {
        "segment": "分层",
        "size": "人数",
        "share": "人数占比",
        "recency_days_mean": "平均距上次购买天数",
        "frequency_mean": "平均复购次数",
        "monetary_total_mean": "平均累计消费",
        "revenue_share": "收入占比",
        "action_zh": "推荐动作",
    },
    "en": {
        "segment": "segment",
        "size": "customers",
        "share": "share of customers",
        "recency_days_mean": "mean days since last purchase",
        "frequency_mean": "mean repeat purchases",
        "monetary_total_mean": "mean total spend",
        "revenue_share": "share of revenue",
        "action_en": "recommended action",
    },
}
_PROFILE_KINDS = {
    "size": "count",
    "share": "percent",
    "recency_days_mean": "days",
    "frequency_mean": "decimal",
    "monetary_total_mean": "money",
    "revenue_share": "percent",
    "action_zh": "text",
    "action_en": "text",
}


@dataclass(frozen=True)
class Segment:
    """One segment's key, bilingual name and recommended action.

    Attributes
    ----------
    key : str
        Short stable identifier used as the label (``"high"``).
    name_zh, name_en : str
        Display names (``"高价值"``, ``"High value"``).
    action_zh, action_en : str
        The recommended action from the playbook (``"专属服务/个性化推荐"``).
    """

    key: str
    name_zh: str
    name_en: str
    action_zh: str = ""
    action_en: str = ""


@dataclass(frozen=True)
class Segmentation:
    """A scheme's result: one label per customer and a profile per segment.

    Attributes
    ----------
    scheme : str
        Registry name (``"rfm_named"``, ``"value_tier"``, ``"lifecycle"``, ``"kmeans"``).
    title : dict of str to str
        Bilingual display name: ``{"zh": "客户价值分层", "en": "Value tiers"}``.
    labels : pandas.Series
        Indexed by customer_id; an ordered Categorical of segment keys, lowest value first,
        with no missing values.
    profile : pandas.DataFrame
        Indexed by segment key in category order, with :data:`PROFILE_COLUMNS`.
    ordered : bool
        Whether the category order is meaningful (value or stage); ``False`` for nominal
        schemes, which skip monotonicity and up/down migration.
    details : dict
        Scheme-specific extras for the report (scores, thresholds used, fit statistics).
    """

    scheme: str
    title: dict[str, str]
    labels: pd.Series
    profile: pd.DataFrame
    ordered: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def named_labels(self, lang: str = "zh") -> pd.Series:
        """Labels as display names in ``lang`` ("zh" or "en"), keeping the category order."""
        names = self.profile[f"name_{lang}"]
        return self.labels.cat.rename_categories(names.reindex(self.labels.cat.categories).tolist())

    def display_title(self, lang: str = "zh") -> str:
        """The title in ``lang``, falling back to English."""
        return self.title.get(lang) or self.title["en"]

    def profile_table(self, lang: str = "zh") -> Styler:
        """The profile for display: segment names, headers and actions in ``lang``, sizes as
        counts, shares as percentages, spend as money, no value shown as "—" (mean days since
        the last purchase of customers who never bought)."""
        headers = _PROFILE_HEADERS[lang]
        table = self.profile.set_index(f"name_{lang}")
        table = table[[c for c in headers if c in table.columns]]
        kinds = {headers[c]: _PROFILE_KINDS[c] for c in table.columns}
        table = table.rename(columns=headers).rename_axis(headers["segment"])
        return styled(table, kinds)


class Scheme(Protocol):
    """The call signature every registered scheme implements."""

    def __call__(
        self,
        snapshot: pd.DataFrame,
        *,
        config: Mapping[str, Any],
        random_state: int = 0,
        previous: Segmentation | None = None,
    ) -> Segmentation: ...


def segment_profile(
    snapshot: pd.DataFrame, labels: pd.Series, segments: Sequence[Segment]
) -> pd.DataFrame:
    """Size, share, mean recency, frequency and monetary, and revenue share per segment.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot, indexed by customer_id, with ``recency_days``, ``frequency``
        and ``monetary_total`` (missing for potential customers who never bought).
    labels : pandas.Series
        Categorical labels aligned with ``snapshot``'s index.
    segments : sequence of Segment
        One per category, in category order.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment key, with :data:`PROFILE_COLUMNS`. Empty segments have size 0 and
        missing means.
    """
    keys = [s.key for s in segments]
    aligned = labels if labels.index.equals(snapshot.index) else labels.reindex(snapshot.index)
    # Per-segment sums over integer codes (numpy.bincount), not a groupby over the ids: this
    # runs for every scheme three times a report, on a million customers.
    position = aligned.cat.categories.get_indexer(pd.Index(keys))
    to_segment = np.full(len(aligned.cat.categories) + 1, -1, dtype=np.int64)
    to_segment[position[position >= 0]] = np.flatnonzero(position >= 0)
    segment = to_segment[aligned.cat.codes.to_numpy()]  # code -1 (no label) reads the -1 at the end
    labelled = segment >= 0
    n_keys = len(keys)
    size = np.bincount(segment[labelled], minlength=n_keys).astype(np.int64)

    def segment_mean(column: str) -> np.ndarray:
        values = snapshot[column].to_numpy(dtype=float, na_value=np.nan)
        counted = labelled & ~np.isnan(values)
        totals = np.bincount(segment[counted], weights=values[counted], minlength=n_keys)
        counts = np.bincount(segment[counted], minlength=n_keys)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)

    revenue = np.nan_to_num(snapshot["monetary_total"].to_numpy(dtype=float, na_value=np.nan))
    total_revenue = float(np.clip(revenue, 0, None).sum())
    segment_revenue = np.bincount(segment[labelled], weights=revenue[labelled], minlength=n_keys)
    profile = pd.DataFrame(
        {
            "name_zh": [s.name_zh for s in segments],
            "name_en": [s.name_en for s in segments],
            "size": size,
            "share": size / max(len(snapshot), 1),
            "recency_days_mean": segment_mean("recency_days"),
            "frequency_mean": segment_mean("frequency"),
            "monetary_total_mean": segment_mean("monetary_total"),
            "revenue_share": (
                segment_revenue / total_revenue if total_revenue > 0 else np.full(n_keys, np.nan)
            ),
            "action_zh": [s.action_zh for s in segments],
            "action_en": [s.action_en for s in segments],
        },
        index=pd.Index(keys, name="segment"),
    )
    return profile


def make_segmentation(
    *,
    scheme: str,
    title: Mapping[str, str],
    snapshot: pd.DataFrame,
    keys: pd.Series | np.ndarray | pd.Categorical,
    segments: Sequence[Segment],
    ordered: bool = True,
    details: Mapping[str, Any] | None = None,
) -> Segmentation:
    """Build a :class:`Segmentation` from raw per-customer keys, checking the invariants.

    Parameters
    ----------
    scheme : str
        Registry name.
    title : mapping
        ``{"zh": ..., "en": ...}``.
    snapshot : pandas.DataFrame
        The snapshot the keys were computed from (its index gives the customer ids).
    keys : Series, array or pandas.Categorical
        One segment key per snapshot row, in the snapshot's row order. A Categorical
        (:func:`select_keys`) is placed among the segments by its few categories, without
        comparing a million texts.
    segments : sequence of Segment
        Every segment, lowest value first; keys outside this list are a bug and raise.
    ordered : bool, default True
        Whether the category order is meaningful.
    details : mapping, optional
        Extras for the report.

    Returns
    -------
    Segmentation
    """
    categories = [s.key for s in segments]
    if isinstance(keys, pd.Categorical):
        codes = _codes_of_categorical(keys, categories, snapshot, scheme=scheme)
    else:
        codes = _codes_of_values(np.asarray(keys), categories, snapshot, scheme=scheme)
    labels = pd.Series(
        pd.Categorical.from_codes(codes, categories=pd.Index(categories), ordered=True),
        index=snapshot.index,
        name=scheme,
    )
    return Segmentation(
        scheme=scheme,
        title=dict(title),
        labels=labels,
        profile=segment_profile(snapshot, labels, segments),
        ordered=ordered,
        details=dict(details or {}),
    )


def select_keys(
    conditions: Sequence[np.ndarray], choices: Sequence[str], *, default: str
) -> pd.Categorical:
    """Segment keys as :func:`numpy.select` would choose them, as a Categorical.

    Each row takes the choice of the first condition it meets, else ``default``. The keys
    are chosen as integer codes, so neither the choice nor :func:`make_segmentation` handles
    a text per customer.

    Parameters
    ----------
    conditions : sequence of numpy.ndarray
        Boolean arrays, one per choice, of one length.
    choices : sequence of str
        The key of each condition.
    default : str
        The key of rows that meet none.

    Returns
    -------
    pandas.Categorical
        Its categories are ``choices`` then ``default`` (distinct keys, once each).
    """
    keys = list(dict.fromkeys([*choices, default]))
    position = {key: code for code, key in enumerate(keys)}
    codes = np.select(list(conditions), [position[c] for c in choices], default=position[default])
    return pd.Categorical.from_codes(
        codes.astype(np.int64, copy=False), categories=pd.Index(keys, dtype=object)
    )


def _codes_of_categorical(
    keys: pd.Categorical, categories: list[str], snapshot: pd.DataFrame, *, scheme: str
) -> np.ndarray:
    """:func:`make_segmentation`'s codes of a Categorical of keys (see :func:`_codes_of_values`)."""
    if len(keys) != len(snapshot):
        raise ValueError(f"{scheme}: {len(keys)} labels for {len(snapshot)} customers")
    position = pd.Index(categories, dtype=object).get_indexer(
        pd.Index(keys.categories, dtype=object)
    )
    # code -1 (a missing key) reads the -1 at the end
    codes = np.append(position, -1)[np.asarray(keys.codes, dtype=np.int64)]
    if FULLY_REFUNDED in categories and POTENTIAL_KEY in categories:
        refunded = (customer_states(snapshot) == FULLY_REFUNDED).to_numpy()
        potential = refunded & (codes == categories.index(POTENTIAL_KEY))
        codes[potential] = categories.index(FULLY_REFUNDED)
    unknown_rows = codes < 0
    if unknown_rows.any():
        unknown = sorted(set(np.asarray(keys[unknown_rows], dtype=object).tolist()), key=str)
        raise ValueError(f"{scheme}: labels outside the declared segments: {unknown[:5]}")
    return codes


def _codes_of_values(
    values: np.ndarray, categories: list[str], snapshot: pd.DataFrame, *, scheme: str
) -> np.ndarray:
    """:func:`make_segmentation`'s codes of an array of keys: each key's position among the
    segments, potential customers who refunded everything moved to their own segment; a key
    outside the segments is a bug and raises."""
    if FULLY_REFUNDED in categories:
        # Customers who never bought are potential unless they refunded everything: the one
        # definition of the states (segmentation.features.customer_states) tells them apart.
        refunded = (customer_states(snapshot) == FULLY_REFUNDED).to_numpy()
        values = np.where(refunded & (values == POTENTIAL_KEY), FULLY_REFUNDED, values)
    if values.dtype.kind != "U":
        values = values.astype(object)
    if len(values) != len(snapshot):
        raise ValueError(f"{scheme}: {len(values)} labels for {len(snapshot)} customers")
    if values.dtype.kind == "U":
        # numpy text: one vectorised comparison per segment (a dozen at most), where pandas
        # would first make a million Python strings and then hash them.
        codes = np.full(len(values), -1, dtype=np.int64)
        for code, key in enumerate(categories):
            codes[values == key] = code
    else:
        # Python strings: factorise (one hash per row, few distinct keys), then place the
        # few keys among the segments; pandas' own Categorical(values, categories) takes
        # six times as long.
        found, distinct = pd.factorize(values)
        position = pd.Index(categories, dtype=object).get_indexer(pd.Index(distinct))
        codes = np.full(len(values), -1, dtype=np.int64)
        has_key = found >= 0
        codes[has_key] = position[found[has_key]]
    unknown_rows = codes < 0
    if unknown_rows.any():
        unknown = sorted(set(values[unknown_rows].tolist()), key=str)
        raise ValueError(f"{scheme}: labels outside the declared segments: {unknown[:5]}")
    return codes


def config_segments(config: Mapping[str, Any], scheme: str, keys: Sequence[str]) -> list[Segment]:
    """The segments ``keys``, in that order, with their names and recommended actions.

    Every scheme's config has the same shape: names under ``<scheme>.segments.<key>`` as
    ``{zh, en}``, actions under ``playbook.<scheme>.<key>`` as ``{zh, en}``.

    Raises
    ------
    SegmentationInputError
        When a segment lacks its zh or en name.
    """
    names = config_section(config, scheme).get("segments") or {}
    actions = (config.get("playbook") or {}).get(scheme) or {}
    segments = []
    for key in keys:
        segments.append(_segment(scheme, key, names, actions))
        if key == POTENTIAL_KEY and FULLY_REFUNDED not in keys:
            # Customers who refunded every purchase are not potential: their own segment
            # follows, named once for every scheme (customer_states) with its own action.
            segments.append(fully_refunded_segment(config))
    return segments


def fully_refunded_segment(config: Mapping[str, Any]) -> Segment:
    """The segment of customers who refunded every purchase, as every scheme with a potential
    segment has it: named in ``customer_states.names``, its action in
    ``playbook.customer_states``.

    Parameters
    ----------
    config : mapping
        The config.

    Returns
    -------
    Segment
    """
    name = config_section(config, "customer_states")["names"][FULLY_REFUNDED]
    action = config_section(config, "playbook")["customer_states"][FULLY_REFUNDED]
    return Segment(
        key=FULLY_REFUNDED,
        name_zh=str(name["zh"]),
        name_en=str(name["en"]),
        action_zh=str(action["zh"]),
        action_en=str(action["en"]),
    )


def _segment(
    scheme: str, key: str, names: Mapping[str, Any], actions: Mapping[str, Any]
) -> Segment:
    """One segment of ``scheme`` with its names and action from the config."""
    name = names.get(key) or {}
    action = actions.get(key) or {}
    if not name.get("zh") or not name.get("en"):
        raise SegmentationInputError(
            f"config {scheme}.segments.{key}: needs both a zh and an en name, found {dict(name)!r}."
        )
    return Segment(
        key=key,
        name_zh=str(name["zh"]),
        name_en=str(name["en"]),
        action_zh=str(action.get("zh", "")),
        action_en=str(action.get("en", "")),
    )


def common_positions(a: pd.Index, b: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``a`` and in ``b`` of the ids both hold, in the order of ``a``.

    Two segmentations of one snapshot share its index, which is recognised without a lookup.

    Parameters
    ----------
    a, b : pandas.Index
        Customer ids, each without repeats (e.g. two segmentations' label indexes).

    Returns
    -------
    in_a, in_b : numpy.ndarray
        ``a[in_a]`` equals ``b[in_b]``, element by element.
    """
    if a.equals(b):
        everyone = np.arange(len(a))
        return everyone, everyone
    in_b = b.get_indexer(a)
    in_a = np.flatnonzero(in_b >= 0)
    return in_a, in_b[in_a]
