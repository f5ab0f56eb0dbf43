"""``segmentation holdout``: from an export to next month's contact list and control list, in
one call (ingest, the segments as of a day, each segment's action and channel, the draw)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.campaigns._holdout import (
    HoldoutDraw,
    check_holdout_options,
    draw_holdout,
    write_holdout,
)
from segmentation.config import load_config
from segmentation.errors import InvalidOptionError
from segmentation.export import choose_ids
from segmentation.features import (
    FULLY_REFUNDED,
    as_text,
    check_within_data,
    customer_snapshot,
    data_days,
)
from segmentation.schemes.registry import run_schemes

__all__ = ["HoldoutPlan", "plan_holdout"]


@dataclass(frozen=True)
class HoldoutPlan:
    """The draw and the files written."""

    draw: HoldoutDraw
    paths: dict[str, Path]
    as_of: pd.Timestamp
    ids: str

    def summary_line(self) -> str:
        """One line for the command line: per segment, customers and control."""
        parts = ", ".join(
            f"{row.segment} {row.customers:,} ({row.control:,} control)"
            for row in self.draw.summary.itertuples()
        )
        return (
            f"campaign {self.draw.campaign_id} as of {self.as_of:%Y-%m-%d}, seed "
            f"{self.draw.random_state}: {parts}; wrote "
            f"{', '.join(p.name for p in self.paths.values())} ({self.ids} ids) to "
            f"{next(iter(self.paths.values())).parent}"
        )


def plan_holdout(
    input_path: str | Path | Sequence[str | Path],
    *,
    out_dir: str | Path,
    campaign_id: str,
    as_of: str | None = None,
    segments: Sequence[str] | None = None,
    control_share: float | None = None,
    random_state: int | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    mapping: str | Path | Mapping[str, Any] | None = None,
    ids: str | None = None,
    lang: str = "zh",
) -> HoldoutPlan:
    """Segment the customers as of a day and draw next month's control group.

    Each segment of ``campaigns.scheme`` (lifecycle by default) takes its playbook action
    and its contact channel (config ``playbook`` and ``contact``); a seeded random
    ``control_share`` of it is held out (:func:`draw_holdout`) and the two lists are written
    (:func:`write_holdout`) with ids per the export's id policy.

    Parameters
    ----------
    input_path : path or sequence of paths
        The export, for :func:`segmentation.ingest.ingest`.
    out_dir : str or Path
    campaign_id : str
        The campaign's name, written on every row.
    as_of : str, optional
        YYYY-MM-DD; the last order day when omitted.
    segments : sequence of str, optional
        Segment keys to contact (e.g. ``sleeping``); every segment when omitted.
    control_share, random_state : optional
        Config ``campaigns.holdout`` when omitted.
    config, mapping : optional
        Config override and column mapping.
    ids : {"original", "pseudonymous"}, optional
        Overrides ``export.ids``.
    lang : {"zh", "en"}, default "zh"
        Language of segment names and actions.

    Returns
    -------
    HoldoutPlan

    Raises
    ------
    InvalidOptionError
        For a date that is not one, a segment the scheme does not have, or a bad share.
    """
    from segmentation.ingest import ingest

    settings = load_config(config)
    section = settings["campaigns"]
    share = float(section["holdout"]["control_share"] if control_share is None else control_share)
    check_holdout_options(control_share=share, campaign_id=campaign_id)  # before the long part
    data = ingest(input_path, mapping=mapping, time_zone=settings["ingest"]["shop_time_zone"])
    day = _as_of_day(as_of, data.orders["order_ts"])
    snapshot = customer_snapshot(data.orders, data.customers, data.interactions, as_of=day)
    scheme = str(section["scheme"])
    segmentation = run_schemes(snapshot, as_of=day, config=settings, schemes={scheme})
    result = segmentation.segmentations[scheme]
    actions = _actions(result.profile, scheme, settings=settings, lang=lang, wanted=segments)
    labels = result.labels.set_axis(pd.Index(as_text(result.labels.index.to_series())))
    draw = draw_holdout(
        labels,
        actions,
        campaign_id=campaign_id,
        control_share=share,
        random_state=int(
            section["holdout"]["random_state"] if random_state is None else random_state
        ),
    )
    transform, choice = choose_ids(labels.index, config=settings, ids=ids)
    names = {str(k): str(v) for k, v in result.profile[f"name_{lang}"].items()}
    paths = write_holdout(draw, out_dir, segment_names=names, id_transform=transform)
    return HoldoutPlan(draw=draw, paths=paths, as_of=day, ids=choice.written)


def _as_of_day(as_of: str | None, order_ts: pd.Series) -> pd.Timestamp:
    if as_of is None:
        return data_days(order_ts)[1]
    try:
        day = pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as error:
        raise InvalidOptionError(
            f"--as-of: {as_of!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-10-31."
        ) from error
    check_within_data(order_ts, start=day, end=day, option=f"--as-of {day:%Y-%m-%d}", period="day")
    return day


def _actions(
    profile: pd.DataFrame,
    scheme: str,
    *,
    settings: Mapping[str, Any],
    lang: str,
    wanted: Sequence[str] | None,
) -> pd.DataFrame:
    """Each segment's action and channel (the channel's Chinese name, as the log writes it)."""
    keys = [str(k) for k in profile.index]
    chosen = list(wanted) if wanted else keys
    unknown = [k for k in chosen if k not in keys]
    if unknown:
        raise InvalidOptionError(
            f"--segments: {', '.join(unknown)} is not a segment of {scheme}; its segments are "
            f"{', '.join(keys)}."
        )
    contact = settings["contact"]
    channels = []
    for key in chosen:
        # Fully refunded customers are contacted alike in every scheme.
        entry = (
            contact["segments"]["customer_states"][key]
            if key == FULLY_REFUNDED
            else contact["segments"][scheme][key]
        )
        channels.append(str(contact["channels"][entry["channel"]]["zh"]))
    return pd.DataFrame(
        {"action": [str(profile.loc[k, f"action_{lang}"]) for k in chosen], "channel": channels},
        index=pd.Index(chosen),
    )
