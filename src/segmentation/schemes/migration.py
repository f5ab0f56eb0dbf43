"""How customers move between segments from one as-of date to the next (re-grading).

The seeds ask teams to re-grade customers as they change; :func:`migration_matrix` runs a
scheme on two snapshots and :func:`migration_between` compares two segmentations of the same
scheme. Customers present at only one date are kept, in their own row ("new": known only at
the later date) and column ("gone": known only at the earlier date), never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.schemes.base import Scheme, Segmentation, common_positions

__all__ = [
    "GONE",
    "NEW",
    "Migration",
    "migration_between",
    "migration_matrix",
]

#: Row of customers known only at the later date, and column of those known only earlier.
NEW = "(new)"
GONE = "(gone)"
_NEW_NAME = {"zh": "（新增）", "en": "(new)"}
_GONE_NAME = {"zh": "（已不在）", "en": "(gone)"}


@dataclass(frozen=True)
class Migration:
    """Transitions between two segmentations of one scheme.

    Attributes
    ----------
    scheme : str
        The scheme's registry name.
    ordered : bool
        Whether up and down are meaningful (the scheme's categories are ordered).
    counts : pandas.DataFrame
        Rows: segment at the earlier date, in category order, then :data:`NEW`. Columns:
        segment at the later date, then :data:`GONE`. Cells count customers.
    row_shares : pandas.DataFrame
        ``counts`` divided by row totals: where each earlier segment's customers went
        (NaN for an empty row).
    stayed, moved_up, moved_down : float
        Shares of the customers present at both dates who kept their segment, moved to a
        higher one, or a lower one. Up and down are NaN for unordered schemes; NaN
        throughout when nobody is present at both dates.
    n_both, n_new, n_gone : int
        Customers at both dates, only at the later, only at the earlier.
    names : pandas.DataFrame
        ``name_zh`` and ``name_en`` per segment key, for display.
    """

    scheme: str
    ordered: bool
    counts: pd.DataFrame
    row_shares: pd.DataFrame
    stayed: float
    moved_up: float
    moved_down: float
    n_both: int
    n_new: int
    n_gone: int
    names: pd.DataFrame

    def named(self, table: str = "counts", lang: str = "zh") -> pd.DataFrame:
        """``counts`` or ``row_shares`` with segment names in ``lang`` ("zh" or "en")."""
        frame = self.counts if table == "counts" else self.row_shares
        names = {**self.names[f"name_{lang}"].to_dict(), NEW: _NEW_NAME[lang]}
        names[GONE] = _GONE_NAME[lang]
        return frame.rename(index=names, columns=names)


def migration_between(
    earlier: Segmentation,
    later: Segmentation,
    *,
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> Migration:
    """The transition matrix between two segmentations of the same scheme.

    Parameters
    ----------
    earlier, later : Segmentation
        The same scheme at two as-of dates (same categories, in the same order).
    positions : tuple of two arrays, optional
        :func:`~segmentation.schemes.base.common_positions` of the two label indexes when
        already known (every scheme of a month labels the same customers, so one lookup
        serves them all); looked up when omitted.

    Returns
    -------
    Migration

    Raises
    ------
    ValueError
        When the two segmentations do not have the same categories.
    """
    categories = list(earlier.labels.cat.categories)
    if categories != list(later.labels.cat.categories):
        raise ValueError(
            f"migration: {earlier.scheme} and {later.scheme} have different segments "
            f"({categories} vs {list(later.labels.cat.categories)}); compare one scheme with "
            "itself at two dates."
        )
    # Category codes and one lookup of last month's ids among this month's: no label text
    # and no crosstab over a million customers.
    k = len(categories)
    before = earlier.labels.cat.codes.to_numpy().astype(np.int64)
    after = later.labels.cat.codes.to_numpy().astype(np.int64)
    in_earlier, in_later = positions or common_positions(earlier.labels.index, later.labels.index)
    n_both = len(in_earlier)
    is_new = np.ones(len(after), dtype=bool)
    is_new[in_later] = False
    # Rows: the segments, then NEW; columns: the segments, then GONE (a missing label, -1,
    # counts as NEW or GONE too).
    row = np.concatenate([np.where(before >= 0, before, k), np.full(int(is_new.sum()), k)])
    after_of_before = np.full(len(before), -1, dtype=np.int64)
    after_of_before[in_earlier] = after[in_later]
    column = np.concatenate(
        [
            np.where(after_of_before >= 0, after_of_before, k),
            np.where(after[is_new] >= 0, after[is_new], k),
        ]
    )
    cells = np.bincount(row * (k + 1) + column, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    counts = pd.DataFrame(
        cells.astype(np.int64),
        index=pd.Index([*categories, NEW], name="from"),
        columns=pd.Index([*categories, GONE], name="to"),
    )
    row_total = counts.sum(axis=1)
    row_shares = counts.div(row_total.where(row_total > 0), axis=0)

    both_before = before[in_earlier].astype(float)
    both_after = after[in_later].astype(float)
    both_before[before[in_earlier] < 0] = np.nan
    both_after[after[in_later] < 0] = np.nan
    step = both_after - both_before
    ordered = earlier.ordered and later.ordered

    def share(mask: np.ndarray) -> float:
        return float(mask.sum() / n_both) if n_both else float("nan")

    return Migration(
        scheme=later.scheme,
        ordered=ordered,
        counts=counts,
        row_shares=row_shares,
        stayed=share(step == 0),
        moved_up=share(step > 0) if ordered else float("nan"),
        moved_down=share(step < 0) if ordered else float("nan"),
        n_both=n_both,
        n_new=int(is_new.sum()),
        n_gone=len(before) - n_both,
        names=later.profile[["name_zh", "name_en"]],
    )


def migration_matrix(
    scheme: Scheme,
    snapshot_a: pd.DataFrame,
    snapshot_b: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> Migration:
    """Run ``scheme`` on two snapshots and return how customers moved between its segments.

    Parameters
    ----------
    scheme : Scheme
        Any registered scheme, e.g. ``RULE_SCHEMES["value_tier"]``.
    snapshot_a, snapshot_b : pandas.DataFrame
        Snapshots at the earlier and the later as-of date.
    config : mapping
        The merged config (:func:`segmentation.config.load_config`).
    random_state : int, default 0
        Passed to both runs. The later run also gets ``previous=`` the earlier result, so
        schemes that align labels across runs (clustering) can do so.

    Returns
    -------
    Migration
    """
    earlier = scheme(snapshot_a, config=config, random_state=random_state)
    later = scheme(snapshot_b, config=config, random_state=random_state, previous=earlier)
    return migration_between(earlier, later)
