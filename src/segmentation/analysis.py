"""One month's analysis, computed once: :class:`MonthAnalysis` and :func:`analyse_month`.

Every scheme is computed as of three days (this month's end, last month's, and the backtest's
calibration day), scored by :mod:`segmentation.evaluate`, and kept with the CLV backtest and
the agreement between schemes; the report's notebooks only read it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.association import AssociationResult, association_from_config
from segmentation.campaigns import CampaignResults
from segmentation.clv import (
    MODEL_TITLES,
    CLVBacktest,
    CLVForecast,
    FitLimits,
    ForecastIntervals,
    HoldoutCheck,
    IntervalSettings,
    MonthCLVFits,
    ProbabilityCalibration,
    buy_probability,
    forecast_intervals,
    holdout_check,
    month_clv_fits,
    probability_calibration,
)
from segmentation.config import Settings, merge_config
from segmentation.drivers import DriversResult, drivers_from_config
from segmentation.evaluate import (
    AMI_MAX_CUSTOMERS,
    agreement_matrix,
    backtest_scores,
    future_outcomes,
    lift_curve,
)
from segmentation.features import CohortMatrix, cohort_matrix, customer_snapshot
from segmentation.forked import ForkedCall
from segmentation.ranking import Verdict
from segmentation.ranking import verdict as make_verdict
from segmentation.schemes.base import common_positions
from segmentation.schemes.history import (
    MonthEndLabels,
    SegmentHistory,
    month_end_labels,
    month_ends,
    segment_history,
)
from segmentation.schemes.migration import Migration, migration_between
from segmentation.schemes.registry import SchemeRun, run_schemes

__all__ = ["MonthAnalysis", "analyse_month"]


@dataclass(frozen=True)
class MonthAnalysis:
    """Everything the report shows for one month, computed once.

    Attributes
    ----------
    as_of, previous_as_of, calibration_end : pandas.Timestamp
        This month's as-of day, last month's, and the backtest's calibration day
        (``as_of`` minus the horizon).
    horizon_days : int
    snapshot : pandas.DataFrame
        The customer snapshot as of ``as_of`` (with ``clv`` when CLV could be computed).
    current, previous, calibration : SchemeRun
        Every scheme as of each of the three days.
    outcomes : pandas.DataFrame
        Future revenue and purchase per customer over the horizon after calibration.
    scores : pandas.DataFrame
        One row per scheme, ranked: backtest scores, shape, stability (ARI last month ->
        this month) and, for clusters, the bootstrap Jaccard.
    agreement_ari, agreement_ami : pandas.DataFrame
        Pairwise agreement of this month's schemes; AMI on a seeded sample of
        :data:`~segmentation.evaluate.AMI_MAX_CUSTOMERS` customers when there are more (its
        ``attrs`` say so).
    verdict : Verdict
        The recommended scheme, its runner-up and bootstrap support
        (:func:`segmentation.ranking.verdict`).
    clv_backtest : CLVBacktest or None
        The purchase models fitted before the CLV holdout and scored on it (holdout ending
        on ``as_of``), or None with the reason in ``clv_unavailable``.
    clv_model, clv_model_reason : str
        The purchase model the CLV schemes used and why (:func:`segmentation.clv.scheme_model`).
    association : dict of (str, str) to AssociationResult
        What each segment of the recommended scheme (and of the config's
        ``association.schemes``) buys together, per (scheme, level)
        (:func:`segmentation.association.association_from_config`).
    drivers : DriversResult or None
        What related to buying and spending over the backtest's horizon, from the calibration
        snapshot (:func:`segmentation.drivers.drivers_from_config`), or None with the reason
        in ``drivers_unavailable``.
    cohorts : CohortMatrix or None
        Retention and revenue per member by first-purchase month, for the config's
        ``over_time.cohort_months`` months (:func:`segmentation.features.cohort_matrix`).
    history : SegmentHistory or None
        The rule schemes (``over_time.schemes``) at each of the last
        ``over_time.history_months`` month-ends, each as of its own end, with the grade
        history of ``over_time.grade_schemes`` and of ``history_scheme``
        (:func:`segmentation.schemes.history.segment_history`).
    history_scheme : str
        The scheme whose month-by-month migration the report shows: the recommended scheme
        when it is among the history's, else the best ranked of them.
    clv_intervals : ForecastIntervals or None
        Bootstrap intervals of this month's CLV forecast: per customer (a sample), per
        segment of the recommended scheme, and the shop's expected revenue
        (:func:`segmentation.clv.forecast_intervals`); None when CLV is unavailable.
    clv_calibration : ProbabilityCalibration or None
        Brier scores of the model's probability of buying and of each scheme's segment
        purchase rate over the backtest's horizon, with the model's reliability curve.
    clv_holdout : HoldoutCheck or None
        The CLV backtest's holdout total against its interval
        (:func:`segmentation.clv.holdout_check`).
    titles : dict of str to dict of str to str
        Scheme name to its bilingual title, for every scheme of this month or calibration
        (kept apart from the runs, so a notebook showing a title reads no scheme run back).
    timings : dict of str to float
        Seconds per stage.
    warnings : tuple of (str, str)
        The Python warnings raised while analysing, as (report section, message), e.g.
        ``("rule_schemes", "rfm: F has too many tied values ...")``; filled by
        :func:`segmentation.report.load_month_analysis` and ``segmentation report``.
    campaigns : CampaignResults or None
        Last month's campaigns measured against their control groups
        (:func:`segmentation.campaigns.measure_campaigns`); None without a campaign log.
        Filled by :func:`segmentation.report.load_month_analysis` and ``segmentation report``.
    previous_positions : tuple of two arrays or None
        Where the customers of both months sit in last month's snapshot and in this
        month's (:func:`segmentation.schemes.base.common_positions`), found once for the
        comparison and kept for :meth:`migration`, so a notebook showing a migration does
        not look a million ids up again.
    """

    as_of: pd.Timestamp
    previous_as_of: pd.Timestamp
    calibration_end: pd.Timestamp
    horizon_days: int
    snapshot: pd.DataFrame
    current: SchemeRun
    previous: SchemeRun
    calibration: SchemeRun
    outcomes: pd.DataFrame
    scores: pd.DataFrame
    agreement_ari: pd.DataFrame
    agreement_ami: pd.DataFrame
    verdict: Verdict
    clv_backtest: CLVBacktest | None = None
    clv_unavailable: str = ""
    clv_model: str = ""
    clv_model_reason: str = ""
    association: dict[tuple[str, str], AssociationResult] = field(default_factory=dict)
    drivers: DriversResult | None = None
    drivers_unavailable: str = ""
    cohorts: CohortMatrix | None = None
    history: SegmentHistory | None = None
    history_scheme: str = ""
    clv_intervals: ForecastIntervals | None = None
    clv_calibration: ProbabilityCalibration | None = None
    clv_holdout: HoldoutCheck | None = None
    titles: dict[str, dict[str, str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[tuple[str, str], ...] = ()
    campaigns: CampaignResults | None = None
    previous_positions: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def outcomes_end(self) -> pd.Timestamp:
        """The last day of the backtest's horizon: ``calibration_end`` plus ``horizon_days``."""
        return self.calibration_end + pd.Timedelta(days=self.horizon_days)

    @property
    def recommendation(self) -> dict[str, str]:
        """The one-line recommendation in zh and en: ``verdict.sentence``."""
        return self.verdict.sentence

    @property
    def best_scheme(self) -> str | None:
        """The scheme ranked first, or None when no scheme could be ranked."""
        if not len(self.scores):
            return None
        ranked = self.scores.index[self.scores["rank"].notna()]
        return str(ranked[0]) if len(ranked) else None

    def scheme_titles(self) -> dict[str, dict[str, str]]:
        """Scheme name to its bilingual title, for every scheme of this month or calibration."""
        return {name: dict(title) for name, title in self.titles.items()}

    def migration(self, scheme: str) -> Migration:
        """How customers moved between ``scheme``'s segments from last month to this one.

        Parameters
        ----------
        scheme : str
            A scheme of both months.

        Returns
        -------
        Migration
            :func:`segmentation.schemes.migration.migration_between` of the two months.

        Raises
        ------
        KeyError
            When either month lacks ``scheme``.
        """
        before, now = self.previous.segmentations[scheme], self.current.segmentations[scheme]
        # The positions hold for labels indexed by the two snapshots' own ids (every scheme's).
        shared = (
            before.labels.index is self.previous.snapshot.index
            and now.labels.index is self.current.snapshot.index
        )
        return migration_between(before, now, positions=self.previous_positions if shared else None)

    def lift_curves(self, *, top: int = 5) -> dict[str, pd.DataFrame]:
        """The backtest's :func:`~segmentation.evaluate.lift_curve` of the ``top`` ranked schemes.

        Parameters
        ----------
        top : int, default 5

        Returns
        -------
        dict of str to pandas.DataFrame
            Scheme name to its curve, best ranked first.
        """
        return {
            name: lift_curve(
                self.calibration.segmentations[name].labels.reindex(self.outcomes.index),
                self.outcomes["revenue"],
            )
            for name in self.scores.index[:top]
        }


