"""Every scheme by name, in report order, and one call that runs them all on a snapshot.

Rule-based schemes come first, then the CLV schemes, then clusters. The CLV tier's forecast
is added to the snapshot (``clv``, ``p_alive``) so that churn risk reuses the fit and
clustering uses predicted CLV as a feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from segmentation.errors import DataUnavailableError
from segmentation.schemes.base import Scheme, Segmentation

__all__ = ["SchemeRun", "registry", "run_schemes"]


def registry() -> dict[str, Scheme]:
    """Every registered scheme by name, in report order.

    The scheme modules are imported on the first call, not when this module is imported.
    """
    from segmentation.schemes.clusters import CLUSTER_SCHEMES
    from segmentation.schemes.clv_tiers import CLV_SCHEMES
    from segmentation.schemes.rules import RULE_SCHEMES

    return {**RULE_SCHEMES, **CLV_SCHEMES, **CLUSTER_SCHEMES}


@dataclass(frozen=True)
class SchemeRun:
    """The schemes computed on one snapshot.

    Attributes
    ----------
    as_of : pandas.Timestamp
        The snapshot's as-of day.
    snapshot : pandas.DataFrame
        The snapshot as the schemes saw it: with ``clv`` and ``p_alive`` columns when CLV
        was computed.
    segmentations : dict of str to Segmentation
        The schemes the data supports, in report order.
    unavailable : dict of str to str
        The schemes it does not, each with the reason the report shows.
    """

    as_of: pd.Timestamp
    snapshot: pd.DataFrame
    segmentations: dict[str, Segmentation]
    unavailable: dict[str, str] = field(default_factory=dict)

    def titles(self) -> dict[str, dict[str, str]]:
        """Scheme name to its bilingual title, for every computed scheme."""
        return {name: seg.title for name, seg in self.segmentations.items()}


def run_schemes(
    snapshot: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Mapping[str, Segmentation] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> SchemeRun:
    """Run every registered scheme on one snapshot.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        :func:`segmentation.features.customer_snapshot` as of ``as_of``.
    as_of : str or pandas.Timestamp
        The snapshot's as-of day (recorded on the result).
    config : mapping
        :func:`segmentation.config.load_config`.
    random_state : int, default 0
        Passed to every scheme.
    previous : mapping of str to Segmentation, optional
        Last month's results, so schemes that keep identities (clusters) can match them.
    overrides : mapping, optional
        Config sections to merge for this run only, e.g. ``{"clustering": {"k": 3}}``.

    Returns
    -------
    SchemeRun
        A scheme the data cannot support (a :class:`DataUnavailableError`) is listed in
        ``unavailable`` with its reason; any other error propagates.
    """
    from segmentation.config import merge_config

    run_config = merge_config(config, overrides or {})
    segmentations: dict[str, Segmentation] = {}
    unavailable: dict[str, str] = {}
    current = snapshot
    for name, scheme in registry().items():
        try:
            result = scheme(
                current,
                config=run_config,
                random_state=random_state,
                previous=(previous or {}).get(name),
            )
        except DataUnavailableError as error:
            unavailable[name] = str(error)
            continue
        segmentations[name] = _on_index(result, snapshot.index)
        forecast = result.details.get("customer_clv")
        if name == "clv_tier" and isinstance(forecast, pd.DataFrame):
            # One fit serves the rest: churn risk reads p_alive, clustering uses clv.
            current = current.assign(
                clv=forecast["clv"].reindex(current.index),
                p_alive=forecast["p_alive"].reindex(current.index),
            ).set_axis(snapshot.index)
    return SchemeRun(
        as_of=pd.Timestamp(as_of).normalize(),
        snapshot=current,
        segmentations=segmentations,
        unavailable=unavailable,
    )


def _on_index(result: Segmentation, index: pd.Index) -> Segmentation:
    """``result`` with its labels, and every per-customer table in its details, on ``index``
    itself (the snapshot's own object) when they are indexed by the same ids.

    Each scheme builds its own copy of the ids: at a million customers that is some 30 MB per
    Series, held (and pickled for the notebooks) once per scheme and month. One shared object
    is held, and pickled, once.
    """

    def shared(value: Any) -> Any:
        if (
            isinstance(value, pd.Series | pd.DataFrame)
            and value.index is not index
            and len(value.index) == len(index)
            and value.index.equals(index)
        ):
            return value.set_axis(index)
        return value

    return replace(
        result,
        labels=shared(result.labels),
        details={key: shared(value) for key, value in result.details.items()},
    )
