"""Helpers the rule-based scheme modules share: the potential key, column reads, the result.

Private: :mod:`segmentation.schemes.rfm`, ``tiers``, ``lifecycle`` and ``needs`` import from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import SegmentationInputError
from segmentation.schemes.base import Segmentation, config_segments, make_segmentation

__all__ = ["POTENTIAL", "numeric_column", "rule_segmentation"]

#: The segment key of customers who never bought.
POTENTIAL = "potential"


def numeric_column(snapshot: pd.DataFrame, column: str, *, scheme: str) -> np.ndarray:
    """A snapshot column as floats (missing as NaN), named by the config of ``scheme``."""
    if column not in snapshot.columns:
        raise SegmentationInputError(
            f"{scheme}: the snapshot has no column {column!r}; use a snapshot column such as "
            "n_orders, frequency, monetary_total or monetary_avg in the config."
        )
    return snapshot[column].to_numpy(dtype=float, na_value=np.nan)


def rule_segmentation(
    scheme: str,
    *,
    section: Mapping[str, Any],
    config: Mapping[str, Any],
    snapshot: pd.DataFrame,
    keys: np.ndarray | pd.Categorical,
    segment_keys: Sequence[str],
    ordered: bool = True,
    details: Mapping[str, Any] | None = None,
) -> Segmentation:
    """The :class:`Segmentation` of a rule scheme: title from its section, segments from config."""
    return make_segmentation(
        scheme=scheme,
        title=_title(section, scheme),
        snapshot=snapshot,
        keys=keys,
        segments=config_segments(config, scheme, segment_keys),
        ordered=ordered,
        details=details,
    )


def _title(section: Mapping[str, Any], scheme: str) -> dict[str, str]:
    title = section.get("title") or {}
    return {"zh": str(title.get("zh") or scheme), "en": str(title.get("en") or scheme)}