def analyse_month(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: str | pd.Timestamp,
    config: Mapping[str, Any],
    horizon_days: int | None = None,
    random_state: int = 0,
    engine: str = "pandas",
) -> MonthAnalysis:
    """Compute every scheme this month, last month and at calibration, and compare them.

    Parameters
    ----------
    orders, customers, interactions : pandas.DataFrame or None
        Canonical tables from ingest.
    as_of : str or pandas.Timestamp
        The report's as-of day (the last day of the report month).
    config : mapping
        :func:`segmentation.config.load_config`.
    horizon_days : int, optional
        The held-out window: schemes are computed ``horizon_days`` before ``as_of`` and
        scored on what customers did after; the config's ``report.horizon_days`` when omitted.
    random_state : int, default 0
    engine : {"pandas", "duckdb", "spark"}, default "pandas"
        Where the three customer snapshots are computed
        (:func:`segmentation.engine.snapshot_frames`); everything after them is the same.

    Returns
    -------
    MonthAnalysis

    Notes
    -----
    Three parts are computed by forked child processes on Linux (config
    ``runtime.fork_analysis``), each on the other core while this process goes on: the CLV
    fits (the backtest and the three forecasts, :func:`segmentation.clv.month_clv_fits`)
    while it computes the outcomes and the drivers; the segment history's month-ends before
    last month's while it runs the schemes; the forecast's intervals and holdout checks
    while it computes the agreement and the association. At a million customers they are
    8 to 12 s each. The result is the same with the option off.
    """
    timings: dict[str, float] = {}
    horizon_days = horizon_days or int(config["report"]["horizon_days"])
    as_of = pd.Timestamp(as_of).normalize()
    previous_as_of = (as_of.to_period("M") - 1).end_time.normalize()
    calibration_end = as_of - pd.Timedelta(days=horizon_days)
    with contextlib.ExitStack() as aside:  # a failed analysis leaves no child behind
        return _analysed(
            (orders, customers, interactions),
            (as_of, previous_as_of, calibration_end, horizon_days),
            aside,
            config=config,
            random_state=random_state,
            engine=engine,
            timings=timings,
        )


