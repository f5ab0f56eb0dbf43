"""Campaign results per campaign, segment and window: treated against control, the uplift
with its interval, the incremental revenue, and a verdict (keep, change, too small to tell)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segmentation.campaigns._intervals import mean_difference_interval, rate_difference_interval
from segmentation.config import config_section

__all__ = ["UPLIFT_COLUMNS", "VERDICTS", "uplift_table", "verdict"]

VERDICTS: tuple[str, ...] = ("keep", "change", "too_small")

UPLIFT_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "channel",
    "segment",
    "window_days",
    "n_treated",
    "n_control",
    "buyers_treated",
    "buyers_control",
    "rate_treated",
    "rate_control",
    "uplift",
    "uplift_low",
    "uplift_high",
    "revenue_treated",
    "revenue_control",
    "revenue_uplift",
    "revenue_uplift_low",
    "revenue_uplift_high",
    "refunds_treated",
    "refunds_control",
    "incremental_buyers",
    "incremental_revenue",
    "verdict",
)


def verdict(uplift_low: float, n_control: int, *, min_control: int) -> str:
    """What to do with an action, from its uplift interval in buyers.

    ``too_small`` when the control group has fewer than ``min_control`` customers (no
    interval that wide says anything); ``keep`` when the whole interval lies above zero (the
    action added buyers); ``change`` otherwise (no gain the data can show).
    """
    if n_control < min_control:
        return "too_small"
    return "keep" if uplift_low > 0 else "change"


def uplift_table(
    outcomes: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> pd.DataFrame:
    """Treated against control per campaign, segment and window.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        :func:`contact_outcomes` with a ``segment`` column (the customer's segment before
        the campaign; rows without one are left out).
    config : mapping
        Section ``campaigns``: ``windows_days``, ``confidence``, ``min_control``,
        ``bootstrap_draws``, ``verdict_window_days``.
    random_state : int, default 0
        Seed of the revenue bootstrap (each row draws from its own seed derived from it).

    Returns
    -------
    pandas.DataFrame
        :data:`UPLIFT_COLUMNS`, one row per campaign, segment (in the segment column's
        order) and window. Rates and uplifts are fractions (0.05 = 5 percentage points);
        revenue and refunds per customer; ``incremental_buyers`` and ``incremental_revenue``
        are the uplifts times the treated customers. ``verdict`` is the one of the
        ``verdict_window_days`` window, repeated on the campaign and segment's other rows.
        Only windows closed for at least one contact are measured.
    """
    settings = config_section(config, "campaigns")
    rows: list[dict[str, Any]] = []
    measured = outcomes.loc[outcomes["segment"].notna()]
    segments = _segment_order(measured["segment"])
    for campaign_id, campaign in measured.groupby("campaign_id", sort=True):
        channel = str(campaign["channel"].mode().iloc[0])
        for segment in segments:
            group = campaign.loc[campaign["segment"] == segment]
            if group.empty:
                continue
            for days in settings["windows_days"]:
                row = _row(group, days=int(days), settings=settings, seed=(random_state, len(rows)))
                if row is not None:
                    rows.append(
                        {"campaign_id": campaign_id, "channel": channel, "segment": segment, **row}
                    )
    table = pd.DataFrame(rows, columns=[c for c in UPLIFT_COLUMNS if c != "verdict"])
    return _with_verdicts(table, settings)


def _segment_order(segments: pd.Series) -> list[str]:
    if isinstance(segments.dtype, pd.CategoricalDtype):
        present = set(segments.astype(str))
        return [str(c) for c in segments.cat.categories if str(c) in present]
    return sorted(segments.astype(str).unique())


def _row(
    group: pd.DataFrame, *, days: int, settings: Mapping[str, Any], seed: tuple[int, int]
) -> dict[str, Any] | None:
    closed = group.loc[group[f"closed_{days}"].to_numpy(dtype=bool)]
    treated = closed.loc[closed["group"] == "treated"]
    control = closed.loc[closed["group"] == "control"]
    if treated.empty and control.empty:
        return None
    n_t, n_c = len(treated), len(control)
    b_t, b_c = int(treated[f"bought_{days}"].sum()), int(control[f"bought_{days}"].sum())
    confidence = float(settings["confidence"])
    low, high = rate_difference_interval(b_t, n_t, b_c, n_c, confidence=confidence)
    revenue_t = treated[f"revenue_{days}"].to_numpy(dtype=float)
    revenue_c = control[f"revenue_{days}"].to_numpy(dtype=float)
    r_low, r_high = mean_difference_interval(
        revenue_t,
        revenue_c,
        confidence=confidence,
        draws=int(settings["bootstrap_draws"]),
        random_state=int(np.random.SeedSequence(seed).generate_state(1)[0]),
    )
    rate_t, rate_c = _mean(treated[f"bought_{days}"]), _mean(control[f"bought_{days}"])
    rev_t, rev_c = _mean(treated[f"revenue_{days}"]), _mean(control[f"revenue_{days}"])
    return {
        "window_days": days,
        "n_treated": n_t,
        "n_control": n_c,
        "buyers_treated": b_t,
        "buyers_control": b_c,
        "rate_treated": rate_t,
        "rate_control": rate_c,
        "uplift": rate_t - rate_c,
        "uplift_low": low,
        "uplift_high": high,
        "revenue_treated": rev_t,
        "revenue_control": rev_c,
        "revenue_uplift": rev_t - rev_c,
        "revenue_uplift_low": r_low,
        "revenue_uplift_high": r_high,
        "refunds_treated": _mean(treated[f"refunds_{days}"]),
        "refunds_control": _mean(control[f"refunds_{days}"]),
        "incremental_buyers": (rate_t - rate_c) * n_t,
        "incremental_revenue": (rev_t - rev_c) * n_t,
    }


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _with_verdicts(table: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Each campaign and segment's verdict, read from its verdict window (else its longest)."""
    wanted = int(settings["verdict_window_days"])
    min_control = int(settings["min_control"])
    verdicts: dict[tuple[str, str], str] = {}
    for key, rows in table.groupby(["campaign_id", "segment"], sort=False):
        at = rows.loc[rows["window_days"] == wanted]
        read = at.iloc[0] if len(at) else rows.iloc[int(np.argmax(rows["window_days"].to_numpy()))]
        verdicts[(str(key[0]), str(key[1]))] = verdict(
            float(read["uplift_low"]), int(read["n_control"]), min_control=min_control
        )
    table["verdict"] = [
        verdicts[(str(c), str(s))]
        for c, s in zip(table["campaign_id"], table["segment"], strict=True)
    ]
    return table
