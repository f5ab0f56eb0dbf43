"""The design matrix of the drivers models: what was known about each buyer at calibration.

Numbers are put in units a sentence can state (per 30 days since the last purchase, per
doubling of spend, per interaction); attributes become yes/no columns against their most
common level, with levels held by few customers pooled into one "other" level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segmentation.errors import DataUnavailableError
from segmentation.features import as_of_cutoff, as_text
from segmentation.schema import TAG_SEPARATOR

__all__ = [
    "ATTRIBUTES",
    "NUMERIC_TERMS",
    "OTHER_LEVEL",
    "DesignMatrix",
    "Term",
    "design_matrix",
    "interactions_by_kind",
]

#: Snapshot column -> (the unit its coefficient is per, the transform into that unit).
NUMERIC_TERMS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "recency_days": ("per_30_days", lambda x: x / 30.0),
    "n_orders": ("per_order", lambda x: x),
    # Spend is skewed over orders of magnitude: a doubling is the unit that reads alike for
    # small and large spenders.
    "monetary_total": ("per_doubling", lambda x: np.log2(1.0 + np.maximum(x, 0.0))),
    "tenure_days": ("per_year", lambda x: x / 365.0),
    "refund_share": ("per_10_points", lambda x: x * 10.0),
}

#: Customer attributes turned into yes/no columns (tags separately: several per customer).
ATTRIBUTES: tuple[str, ...] = ("region", "city_tier", "source_channel", "industry")

#: The level rare levels are pooled into, and the level of a missing value.
OTHER_LEVEL = "(other)"
MISSING_LEVEL = "(missing)"


@dataclass(frozen=True)
class Term:
    """One column of the design matrix, as a sentence names it.

    Attributes
    ----------
    feature : str
        The snapshot column, ``"tags"`` or ``"interactions"``.
    level : str
        The attribute's level, the tag or the interaction kind ("" for a number).
    baseline : str
        The level an attribute's levels are compared with ("" otherwise).
    unit : str
        ``per_30_days``, ``per_order``, ``per_doubling``, ``per_year``, ``per_10_points``,
        ``per_interaction``, ``level`` (against the baseline) or ``tag`` (with against without).
    """

    feature: str
    level: str = ""
    baseline: str = ""
    unit: str = "level"


@dataclass(frozen=True)
class DesignMatrix:
    """The predictors of every customer modelled.

    Attributes
    ----------
    values : pandas.DataFrame
        One row per customer (indexed by id), one float column per term, no constant.
    terms : dict of str to Term
        Each column's term.
    pooled : dict of str to list of str
        Per attribute, the levels pooled into :data:`OTHER_LEVEL`.
    dropped : list of str
        Columns left out: constant, or a linear combination of the others.
    """

    values: pd.DataFrame
    terms: dict[str, Term]
    pooled: dict[str, list[str]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def interactions_by_kind(
    interactions: pd.DataFrame | None,
    customer_ids: pd.Index,
    *,
    as_of: pd.Timestamp,
    days: int,
) -> pd.DataFrame:
    """Interactions per customer and kind in the ``days`` up to ``as_of`` (inclusive).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``customer_ids``, one integer column per kind (sorted); no columns
        without an interaction log.
    """
    if interactions is None or not len(interactions):
        return pd.DataFrame(index=customer_ids)
    end = as_of_cutoff(as_of)
    window = interactions.loc[
        (interactions["ts"] < end) & (interactions["ts"] >= end - pd.Timedelta(days=days))
    ]
    counts = pd.crosstab(as_text(window["customer_id"]), as_text(window["kind"]))
    counts = counts.reindex(index=customer_ids, fill_value=0).sort_index(axis=1)
    counts.columns.name = None
    return counts.astype(np.int64)


def design_matrix(
    snapshot: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
    interaction_days: int,
    min_level_customers: int,
    max_tags: int,
) -> DesignMatrix:
    """The predictors of the snapshot's customers, in the units sentences state.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        :func:`segmentation.features.customer_snapshot` rows of the customers to model.
    interactions : pandas.DataFrame, optional
        The canonical interaction log: counts per kind over ``interaction_days``.
    as_of : str or pandas.Timestamp
        The snapshot's day.
    interaction_days : int
    min_level_customers : int
        An attribute level (or an interaction kind, or a tag) held by fewer customers is
        pooled (levels) or left out (kinds, tags).
    max_tags : int
        The most common tags kept.

    Returns
    -------
    DesignMatrix

    Raises
    ------
    DataUnavailableError
        When no customer is left to model.
    """
    if not len(snapshot):
        raise DataUnavailableError("no buyer at calibration: nothing to model")
    columns: dict[str, np.ndarray] = {}
    terms: dict[str, Term] = {}
    for name, (unit, transform) in NUMERIC_TERMS.items():
        if name in snapshot:
            columns[name] = transform(snapshot[name].to_numpy(dtype=float))
            terms[name] = Term(name, unit=unit)
    kinds = interactions_by_kind(
        interactions, snapshot.index, as_of=pd.Timestamp(as_of), days=interaction_days
    )
    for kind in kinds.columns:
        if int((kinds[kind] > 0).sum()) >= min_level_customers:
            columns[f"interactions:{kind}"] = kinds[kind].to_numpy(dtype=float)
            terms[f"interactions:{kind}"] = Term("interactions", str(kind), unit="per_interaction")
    pooled: dict[str, list[str]] = {}
    for attribute in ATTRIBUTES:
        if attribute in snapshot and snapshot[attribute].notna().any():
            pooled[attribute] = _attribute_columns(
                snapshot[attribute], attribute, min_level_customers, columns, terms
            )
    if "tags" in snapshot and snapshot["tags"].notna().any():
        _tag_columns(snapshot["tags"], min_level_customers, max_tags, columns, terms)
    values = pd.DataFrame(columns, index=snapshot.index)
    kept, dropped = _independent_columns(values)
    return DesignMatrix(
        values=values[kept],
        terms={name: terms[name] for name in kept},
        pooled={a: levels for a, levels in pooled.items() if levels},
        dropped=dropped,
    )


def _attribute_columns(
    values: pd.Series,
    attribute: str,
    min_customers: int,
    columns: dict[str, np.ndarray],
    terms: dict[str, Term],
) -> list[str]:
    """Add one yes/no column per level but the most common; the levels pooled."""
    text = as_text(values).fillna(MISSING_LEVEL)
    counts = text.value_counts()
    rare = sorted(str(level) for level in counts.index[counts < min_customers])
    text = text.where(~text.isin(rare), OTHER_LEVEL)
    counts = text.value_counts()
    # The most common level is the baseline (ties: the first in text order).
    ordered = sorted(counts.index, key=lambda level: (-int(counts[level]), str(level)))
    for level in ordered[1:]:
        name = f"{attribute}={level}"
        columns[name] = (text == level).to_numpy(dtype=float)
        terms[name] = Term(attribute, str(level), str(ordered[0]), unit="level")
    return rare


def _tag_columns(
    tags: pd.Series,
    min_customers: int,
    max_tags: int,
    columns: dict[str, np.ndarray],
    terms: dict[str, Term],
) -> None:
    """Add a yes/no column for each of the most common tags (held by enough customers, and
    not by nearly everyone)."""
    split = as_text(tags).fillna("").str.split(TAG_SEPARATOR)
    held = split.explode().str.strip()
    held = held.loc[held.ne("")]
    counts = held.groupby(level=0).unique().explode().value_counts()
    usable = counts.loc[(counts >= min_customers) & (counts <= len(tags) - min_customers)]
    chosen = sorted(usable.index, key=lambda tag: (-int(usable[tag]), str(tag)))[:max_tags]
    for tag in chosen:
        name = f"tag:{tag}"
        columns[name] = split.map(lambda ts, t=tag: t in [s.strip() for s in ts]).to_numpy(
            dtype=float
        )
        terms[name] = Term("tags", str(tag), unit="tag")


def _independent_columns(values: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The columns to keep: finite, not constant, and not a linear combination of earlier
    columns and the constant.

    One QR decomposition: ``|R[j, j]|`` is the length of column j less its projection on the
    columns before it, so a column whose ``R[j, j]`` is tiny against its own length adds
    nothing (dropping it changes no later column's ``R``).
    """
    matrix = values.to_numpy(dtype=float)
    finite = np.isfinite(matrix).all(axis=0)
    candidates = [c for c, keep in zip(values.columns, finite, strict=True) if keep]
    trial = np.column_stack([np.ones(len(values)), values[candidates].to_numpy(dtype=float)])
    lengths = np.linalg.norm(trial, axis=0)
    diagonal = np.abs(np.diag(np.linalg.qr(trial, mode="r")))
    independent = diagonal[1:] > 1e-8 * np.maximum(lengths[1:], 1e-300)
    kept = [c for c, keep in zip(candidates, independent, strict=True) if keep]
    return kept, [c for c in values.columns if c not in kept]