@dataclass(frozen=True)
class _Prepared:
    """What the schemes start from: the snapshots and the CLV fits, with the outcomes and
    the drivers computed while the fits ran aside, and the history's earlier month-ends
    still on their way."""

    snapshots: dict[pd.Timestamp, pd.DataFrame]
    outcomes: pd.DataFrame
    drivers: DriversResult | None
    drivers_unavailable: str
    fits: MonthCLVFits
    earlier_months: ForkedCall[dict[pd.Timestamp, MonthEndLabels | None]]


def _prepared(
    tables: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    days: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, int],
    aside: contextlib.ExitStack,
    *,
    config: Mapping[str, Any],
    random_state: int,
    engine: str,
    timings: dict[str, float],
) -> _Prepared:
    """The snapshots, then the CLV fits in a forked child while this process computes the
    outcomes and the drivers; the history's earlier month-ends go aside before the wait."""
    orders, customers, interactions = tables
    as_of, previous_as_of, calibration_end, horizon_days = days
    with _timed(timings, "features"):
        snapshots = _snapshots(
            orders, customers, interactions, (previous_as_of, as_of, calibration_end),
            engine=engine, config=config,
        )  # fmt: skip
    # The CLV fits (the backtest that picks the model, each snapshot's forecast) need nothing
    # computed below, and only the schemes need them.
    clv_fits = ForkedCall(
        month_clv_fits, orders, snapshots, days=(previous_as_of, as_of, calibration_end),
        config=config, holdout_end=as_of, fork=bool(config["runtime"]["fork_analysis"]),
    )  # fmt: skip
    aside.callback(clv_fits.cancel)
    with _timed(timings, "outcomes"):
        outcomes = future_outcomes(
            orders,
            snapshots[calibration_end].index,
            calibration_end=calibration_end,
            horizon_days=horizon_days,
        )
    with _timed(timings, "drivers"):
        drivers, drivers_unavailable = drivers_from_config(
            snapshots[calibration_end], outcomes, orders, interactions,
            calibration_end=calibration_end, horizon_days=horizon_days, config=config,
            random_state=random_state,
        )  # fmt: skip
    # Started once the drivers are done, to run while this process waits for the CLV fits
    # and then runs the schemes and the comparison on one core, rather than beside the fits
    # and the drivers, which keep both busy.
    earlier_months = _earlier_months_aside(
        tables, as_of=as_of, config=config, random_state=random_state
    )
    aside.callback(earlier_months.cancel)
    with _timed(timings, "clv_wait"):
        fits = clv_fits.result()
    timings.update(fits.seconds)
    return _Prepared(snapshots, outcomes, drivers, drivers_unavailable, fits, earlier_months)


