"""Attribute cuts: any scheme crossed with a customer attribute (region, city tier, channel, tags).

:func:`attribute_cut` counts each segment per attribute value and gives each value's
segment mix; :data:`ATTRIBUTE_NAMES` names the attributes a report cuts by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.errors import DataUnavailableError
from segmentation.schemes.base import Segmentation

__all__ = ["ATTRIBUTE_NAMES", "AttributeCut", "attribute_cut"]

#: Customer attributes a scheme can be cut by, with their display names.
ATTRIBUTE_NAMES: dict[str, dict[str, str]] = {
    "city_tier": {"zh": "城市等级", "en": "City tier"},
    "source_channel": {"zh": "来源渠道", "en": "Source channel"},
    "region": {"zh": "地区", "en": "Region"},
    "industry": {"zh": "行业", "en": "Industry"},
    "tags": {"zh": "标签", "en": "Tags"},
}
_ATTRIBUTE_ALIASES = {"channel": "source_channel", "tag": "tags", "tier": "city_tier"}
_MISSING_VALUE = {"zh": "（未填写）", "en": "(missing)"}
_TOTAL = {"zh": "合计", "en": "Total"}


@dataclass(frozen=True)
class AttributeCut:
    """A scheme crossed with a customer attribute.

    Attributes
    ----------
    scheme : str
        The scheme's registry name.
    by : str
        The snapshot column cut by (``region``, ``city_tier``, ``source_channel``, ...).
    counts : pandas.DataFrame
        One row per attribute value (most customers first, missing last; the index named by
        the attribute's display name in ``lang``), one column per segment in category order
        (display names), and a total column. With ``tags`` a
        customer counts once under each of their tags.
    row_shares : pandas.DataFrame
        ``counts`` divided by each row's total: the segment mix of each attribute value.
    """

    scheme: str
    by: str
    counts: pd.DataFrame
    row_shares: pd.DataFrame


def attribute_cut(
    segmentation: Segmentation,
    snapshot: pd.DataFrame,
    *,
    by: str,
    lang: str = "zh",
) -> AttributeCut:
    """Cross a scheme with a customer attribute: counts and row shares.

    Parameters
    ----------
    segmentation : Segmentation
        Any scheme's result on ``snapshot``.
    snapshot : pandas.DataFrame
        The snapshot the segmentation was computed from.
    by : str
        A snapshot column: ``region``, ``city``, ``city_tier``, ``source_channel`` (alias
        ``channel``), ``industry`` or ``tags`` (multi-valued, ``;``-joined: each tag is a
        row), or any other text column.
    lang : {"zh", "en"}, default "zh"
        Language of the segment names, the missing-value row and the total column.

    Returns
    -------
    AttributeCut

    Raises
    ------
    DataUnavailableError
        When the snapshot has no such column or it has no values (no customers table).
    """
    column = _ATTRIBUTE_ALIASES.get(by, by)
    if column not in snapshot.columns or snapshot[column].notna().sum() == 0:
        raise DataUnavailableError(
            f"attribute_cut: the snapshot has no {column} values; load a customers table "
            f"with a {column} column (or cut by one of "
            f"{[c for c in snapshot.columns if snapshot[c].dtype == 'string']})."
        )
    labels = segmentation.named_labels(lang).reindex(snapshot.index)
    values = snapshot[column].astype("string").str.strip()
    if column == "tags":
        values = values.str.split(";").explode().str.strip()
    values = values.mask(values.isna() | (values == ""), _MISSING_VALUE[lang])
    table = pd.crosstab(values, labels.reindex(values.index), dropna=False)
    table = table.reindex(columns=labels.cat.categories, fill_value=0)
    table.columns = pd.Index(list(table.columns), name=segmentation.display_title(lang))
    table.index.name = ATTRIBUTE_NAMES.get(column, {}).get(lang, column)
    total = table.sum(axis=1)
    is_missing = table.index == _MISSING_VALUE[lang]
    order = pd.DataFrame({"missing": is_missing, "total": -total.to_numpy(), "value": table.index})
    table = table.iloc[order.sort_values(["missing", "total", "value"], kind="stable").index]
    counts = table.assign(**{_TOTAL[lang]: table.sum(axis=1)}).astype(np.int64)
    shares = counts.div(counts[_TOTAL[lang]].where(counts[_TOTAL[lang]] > 0), axis=0)
    return AttributeCut(scheme=segmentation.scheme, by=column, counts=counts, row_shares=shares)
