"""The hold-out helper: next month's contact list and a seeded, stratified random control group
per segment, so next month's report can measure what the actions did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.errors import InvalidOptionError

__all__ = [
    "HOLDOUT_FILES",
    "HOLDOUT_HEADERS",
    "HoldoutDraw",
    "check_holdout_options",
    "draw_holdout",
    "write_holdout",
]

# The lists' headers are the campaign log's own (触达时间 left for the user to fill), so the
# two files, once sent, concatenate into next month's campaign log as they are.
HOLDOUT_HEADERS: dict[str, str] = {
    "customer_id": "客户ID",
    "campaign_id": "活动编号",
    "segment": "分层",
    "action": "推荐动作",
    "channel": "渠道",
    "group": "分组",
    "contacted_at": "触达时间",
}
HOLDOUT_FILES: dict[str, str] = {"treated": "contact_list.csv", "control": "control_list.csv"}
_GROUP_TEXT = {"treated": "实验组", "control": "对照组"}


@dataclass(frozen=True)
class HoldoutDraw:
    """One draw of a control group.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per customer of a segment with an action: ``customer_id``, ``segment``,
        ``action``, ``channel``, ``group`` (``treated`` or ``control``); by segment, then id.
    summary : pandas.DataFrame
        Per segment: ``customers``, ``control``, ``target`` (share × customers) and
        ``share``.
    campaign_id : str
    random_state : int
    """

    assignments: pd.DataFrame
    summary: pd.DataFrame
    campaign_id: str
    random_state: int


def draw_holdout(
    labels: pd.Series,
    actions: pd.DataFrame,
    *,
    campaign_id: str,
    control_share: float = 0.10,
    random_state: int = 0,
) -> HoldoutDraw:
    """Hold out a random share of every segment that gets an action.

    Within each segment, ``round(control_share × customers)`` customers (halves rounded up)
    are drawn without replacement as control; the rest are the contact list. Customers are
    first sorted by id, so the draw depends on the seed and the customers, never on the
    order they come in.

    Parameters
    ----------
    labels : pandas.Series
        Segment key per customer, indexed by customer id.
    actions : pandas.DataFrame
        Indexed by segment key: ``action`` and ``channel`` (as the campaign log writes it,
        e.g. 企微私聊). Segments not listed are not contacted and not drawn.
    campaign_id : str
        Written on every row, so next month's log names the campaign.
    control_share : float, default 0.10
        In [0, 1); config ``campaigns.holdout.control_share``.
    random_state : int, default 0

    Returns
    -------
    HoldoutDraw

    Raises
    ------
    InvalidOptionError
        For a share outside [0, 1) or an empty campaign id.
    """
    check_holdout_options(control_share=control_share, campaign_id=campaign_id)
    rng = np.random.default_rng(random_state)
    ids = pd.Series(labels.index.astype(str), index=labels.index)
    frame = pd.DataFrame({"customer_id": ids.to_numpy(), "segment": labels.astype(str).to_numpy()})
    frame = frame.sort_values(["customer_id"], kind="stable").reset_index(drop=True)
    parts, summary = [], []
    for segment in [str(s) for s in actions.index]:
        members = frame.loc[frame["segment"] == segment].reset_index(drop=True)
        n = len(members)
        n_control = int(np.floor(control_share * n + 0.5))
        control = np.zeros(n, dtype=bool)
        control[rng.permutation(n)[:n_control]] = True
        members["group"] = np.where(control, "control", "treated")
        members["action"] = str(actions.loc[segment, "action"])
        members["channel"] = str(actions.loc[segment, "channel"])
        parts.append(members)
        summary.append(
            {
                "segment": segment,
                "customers": n,
                "control": n_control,
                "target": control_share * n,
                "share": n_control / n if n else float("nan"),
            }
        )
    columns = ["customer_id", "segment", "action", "channel", "group"]
    assignments = (
        pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    )
    return HoldoutDraw(
        assignments=assignments,
        summary=pd.DataFrame(
            summary, columns=["segment", "customers", "control", "target", "share"]
        ),
        campaign_id=str(campaign_id),
        random_state=random_state,
    )


def check_holdout_options(*, control_share: float, campaign_id: str) -> None:
    """Refuse a share outside [0, 1) or an empty campaign name, naming what to give.

    Raises
    ------
    InvalidOptionError
    """
    if not 0.0 <= control_share < 1.0:
        raise InvalidOptionError(
            f"control share (--share, campaigns.holdout.control_share): found "
            f"{control_share!r}; give a share of each segment to hold out, at least 0 and "
            "below 1 (e.g. 0.1 for 10%)."
        )
    if not str(campaign_id).strip():
        raise InvalidOptionError(
            "campaign id (--campaign): found an empty name; give the campaign a name."
        )


def write_holdout(
    draw: HoldoutDraw,
    out_dir: str | Path,
    *,
    segment_names: dict[str, str] | None = None,
    id_transform: Callable[[pd.Series], pd.Series] | None = None,
) -> dict[str, Path]:
    """Write the contact list and the control list (UTF-8 with BOM, for Excel).

    Each file has the campaign log's headers (:data:`HOLDOUT_HEADERS`); 触达时间 is empty, to
    be filled with the day each customer is reached (for the control list: the day the
    contact list is reached). The two files together are next month's campaign log. Only
    ids, segment names and actions are written, never personal data.

    Parameters
    ----------
    draw : HoldoutDraw
    out_dir : str or Path
        Created if absent.
    segment_names : dict of str to str, optional
        Segment key to the name written in 分层; the key when omitted.
    id_transform : callable, optional
        The export's id policy (:func:`segmentation.export.choose_ids`); ids as they are
        when None.

    Returns
    -------
    dict of str to Path
        ``treated`` (contact_list.csv) and ``control`` (control_list.csv).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = draw.assignments.copy()
    if id_transform is not None:
        table["customer_id"] = id_transform(table["customer_id"]).to_numpy()
    table["segment"] = table["segment"].map(lambda s: (segment_names or {}).get(s, s))
    table["campaign_id"] = draw.campaign_id
    table["contacted_at"] = ""
    written: dict[str, Path] = {}
    for group, name in HOLDOUT_FILES.items():
        rows = table.loc[table["group"] == group].assign(group=_GROUP_TEXT[group])
        path = out / name
        rows[list(HOLDOUT_HEADERS)].rename(columns=HOLDOUT_HEADERS).to_csv(
            path, index=False, encoding="utf-8-sig", lineterminator="\n"
        )
        written[group] = path
    return written