def _analysed(
    tables: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    days: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, int],
    aside: contextlib.ExitStack,
    *,
    config: Mapping[str, Any],
    random_state: int,
    engine: str,
    timings: dict[str, float],
) -> MonthAnalysis:
    """:func:`analyse_month`, with the CLV fits, the forecast's intervals and the history's
    earlier month-ends computed aside (forked children, cancelled when ``aside`` closes)."""
    orders, customers, interactions = tables
    as_of, previous_as_of, calibration_end, horizon_days = days
    run_days = (previous_as_of, as_of, calibration_end)
    prepared = _prepared(
        tables, days, aside, config=config, random_state=random_state, engine=engine,
        timings=timings,
    )  # fmt: skip
    snapshots, outcomes, fits = prepared.snapshots, prepared.outcomes, prepared.fits
    backtest, clv_unavailable = fits.backtest, fits.unavailable
    with _timed(timings, "schemes"):
        previous, current, calibration = _scheme_runs(
            snapshots,
            run_days,
            Settings(merge_config(config, fits.model_overrides)),
            random_state,
            forecasts=fits.forecasts,
        )
    clv_model, clv_model_reason = _model_used(
        current, fits.model_overrides["clv"]["model"], fits.model_reason
    )
    with _timed(timings, "compare"):
        titles = _scheme_titles(calibration, current)
        scores, verdict, positions = _ranked(
            (previous, current, calibration), outcomes, titles,
            config=config, random_state=random_state,
        )  # fmt: skip
    # The forecast's intervals and the holdout checks (bootstrap refits, numpy and scipy
    # alone) need nothing computed below: a forked child computes them while this process
    # computes the agreement, the association and the history.
    uncertain = ForkedCall(
        _clv_uncertainty, (current, calibration), outcomes, backtest, verdict.scheme,
        horizon_days=horizon_days, config=config, random_state=random_state,
        fork=bool(config["runtime"]["fork_analysis"]),
    )  # fmt: skip
    aside.callback(uncertain.cancel)
    with _timed(timings, "agreement"):
        agreement_ari, agreement_ami = _agreement(current, random_state=random_state)
    with _timed(timings, "association"):
        association = association_from_config(
            orders, current.segmentations, recommended=verdict.scheme, as_of=as_of,
            config=config, random_state=random_state,
        )  # fmt: skip
    with _timed(timings, "over_time"):
        cohorts, history, history_scheme = _over_time(
            (orders, customers, interactions), {as_of: current, previous_as_of: previous},
            prepared.earlier_months.result(), scores, verdict.scheme, as_of=as_of, config=config,
            random_state=random_state,
        )  # fmt: skip
    with _timed(timings, "clv_uncertainty_wait"):
        uncertainty, uncertainty_seconds = uncertain.result()
    timings.update(uncertainty_seconds)
    return MonthAnalysis(
        as_of=as_of,
        previous_as_of=previous_as_of,
        calibration_end=calibration_end,
        horizon_days=horizon_days,
        snapshot=current.snapshot,
        current=current,
        previous=previous,
        calibration=calibration,
        outcomes=outcomes,
        scores=scores,
        agreement_ari=agreement_ari,
        agreement_ami=agreement_ami,
        verdict=verdict,
        clv_backtest=backtest,
        clv_unavailable=clv_unavailable,
        clv_model=clv_model,
        clv_model_reason=clv_model_reason,
        association=association,
        drivers=prepared.drivers,
        drivers_unavailable=prepared.drivers_unavailable,
        cohorts=cohorts,
        history=history,
        history_scheme=history_scheme,
        titles=titles,
        timings=timings,
        previous_positions=positions,
        **uncertainty,
    )


