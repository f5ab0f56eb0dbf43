"""Clustering features: the snapshot's behaviour columns, transformed, for the buyers only.

``log1p`` clips negatives at 0 first: a customer whose refunds exceed their purchases has
spent nothing. Potential customers (never bought) have no behaviour and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.errors import MissingColumnError, SegmentationInputError

__all__ = ["ClusterFeatures", "cluster_features"]

TRANSFORMS = ("log1p", "none")


@dataclass(frozen=True)
class ClusterFeatures:
    """The clustering features of the customers who have bought.

    Attributes
    ----------
    values : pandas.DataFrame
        Transformed (not yet standardised) features, one row per buying customer in snapshot
        order, indexed by customer_id, one column per feature used.
    raw : pandas.DataFrame
        The same rows and columns as the snapshot has them, for profiles.
    transforms : dict of str to str
        Feature column to transform (``"log1p"`` or ``"none"``), in column order.
    skipped : dict of str to str
        Optional features left out, with the reason.
    buyers : numpy.ndarray
        Boolean mask over the snapshot's rows: the customers who are clustered.
    """

    values: pd.DataFrame
    raw: pd.DataFrame
    transforms: dict[str, str]
    skipped: dict[str, str]
    buyers: np.ndarray


def cluster_features(
    snapshot: pd.DataFrame,
    *,
    features: Mapping[str, str],
    optional_features: Mapping[str, str] | None = None,
) -> ClusterFeatures:
    """Transform the snapshot's behaviour columns into clustering features.

    A customer is clustered when they have bought: ``is_potential`` is false (when the column
    exists) and ``recency_days`` is known (when the column exists; a customer whose only
    orders were refunded has no last purchase).

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot, indexed by customer_id.
    features : mapping of str to str
        Required feature column to transform: ``"log1p"`` clips negatives at 0 and takes
        ``log(1 + x)``; ``"none"`` leaves the column as it is.
    optional_features : mapping of str to str, optional
        Used only when present, without missing values among the buyers, and not constant.

    Returns
    -------
    ClusterFeatures

    Raises
    ------
    MissingColumnError
        When a required feature column is not in the snapshot.
    SegmentationInputError
        When a transform is unknown, or a required feature is missing for some buyers.
    """
    buyers = np.ones(len(snapshot), dtype=bool)
    if "is_potential" in snapshot.columns:
        buyers &= ~snapshot["is_potential"].fillna(False).to_numpy(dtype=bool)
    if "recency_days" in snapshot.columns:
        buyers &= snapshot["recency_days"].notna().to_numpy()
    bought = snapshot.loc[buyers]

    transforms: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column, transform in features.items():
        _check_transform(f"clustering.features.{column}", transform)
        if column not in snapshot.columns:
            raise MissingColumnError(
                f"snapshot: no column {column!r}, which the clustering features need "
                f"(config clustering.features); compute it in the snapshot or remove it "
                f"from the config."
            )
        missing = bought[column].isna()
        if missing.any():
            raise SegmentationInputError(
                f"snapshot column {column!r}: {int(missing.sum())} customers who bought have "
                f"no value (first: {list(bought.index[missing.to_numpy()][:3])}); fill the "
                f"column or remove it from clustering.features."
            )
        transforms[column] = transform
    for column, transform in (optional_features or {}).items():
        _check_transform(f"clustering.optional_features.{column}", transform)
        if column in transforms:
            continue
        if column not in snapshot.columns:
            skipped[column] = "not in the snapshot"
        elif bought[column].isna().any():
            skipped[column] = f"missing for {int(bought[column].isna().sum())} buyers"
        elif bought[column].nunique() < 2:
            skipped[column] = "constant among buyers"
        else:
            transforms[column] = transform

    raw = bought[list(transforms)].astype(float)
    values = pd.DataFrame(
        {column: _transform(raw[column].to_numpy(), how) for column, how in transforms.items()},
        index=raw.index,
    )
    return ClusterFeatures(
        values=values, raw=raw, transforms=transforms, skipped=skipped, buyers=buyers
    )


def _check_transform(where: str, transform: str) -> None:
    if transform not in TRANSFORMS:
        raise SegmentationInputError(
            f"config {where}: unknown transform {transform!r}; use one of {list(TRANSFORMS)}."
        )


def _transform(values: np.ndarray, how: str) -> np.ndarray:
    if how == "log1p":
        return np.log1p(np.clip(values, 0.0, None))
    return values.astype(float)
