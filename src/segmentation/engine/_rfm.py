"""RFM quintile scores on the engine, as :func:`segmentation.schemes.rfm_scores` scores them:
over the customers who bought, a score is one plus the number of quintile edges strictly
below the value (recency negated first, so the most recent score 5), ties kept together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import numpy as np

from segmentation.config import config_section, load_config
from segmentation.engine._quantiles import exact_quantiles

__all__ = [
    "QUINTILES",
    "rfm_measures",
    "rfm_quintile_edges",
    "rfm_score_columns",
    "rfm_scores_expr",
]

#: The four quintile edges, as the pandas scheme takes them.
QUINTILES: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)


def rfm_measures(snapshot: ibis.Table, config: Mapping[str, Any] | None) -> dict[str, ibis.Column]:
    """R (minus the recency column), F and M as float64 columns, from config ``rfm``."""
    section = config_section(config if config is not None else load_config(), "rfm")
    return {
        "R": -snapshot[section["recency_column"]].cast("float64"),
        "F": snapshot[section["frequency_column"]].cast("float64"),
        "M": snapshot[section["monetary_column"]].cast("float64"),
    }


def rfm_quintile_edges(
    snapshot: ibis.Table, *, config: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """Each measure's four quintile edges over the buyers, as scored (R on minus the days).

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr`.
    config : mapping, optional
        The merged config; section ``rfm`` names the columns. The built-in one when omitted.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{"R": edges, "F": edges, "M": edges}``, each equal to ``numpy.quantile`` of the
        buyers' values at 20/40/60/80% to the bit (empty without buyers).
    """
    buyers = snapshot.filter(~snapshot.is_potential)
    return exact_quantiles(buyers, rfm_measures(buyers, config), QUINTILES)


def rfm_scores_expr(snapshot: ibis.Table, *, config: Mapping[str, Any] | None = None) -> ibis.Table:
    """``customer_id``, the R, F and M scores (1-5), ``FM`` and the ``RFM`` code, on the engine.

    The quintile edges are worked out first (:func:`rfm_quintile_edges`, two small queries);
    the scores are then an expression on ``snapshot``'s engine. The snapshot is read three
    times: cache it first (``snapshot.cache()``) so that it is computed once.

    Parameters
    ----------
    snapshot : ibis.Table
        From :func:`segmentation.engine.customer_snapshot_expr` (money in cents: a monetary
        score is the same whatever the unit, the edges are in cents).
    config : mapping, optional
        The merged config; section ``rfm``.

    Returns
    -------
    ibis.Table
        ``R``, ``F``, ``M`` and ``FM`` (``(F + M) / 2`` rounded half up) as int64 and ``RFM``
        (``"545"``), all null for potential customers; equal to
        :func:`segmentation.schemes.rfm_scores` on the pandas snapshot of the same orders.
    """
    return snapshot.select("customer_id", **rfm_score_columns(snapshot, config=config))


def rfm_score_columns(
    snapshot: ibis.Table, *, config: Mapping[str, Any] | None = None
) -> dict[str, ibis.Value]:
    """The columns of :func:`rfm_scores_expr` (``R``, ``F``, ``M``, ``FM``, ``RFM``) as
    expressions on ``snapshot``, its quintile edges worked out first."""
    edges = rfm_quintile_edges(snapshot, config=config)
    measures = rfm_measures(snapshot, config)
    scores: dict[str, ibis.Value] = {}
    for letter, column in measures.items():
        above = sum(
            (ibis.ifelse(column > float(edge), 1, 0) for edge in edges[letter]),
            start=ibis.literal(1),
        )
        scores[letter] = ibis.ifelse(snapshot.is_potential, ibis.null("int64"), above).cast("int64")
    f_plus_m = scores["F"] + scores["M"]
    # Half up: (F + M) / 2 is a whole or a half; a half goes up.
    scores["FM"] = ((f_plus_m + 1 - (f_plus_m + 1) % 2) / 2).cast("int64")
    scores["RFM"] = (
        scores["R"].cast("string").concat(scores["F"].cast("string"), scores["M"].cast("string"))
    )
    return scores