def _ranked(
    runs: tuple[SchemeRun, SchemeRun, SchemeRun],
    outcomes: pd.DataFrame,
    titles: Mapping[str, Mapping[str, str]],
    *,
    config: Mapping[str, Any],
    random_state: int,
) -> tuple[pd.DataFrame, Verdict, tuple[np.ndarray, np.ndarray]]:
    """Score every scheme computed at calibration on what followed, and rank them; with
    where last month's customers sit among this month's (found once, kept for the
    migrations)."""
    previous, current, calibration = runs
    positions = common_positions(previous.snapshot.index, current.snapshot.index)
    scores = backtest_scores(
        calibration,
        outcomes,
        previous=previous,
        current=current,
        settings=config["ranking"],
        random_state=random_state,
        positions=positions,
    )
    return scores, make_verdict(scores, titles, settings=config["ranking"]), positions


def _snapshots(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    days: tuple[pd.Timestamp, ...],
    *,
    engine: str,
    config: Mapping[str, Any],
) -> dict[pd.Timestamp, pd.DataFrame]:
    """The customer snapshot as of each day, on the pandas path or on an engine."""
    if engine == "pandas":
        return {day: customer_snapshot(orders, customers, interactions, as_of=day) for day in days}
    from segmentation.engine import snapshot_frames  # imports ibis: only when asked for

    return snapshot_frames(
        orders, customers, interactions, as_of_days=days, engine=engine, config=config
    )


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the seconds the block took as ``timings[stage]`` (when it finishes)."""
    began = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - began


def _model_used(current: SchemeRun, model: str, reason: str) -> tuple[str, str]:
    """The model this month's CLV schemes used, and why: ``model`` and its ``reason``, or the
    fallback that served when ``model`` was passed over (its reason says why)."""
    clv_tier = current.segmentations.get("clv_tier")
    if clv_tier is None or not clv_tier.details.get("passed_over"):
        return model, reason
    used = str(clv_tier.details["purchase_model"]["model"])
    passed = "; ".join(clv_tier.details["passed_over"].values())
    return used, f"{MODEL_TITLES[used]}: the backtest's next best, as {passed}"


def _scheme_runs(
    snapshots: Mapping[pd.Timestamp, pd.DataFrame],
    days: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp],
    config: Mapping[str, Any],
    random_state: int,
    *,
    forecasts: Mapping[pd.Timestamp, CLVForecast | str],
) -> tuple[SchemeRun, SchemeRun, SchemeRun]:
    """Every scheme last month, this month (matched to last month's) and at calibration, the
    CLV tiers taking each snapshot's ``forecasts`` (:func:`segmentation.clv.month_clv_fits`)."""
    previous_as_of, as_of, calibration_end = days
    previous = run_schemes(
        snapshots[previous_as_of],
        as_of=previous_as_of,
        config=config,
        random_state=random_state,
        clv_forecast=forecasts.get(previous_as_of),
    )
    current = run_schemes(
        snapshots[as_of],
        as_of=as_of,
        config=config,
        random_state=random_state,
        previous=previous.segmentations,
        clv_forecast=forecasts.get(as_of),
    )
    # The backtest keeps this month's k: choosing k again would only repeat the same search.
    clusters = current.segmentations.get("clusters")
    overrides = {"clustering": {"k": clusters.details["k"]}} if clusters is not None else {}
    calibration = run_schemes(
        snapshots[calibration_end],
        as_of=calibration_end,
        config=config,
        random_state=random_state,
        overrides=overrides,
        clv_forecast=forecasts.get(calibration_end),
    )
    return previous, current, calibration


def _earlier_months_aside(
    tables: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    *,
    as_of: pd.Timestamp,
    config: Mapping[str, Any],
    random_state: int,
) -> ForkedCall[dict[pd.Timestamp, MonthEndLabels | None]]:
    """The segment history's month-ends before last month's (which the report's own runs
    give), latest first, computed in a forked child process (config
    ``runtime.fork_analysis``) when they are rule schemes only."""
    from segmentation.schemes.rules import RULE_SCHEMES

    section = config["over_time"]
    days = month_ends(as_of, months=int(section["history_months"]))[:-2]
    schemes = list(section["schemes"])
    # Rule schemes are pandas and numpy alone. Clustering's OpenMP threads (scikit-learn's)
    # are not safe in a forked child of a process that ran them before (this analysis'
    # drivers, or a notebook analysing twice): such month-ends are computed here, in turn.
    rules_only = all(name in RULE_SCHEMES for name in schemes)
    return ForkedCall(
        month_end_labels,
        *tables,
        days=days[::-1],
        config=config,
        schemes=schemes,
        random_state=random_state,
        fork=bool(config["runtime"]["fork_analysis"]) and rules_only and len(days) > 0,
    )


def _over_time(
    tables: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None],
    runs: Mapping[pd.Timestamp, SchemeRun],
    earlier: Mapping[pd.Timestamp, MonthEndLabels | None],
    scores: pd.DataFrame,
    recommended: str | None,
    *,
    as_of: pd.Timestamp,
    config: Mapping[str, Any],
    random_state: int,
) -> tuple[CohortMatrix, SegmentHistory, str]:
    """The cohorts, and the rule schemes at each of the last month-ends with the grade
    history; this month's and last month's runs are reused, and the ``earlier`` month-ends
    were computed aside."""
    section = config["over_time"]
    orders, customers, interactions = tables
    cohorts = cohort_matrix(orders, as_of=as_of, months=int(section["cohort_months"]))
    schemes = list(section["schemes"])
    computed = [name for name in schemes if name in runs[as_of].segmentations]
    ranked = [name for name in scores.index if name in computed]
    history_scheme = str(
        recommended
        if recommended is not None and recommended in computed
        else (ranked or computed or [""])[0]
    )
    history = segment_history(
        orders,
        customers,
        interactions,
        as_of=as_of,
        config=config,
        months=int(section["history_months"]),
        schemes=schemes,
        track=[*section["grade_schemes"], history_scheme],
        random_state=random_state,
        known=runs,
        earlier=earlier,
    )
    return cohorts, history, history_scheme


