"""Segments month by month: each month-end segmented as of its own end, and who moved.

:func:`segment_history` takes the customer snapshot as of each of the last few month-ends
(:func:`~segmentation.features.customer_snapshot`, which reads only the rows up to its day,
so no month sees a later one) and runs the rule schemes on each. It keeps every scheme's
segment sizes per month, and for the grade schemes each customer's segment at every
month-end, from which :meth:`SegmentHistory.moves` lists who moved up or down from last month
to this (re-grading) and :meth:`SegmentHistory.transitions` how many moved each month.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.features import customer_snapshot
from segmentation.schemes.base import Segmentation
from segmentation.schemes.registry import SchemeRun, run_schemes

__all__ = [
    "MonthEndLabels",
    "SegmentHistory",
    "month_end_labels",
    "month_ends",
    "segment_history",
]

#: A customer's code at a month-end when they were not known yet.
NOT_KNOWN = -1


@dataclass(frozen=True)
class SegmentHistory:
    """Every rule scheme at each of the last month-ends, and the grade history per customer.

    Attributes
    ----------
    month_ends : tuple of pandas.Timestamp
        The month-ends, oldest first; the last is the report's as-of day.
    customers : pandas.Series
        Customers known at each month-end (int64), indexed by month-end.
    sizes : dict of str to pandas.DataFrame
        Per scheme: one row per month-end, one column per segment key in category order
        (lowest first), customers (int64). Each row adds up to ``customers``.
    segments : dict of str to pandas.DataFrame
        Per scheme: ``name_zh``, ``name_en``, ``action_zh``, ``action_en`` per segment key,
        as of the last month-end (the playbook's actions).
    titles : dict of str to dict
        Per scheme, its bilingual title.
    ordered : dict of str to bool
        Per scheme, whether up and down mean something.
    customer_ids : pandas.Index
        The customers known at the last month-end, in the snapshot's (sorted) order.
    grades : dict of str to numpy.ndarray
        Per tracked scheme, an int8 array (customers, month-ends): the customer's segment as
        a position in ``sizes[scheme].columns``, :data:`NOT_KNOWN` (-1) before they were
        known.
    unavailable : dict of str to str
        Schemes the data could not support at the last month-end, with the reason.
    """

    month_ends: tuple[pd.Timestamp, ...]
    customers: pd.Series
    sizes: dict[str, pd.DataFrame]
    segments: dict[str, pd.DataFrame]
    titles: dict[str, dict[str, str]]
    ordered: dict[str, bool]
    customer_ids: pd.Index
    grades: dict[str, np.ndarray] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def grade_history(self, scheme: str, *, lang: str = "zh") -> pd.DataFrame:
        """Each customer's segment name at every month-end (missing before they were known).

        Parameters
        ----------
        scheme : str
            A tracked scheme (a key of ``grades``).
        lang : {"zh", "en"}, default "zh"

        Returns
        -------
        pandas.DataFrame
            Indexed by customer_id, one column per month-end (``YYYY-MM``), categorical names.
        """
        names = self.segments[scheme].loc[self.sizes[scheme].columns, f"name_{lang}"]
        return pd.DataFrame(
            {
                f"{day:%Y-%m}": pd.Categorical.from_codes(
                    self.grades[scheme][:, month], categories=pd.Index(names), ordered=True
                )
                for month, day in enumerate(self.month_ends)
            },
            index=self.customer_ids,
        )

    def transitions(self, scheme: str) -> pd.DataFrame:
        """How the tracked ``scheme``'s customers moved from each month-end to the next.

        Parameters
        ----------
        scheme : str
            A tracked scheme (a key of ``grades``).

        Returns
        -------
        pandas.DataFrame
            One row per month-end after the first: ``known_both`` (customers known at both
            ends), ``stayed``, ``moved_up``, ``moved_down`` (counts among them; up and down
            are 0 for an unordered scheme, whose moves all count as ``moved_down`` +
            ``moved_up`` = 0 and ``changed``) , ``changed`` (any move) and ``new``
            (customers first known that month).
        """
        codes = self.grades[scheme]
        rows = []
        for month in range(1, len(self.month_ends)):
            before, after = codes[:, month - 1], codes[:, month]
            both = (before != NOT_KNOWN) & (after != NOT_KNOWN)
            step = after[both].astype(np.int64) - before[both]
            ordered = self.ordered[scheme]
            rows.append(
                {
                    "known_both": int(both.sum()),
                    "stayed": int((step == 0).sum()),
                    "moved_up": int((step > 0).sum()) if ordered else 0,
                    "moved_down": int((step < 0).sum()) if ordered else 0,
                    "changed": int((step != 0).sum()),
                    "new": int(((before == NOT_KNOWN) & (after != NOT_KNOWN)).sum()),
                }
            )
        return pd.DataFrame(rows, index=pd.DatetimeIndex(self.month_ends[1:], name="month_end"))

    def last_migration(self, scheme: str) -> pd.DataFrame:
        """Customers by segment at the last month but one (rows) and at the last (columns).

        Parameters
        ----------
        scheme : str
            A tracked scheme.

        Returns
        -------
        pandas.DataFrame
            Counts (int64); rows are the segment keys then ``"(new)"`` for customers first
            known in the last month, columns the segment keys.
        """
        keys = list(self.sizes[scheme].columns)
        k = len(keys)
        codes = self.grades[scheme]
        before, after = _last_two(codes)
        row = np.where(before == NOT_KNOWN, k, before)
        cells = np.bincount(row * k + after, minlength=(k + 1) * k).reshape(k + 1, k)
        return pd.DataFrame(
            cells.astype(np.int64),
            index=pd.Index([*keys, "(new)"], name="from"),
            columns=pd.Index(keys, name="to"),
        )

    def moves(self, scheme: str) -> pd.DataFrame:
        """Who moved up or down in ``scheme`` from the last month-end but one to the last.

        Parameters
        ----------
        scheme : str
            A tracked, ordered scheme.

        Returns
        -------
        pandas.DataFrame
            One row per customer known at both month-ends whose segment differs, in
            ``customer_ids`` order: ``customer_id``, ``before`` and ``after`` (segment keys)
            and ``direction`` ("up" or "down", by the scheme's order, lowest first).
        """
        keys = np.asarray(self.sizes[scheme].columns, dtype=object)
        before, after = _last_two(self.grades[scheme])
        moved = np.flatnonzero((before != NOT_KNOWN) & (before != after))
        return pd.DataFrame(
            {
                "customer_id": self.customer_ids.take(moved).array,
                "before": keys[before[moved]],
                "after": keys[after[moved]],
                "direction": np.where(after[moved] > before[moved], "up", "down"),
            }
        )


def _last_two(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes at the last month-end but one (all :data:`NOT_KNOWN` when there is only one
    month-end) and at the last, as int64."""
    after = codes[:, -1].astype(np.int64)
    if codes.shape[1] < 2:
        return np.full(len(codes), NOT_KNOWN, dtype=np.int64), after
    return codes[:, -2].astype(np.int64), after


def month_ends(as_of: str | pd.Timestamp, *, months: int) -> tuple[pd.Timestamp, ...]:
    """The last ``months`` month-ends up to ``as_of``, oldest first; ``as_of`` is the last.

    Parameters
    ----------
    as_of : str or pandas.Timestamp
        The report's as-of day (its month's last day in a report).
    months : int
        How many month-ends, ``as_of`` included.

    Returns
    -------
    tuple of pandas.Timestamp
    """
    as_of = pd.Timestamp(as_of).normalize()
    month = as_of.to_period("M")
    earlier = [(month - back).end_time.normalize() for back in range(months - 1, 0, -1)]
    return (*earlier, as_of)


@dataclass(frozen=True)
class MonthEndLabels:
    """The rule schemes as of a month-end before the last: all a history keeps of it.

    Attributes
    ----------
    labels : dict of str to pandas.Series
        Per scheme, its segment per customer (categorical, on the snapshot's ids).
    customers : int
        Customers known at the month-end.
    """

    labels: dict[str, pd.Series]
    customers: int


def month_end_labels(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    days: Sequence[pd.Timestamp],
    config: Mapping[str, Any],
    schemes: Collection[str],
    random_state: int = 0,
) -> dict[pd.Timestamp, MonthEndLabels | None]:
    """The ``schemes`` as of each of ``days``, latest first, each from its own snapshot.

    What :func:`segment_history` computes for the month-ends before the last, given apart so
    that it can run beside the rest of the month's analysis (another process, see
    :class:`segmentation.forked.ForkedCall`). What the schemes warn of is not kept: the
    history says it once, for the last month-end.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables from ingest.
    days : sequence of pandas.Timestamp
        Month-ends, latest first.
    config : mapping
    schemes : collection of str
        Registry names to run.
    random_state : int, default 0

    Returns
    -------
    dict of pandas.Timestamp to MonthEndLabels or None
        Latest first, up to and including the first day before any customer (None), after
        which no earlier day can have one.
    """
    computed: dict[pd.Timestamp, MonthEndLabels | None] = {}
    for day in days:
        snapshot = customer_snapshot(orders, customers, interactions, as_of=day)
        if not len(snapshot):
            computed[day] = None
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = run_schemes(
                snapshot, as_of=day, config=config, random_state=random_state,
                schemes=list(schemes),
            )  # fmt: skip
        found = run.segmentations
        labels = {name: found[name].labels for name in schemes if name in found}
        computed[day] = MonthEndLabels(labels=labels, customers=len(snapshot))
    return computed


def segment_history(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
    config: Mapping[str, Any],
    months: int,
    schemes: Collection[str],
    track: Collection[str] = (),
    random_state: int = 0,
    known: Mapping[pd.Timestamp, SchemeRun] | None = None,
    earlier: Mapping[pd.Timestamp, MonthEndLabels | None] | None = None,
) -> SegmentHistory:
    """Segment the customers as of each of the last ``months`` month-ends.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables from ingest.
    as_of : str or pandas.Timestamp
        The last month-end (the report's as-of day).
    config : mapping
        :func:`segmentation.config.load_config`.
    months : int
        Month-ends, ``as_of`` included (:func:`month_ends`). Month-ends before the data's
        first customer are left out.
    schemes : collection of str
        Registry names to run at each month-end (schemes the data cannot support are listed
        in ``unavailable``).
    track : collection of str, optional
        Schemes whose segment per customer is kept at every month-end (``grades``).
    random_state : int, default 0
    known : mapping of pandas.Timestamp to SchemeRun, optional
        Schemes already run as of some of the month-ends (the report's this month and last
        month), by day, reused instead of run again. They must come from the same tables
        and config.
    earlier : mapping of pandas.Timestamp to MonthEndLabels or None, optional
        :func:`month_end_labels` of some of the month-ends before ``as_of`` (computed
        beside the rest of the analysis), used instead of running the schemes again; a day
        not in ``known`` or ``earlier`` is computed here.

    Returns
    -------
    SegmentHistory
    """
    days = month_ends(as_of, months=months)
    known, earlier = known or {}, earlier or {}
    tables = (orders, customers, interactions)
    reused = known.get(days[-1])
    found = dict(reused.segmentations) if reused is not None else {}
    unavailable = (
        {} if reused is None else {n: r for n, r in reused.unavailable.items() if n in schemes}
    )
    wanted = [name for name in schemes if name not in found and name not in unavailable]
    snapshot = reused.snapshot if reused is not None else None
    if wanted or snapshot is None:
        snapshot = customer_snapshot(*tables, as_of=days[-1])
        if not len(snapshot):  # no customer at all: an empty history
            return _history({}, {}, {}, np.zeros(0), unavailable=unavailable, track=track)
    if wanted:
        # What a scheme warns of (tied RFM quintiles) is said once, for this month.
        run = run_schemes(
            snapshot, as_of=days[-1], config=config, random_state=random_state, schemes=wanted
        )
        found.update(run.segmentations)
        unavailable.update(run.unavailable)
    latest = {name: found[name] for name in schemes if name in found}
    labels = {days[-1]: {name: seg.labels for name, seg in latest.items()}}
    known_customers = {days[-1]: len(snapshot)}
    for day in reversed(days[:-1]):
        month = _earlier_month(
            day, known, earlier, tables, config=config, schemes=schemes, random_state=random_state
        )
        if month is None:
            break  # before the first customer: no earlier month has any either
        labels[day], known_customers[day] = month.labels, month.customers
    first_known = _first_known_day(snapshot, days[-1])
    return _history(
        labels, latest, known_customers, first_known, unavailable=unavailable, track=track
    )


def _earlier_month(
    day: pd.Timestamp,
    known: Mapping[pd.Timestamp, SchemeRun],
    earlier: Mapping[pd.Timestamp, MonthEndLabels | None],
    tables: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    *,
    config: Mapping[str, Any],
    schemes: Collection[str],
    random_state: int,
) -> MonthEndLabels | None:
    """A month-end before the last: from ``earlier``, from a ``known`` run (the schemes it
    lacks run on a fresh snapshot), or computed; None before any customer."""
    if day in earlier:
        return earlier[day]
    reused = known.get(day)
    if reused is None:
        return month_end_labels(
            *tables, days=[day], config=config, schemes=schemes, random_state=random_state
        )[day]
    found = {name: seg.labels for name, seg in reused.segmentations.items()}
    wanted = [n for n in schemes if n not in found and n not in reused.unavailable]
    customers = len(reused.snapshot)
    if wanted:
        computed = month_end_labels(
            *tables, days=[day], config=config, schemes=wanted, random_state=random_state
        )[day]
        if computed is None:
            return None
        found.update(computed.labels)
        customers = computed.customers
    return MonthEndLabels(
        labels={name: found[name] for name in schemes if name in found}, customers=customers
    )


def _first_known_day(snapshot: pd.DataFrame | None, as_of: pd.Timestamp) -> np.ndarray:
    """Each customer's first known day (days since 1970-01-01) from the last snapshot's
    tenure; minus infinity for a customer known throughout (no date at all)."""
    if snapshot is None:
        return np.zeros(0)
    end_day = (as_of.normalize() - pd.Timestamp("1970-01-01")).days
    tenure = snapshot["tenure_days"].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(tenure), -np.inf, end_day - tenure)


def _history(
    labels: Mapping[pd.Timestamp, Mapping[str, pd.Series]],
    latest: Mapping[str, Segmentation],
    known_customers: Mapping[pd.Timestamp, int],
    first_known: np.ndarray,
    *,
    unavailable: dict[str, str],
    track: Collection[str],
) -> SegmentHistory:
    """The history from each month-end's labels, with the last month-end's schemes
    (``latest``) for their keys, names and titles."""
    days = sorted(labels)
    customer_ids = next(iter(latest.values())).labels.index if latest else pd.Index([])
    sizes, grades = {}, {}
    positions: dict[int, np.ndarray] = {}  # by index object: a month's schemes share one
    for name, seg in latest.items():
        keys = list(seg.labels.cat.categories)
        # Keys only an earlier month has (none with the config's fixed segments) go last.
        per_month = [(*_codes_as(labels[day].get(name), keys), day) for day in days]
        counts = [np.bincount(c[c >= 0], minlength=len(keys)) for c, _, _ in per_month]
        sizes[name] = pd.DataFrame(
            np.vstack(counts).astype(np.int64),
            index=pd.DatetimeIndex(days, name="month_end"),
            columns=pd.Index(keys, name="segment"),
        )
        if name in track:
            grades[name] = _aligned_codes(per_month, customer_ids, first_known, positions)
    return SegmentHistory(
        month_ends=tuple(days),
        customers=pd.Series(
            [known_customers[day] for day in days],
            index=pd.DatetimeIndex(days, name="month_end"),
            dtype=np.int64,
            name="customers",
        ),
        sizes=sizes,
        segments={name: _segment_table(seg) for name, seg in latest.items()},
        titles={name: dict(seg.title) for name, seg in latest.items()},
        ordered={name: bool(seg.ordered) for name, seg in latest.items()},
        customer_ids=customer_ids,
        grades=grades,
        unavailable=unavailable,
    )


def _codes_as(labels: pd.Series | None, keys: list[str]) -> tuple[np.ndarray, pd.Index]:
    """A month's labels as positions in ``keys`` (extended by keys it alone has, after them),
    with its customer ids; nothing for a month the scheme did not run."""
    if labels is None:
        return np.zeros(0, dtype=np.int64), pd.Index([], dtype="string")
    categories = list(labels.cat.categories)
    for key in categories:
        if key not in keys:
            keys.append(key)
    position = np.array([keys.index(key) for key in categories], dtype=np.int64)
    codes = labels.cat.codes.to_numpy().astype(np.int64)
    return np.where(codes >= 0, position[codes], NOT_KNOWN), labels.index


def _aligned_codes(
    per_month: list[tuple[np.ndarray, pd.Index, pd.Timestamp]],
    customer_ids: pd.Index,
    first_known: np.ndarray,
    positions: dict[int, np.ndarray],
) -> np.ndarray:
    """One int8 column per month: each customer's code, :data:`NOT_KNOWN` when not known.
    ``positions`` keeps each month's ids' positions among ``customer_ids``, found once."""
    grid = np.full((len(customer_ids), len(per_month)), NOT_KNOWN, dtype=np.int8)
    for month, (codes, ids, day) in enumerate(per_month):
        if id(ids) not in positions:
            positions[id(ids)] = _positions_among(ids, customer_ids, first_known, day)
        grid[positions[id(ids)], month] = codes
    return grid


def _positions_among(
    ids: pd.Index, customer_ids: pd.Index, first_known: np.ndarray, day: pd.Timestamp
) -> np.ndarray:
    """Where each of ``ids`` (a month-end's customers, sorted as every snapshot is) is in
    ``customer_ids`` (the last month-end's). Customers known earlier are known later too:
    they are the last month-end's customers first known by ``day``, in the same order, which
    a comparison of the ids confirms (a lookup by id otherwise)."""
    if ids is customer_ids:
        return np.arange(len(ids))
    import pyarrow as pa
    import pyarrow.compute as pc

    day_number = (day.normalize() - pd.Timestamp("1970-01-01")).days
    candidates = np.flatnonzero(first_known <= day_number)
    stored = pa.array(customer_ids.astype("string[pyarrow]").array)
    mine = pa.array(ids.astype("string[pyarrow]").array)
    if len(candidates) == len(ids) and pc.all(pc.equal(stored.take(candidates), mine)).as_py():
        return candidates
    # Arrow's hash lookup on the ids as they are stored, without Python strings.
    found = pc.index_in(mine, value_set=stored)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _segment_table(seg: Segmentation) -> pd.DataFrame:
    """A scheme's segment names and actions (the playbook's), per key."""
    columns = ["name_zh", "name_en", "action_zh", "action_en"]
    return seg.profile.reindex(columns=columns).fillna("")
