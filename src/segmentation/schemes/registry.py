"""Every scheme by name, in report order, and one call that runs them all on a snapshot.

Rule-based schemes come first, then the CLV schemes, then clusters. The CLV tier's forecast
is added to the snapshot (``clv``, ``p_alive``) so that churn risk reuses the fit and
clustering uses predicted CLV as a feature.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segmentation.errors import DataUnavailableError, InvalidOptionError
from segmentation.schemes.base import Scheme, Segmentation

if TYPE_CHECKING:
    from segmentation.clv import CLVForecast

__all__ = ["SCHEME_PREREQUISITES", "SchemeRun", "registry", "run_schemes", "schemes_to_run"]

#: Schemes whose result depends on another's: churn risk reads the CLV tiers' P(alive) and
#: clustering uses their predicted CLV as a feature, so naming one runs the CLV tiers too.
SCHEME_PREREQUISITES: dict[str, tuple[str, ...]] = {
    "churn_risk": ("clv_tier",),
    "clusters": ("clv_tier",),
}


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
    schemes: Collection[str] | None = None,
    clv_forecast: CLVForecast | str | None = None,
) -> SchemeRun:
    """Run every registered scheme (or the ones named) on one snapshot.

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
    schemes : collection of str, optional
        Registry names to run; every scheme when omitted. A named scheme's prerequisites
        (:data:`SCHEME_PREREQUISITES`) run too, so its labels are those of a full run, but
        only the named schemes are returned.
    clv_forecast : CLVForecast or str, optional
        The CLV tiers' forecast of this snapshot with this config, computed elsewhere (the
        month's analysis fits it in a forked child), or the reason there is none
        (:func:`segmentation.clv.month_clv_fits`); fitted by the CLV tiers when omitted.

    Returns
    -------
    SchemeRun
        A scheme the data cannot support (a :class:`DataUnavailableError`) is listed in
        ``unavailable`` with its reason; any other error propagates.

    Raises
    ------
    InvalidOptionError
        When ``schemes`` names a scheme the registry does not have.
    """
    from segmentation.config import merge_config

    run_config = merge_config(config, overrides or {})
    segmentations: dict[str, Segmentation] = {}
    unavailable: dict[str, str] = {}
    current = snapshot
    every = registry()
    to_run = schemes_to_run(schemes, every)
    for name, scheme in every.items():
        if name not in to_run:
            continue
        given = (
            {"forecast": clv_forecast} if name == "clv_tier" and clv_forecast is not None else {}
        )
        try:
            result = scheme(
                current,
                config=run_config,
                random_state=random_state,
                previous=(previous or {}).get(name),
                **given,
            )
        except DataUnavailableError as error:
            unavailable[name] = str(error)
            continue
        segmentations[name] = _on_index(result, snapshot.index)
        forecast = result.details.get("customer_clv")
        if name == "clv_tier" and isinstance(forecast, pd.DataFrame):
            # One fit serves the rest: churn risk reads p_alive, clustering uses clv.
            current = current.assign(**_served(current, forecast)).set_axis(snapshot.index)
            # The model that served (a fallback when clv.model's was passed over) is the one
            # churn risk names.
            used = result.details["purchase_model"]["model"]
            run_config = merge_config(run_config, {"clv": {"model": used}})
    if schemes is not None:
        # Prerequisites ran for their forecast, not to be shown.
        segmentations = {n: s for n, s in segmentations.items() if n in schemes}
        unavailable = {n: r for n, r in unavailable.items() if n in schemes}
    return SchemeRun(
        as_of=pd.Timestamp(as_of).normalize(),
        snapshot=current,
        segmentations=segmentations,
        unavailable=unavailable,
    )


def schemes_to_run(schemes: Collection[str] | None, every: Mapping[str, Scheme]) -> set[str]:
    """The registry names to run for ``schemes``: every one when None, else the named ones
    and their prerequisites (:data:`SCHEME_PREREQUISITES`).

    Parameters
    ----------
    schemes : collection of str or None
        The names asked for.
    every : mapping of str to Scheme
        :func:`registry`.

    Returns
    -------
    set of str

    Raises
    ------
    InvalidOptionError
        When a name is not in ``every`` (the message lists the names it has), or a single
        string is given instead of a collection of names.
    """
    if schemes is None:
        return set(every)
    if isinstance(schemes, str):
        raise InvalidOptionError(
            f"schemes: found the string {schemes!r}; give a list of scheme names, e.g. "
            f"[{schemes!r}]."
        )
    unknown = [name for name in schemes if name not in every]
    if unknown:
        raise InvalidOptionError(
            f"schemes: no scheme named {', '.join(map(repr, unknown))}; the schemes are "
            f"{', '.join(every)}."
        )
    return set(schemes) | {need for name in schemes for need in SCHEME_PREREQUISITES.get(name, ())}


def _served(snapshot: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, np.ndarray]:
    """The forecast's ``clv`` and ``p_alive`` on the snapshot's rows, NaN for the rest: what
    ``forecast.reindex(snapshot.index)`` gives, from the buyers' positions (found without
    hashing a million ids, 0.5 s a snapshot) where every forecast row is in the snapshot."""
    from segmentation.schemes.clv_tiers import forecast_positions

    names = ("clv", "p_alive")
    positions = forecast_positions(snapshot, forecast)
    if (positions < 0).any() or any(forecast[name].dtype != np.float64 for name in names):
        served = forecast[list(names)].reindex(snapshot.index)
        return {name: served[name].to_numpy() for name in names}
    spread = {}
    for name in names:
        values = np.full(len(snapshot), np.nan)
        values[positions] = forecast[name].to_numpy()
        spread[name] = values
    return spread


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