def _scheme_titles(calibration: SchemeRun, current: SchemeRun) -> dict[str, dict[str, str]]:
    return {**calibration.titles(), **current.titles()}


def _agreement(current: SchemeRun, *, random_state: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This month's pairwise ARI (every customer) and AMI (a seeded sample when large)."""
    agreement_ari = agreement_matrix(current.segmentations, metric="ari")
    agreement_ami = agreement_matrix(
        current.segmentations,
        metric="ami",
        max_customers=AMI_MAX_CUSTOMERS,
        random_state=random_state,
    )
    return agreement_ari, agreement_ami


def _clv_uncertainty(
    runs: tuple[SchemeRun, SchemeRun],
    outcomes: pd.DataFrame,
    backtest: CLVBacktest | None,
    recommended: str | None,
    *,
    horizon_days: int,
    config: Mapping[str, Any],
    random_state: int,
) -> tuple[dict[str, Any], dict[str, float]]:
    """The CLV forecast's intervals, the probability of buying scored against the holdout
    (the model's and each scheme's), and the CLV backtest's total against its interval: the
    :class:`MonthAnalysis` fields ``clv_intervals``, ``clv_calibration``, ``clv_holdout``;
    and the seconds each part took."""
    timings: dict[str, float] = {}
    current, calibration = runs
    settings = IntervalSettings.from_config(config)
    limits = FitLimits.from_config(config)
    intervals = None
    with _timed(timings, "clv_intervals"):
        tier = current.segmentations.get("clv_tier")
        if tier is not None:
            scheme = recommended if recommended in current.segmentations else "clv_tier"
            intervals = forecast_intervals(
                tier.details["forecast"],
                segments=current.segmentations[scheme].labels,
                scheme=scheme,
                settings=settings,
                fit_limits=limits,
                random_state=random_state,
            )
    with _timed(timings, "clv_calibration"):
        holdout = None
        if backtest is not None:
            holdout = holdout_check(
                backtest.fits[backtest.chosen],
                backtest.customers,
                holdout_days=backtest.holdout_days,
                settings=settings,
                fit_limits=limits,
                random_state=random_state,
            )
        checked = _probability_check(
            calibration, outcomes, horizon_days=horizon_days, settings=settings
        )
    fields = {"clv_intervals": intervals, "clv_calibration": checked, "clv_holdout": holdout}
    return fields, timings


def _probability_check(
    calibration: SchemeRun,
    outcomes: pd.DataFrame,
    *,
    horizon_days: int,
    settings: IntervalSettings,
) -> ProbabilityCalibration:
    """The calibration day's buyers: the model's probability of buying over the horizon and
    each scheme's segment purchase rate (the horizon before), against who bought."""
    snapshot = calibration.snapshot
    buyers = snapshot.index[snapshot["T"].notna()]
    tier = calibration.segmentations.get("clv_tier")
    probability, model = None, ""
    if tier is not None:
        table = tier.details["customer_clv"]
        fit = tier.details["purchase_model"]
        unit = float(fit["time_unit_days"])
        model = str(fit["model"])
        buyers = table.index
        probability = pd.Series(
            buy_probability(
                model,
                fit["params"],
                frequency=table["frequency"].to_numpy(dtype=float),
                T=table["T"].to_numpy(dtype=float) / unit,
                p_alive=table["p_alive"].to_numpy(dtype=float),
                t=horizon_days / unit,
                draws=settings.probability_draws,
            ),
            index=buyers,
        )
    bought = outcomes["bought"].reindex(buyers).fillna(False).astype(bool)
    before = snapshot["recency_days"].reindex(buyers) < horizon_days
    return probability_calibration(
        bought,
        bought_before=before,
        scheme_labels={n: s.labels for n, s in calibration.segmentations.items()},
        model_probability=probability,
        model=model,
        horizon_days=horizon_days,
        bins=settings.reliability_bins,
    )
