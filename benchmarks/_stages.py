"""The timed stages: what each one reads (untimed) and what it runs (timed), from ingest to the
whole report, with the baselines (plain pandas, plain lifetimes) beside the stages they match."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._baselines import lifetimes_weighted_fit, pandas_groupby_summary
from segmentation.errors import InvalidOptionError

__all__ = [
    "UNCOMPRESSED_PARETO_LIMIT",
    "Stage",
    "Workspace",
    "bench_stages",
    "load_nothing",
    "prepare_workspace",
    "select_stages",
]

#: Above this many customers, plain lifetimes' Pareto/NBD (minutes) runs only with ``full``.
UNCOMPRESSED_PARETO_LIMIT = 100_000


class Workspace:
    """What a stage reads: the export's paths and the prepared tables, loaded on demand."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        self.export_dir = Path(spec["export_dir"])
        self.prepared_dir = Path(spec["prepared_dir"])
        self.scratch_dir = Path(spec["scratch_dir"])
        self.project_root = Path(spec["project_root"])
        self.seed = int(spec["seed"])
        self.min_seconds = float(spec.get("min_seconds", 1.0))
        self.as_of = pd.Timestamp(spec["as_of"])
        self._cache: dict[str, Any] = {}
        self._config: dict[str, Any] | None = None

    def _parquet(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = pd.read_parquet(self.prepared_dir / f"{name}.parquet")
        return self._cache[name]

    def forget(self) -> None:
        """Drop the tables read so far, so that the next read gives fresh objects."""
        self._cache.clear()

    def orders(self) -> pd.DataFrame:
        return self._parquet("orders")

    def customers(self) -> pd.DataFrame | None:
        path = self.prepared_dir / "customers.parquet"
        return self._parquet("customers") if path.is_file() else None

    def snapshot(self, *, with_clv: bool = False) -> pd.DataFrame:
        return self._parquet("snapshot_clv" if with_clv else "snapshot")

    def fit_summary(self, period_days: int) -> pd.DataFrame:
        return self._parquet(f"fit_summary_{period_days}")

    def config(self) -> dict[str, Any]:
        from segmentation.config import load_config

        if self._config is None:
            self._config = load_config()
        return self._config

    @property
    def calibration_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.spec["calibration_end"])


def prepare_workspace(workspace: Workspace) -> dict[str, Any]:
    """Ingest once and write the tables the stages read: canonical orders and customers, the
    snapshot (with and without the CLV forecast's columns) and the CLV fits' summaries."""
    from segmentation.clv import default_backtest_dates
    from segmentation.errors import DataUnavailableError
    from segmentation.features import customer_snapshot, repeat_purchase_summary
    from segmentation.ingest import ingest
    from segmentation.schemes.registry import registry

    started = time.perf_counter()
    folder = workspace.prepared_dir
    folder.mkdir(parents=True, exist_ok=True)
    result = ingest([workspace.export_dir / "parquet"])
    orders, customers = result.orders, result.customers
    orders.to_parquet(folder / "orders.parquet", index=False)
    if customers is not None:
        customers.to_parquet(folder / "customers.parquet", index=False)
    snapshot = customer_snapshot(orders, customers, as_of=workspace.as_of)
    snapshot.to_parquet(folder / "snapshot.parquet")
    with_clv = snapshot
    try:
        forecast = registry()["clv_tier"](snapshot, config=workspace.config()).details[
            "customer_clv"
        ]
        with_clv = snapshot.assign(
            clv=forecast["clv"].reindex(snapshot.index),
            p_alive=forecast["p_alive"].reindex(snapshot.index),
        )
    except DataUnavailableError:
        pass
    with_clv.to_parquet(folder / "snapshot_clv.parquet")
    holdout_days = int(workspace.config()["clv"].get("backtest", {}).get("holdout_days", 273))
    calibration_end, _ = default_backtest_dates(
        orders, holdout_days=holdout_days, holdout_end=workspace.as_of
    )
    for period_days in (1, 7):
        summary = repeat_purchase_summary(orders, as_of=calibration_end, period_days=period_days)
        summary.to_parquet(folder / f"fit_summary_{period_days}.parquet")
    return {
        "calibration_end": f"{calibration_end:%Y-%m-%d}",
        "rows_kept": len(orders),
        "customers": len(snapshot),
        "buyers": int((~snapshot["is_potential"]).sum()),
        "seconds": time.perf_counter() - started,
    }


@dataclass(frozen=True)
class Stage:
    """One timed step.

    Attributes
    ----------
    name : str
        Row name in the results.
    group : str
        ``ingest``, ``peers``, ``snapshot``, ``schemes``, ``clv``, ``compare``, ``report``
        or ``engine``.
    title : str
        What is timed, one line.
    load : callable
        ``load(workspace) -> dict``: reads the inputs, untimed.
    run : callable
        ``run(**inputs) -> dict or None``: the timed work; a dict is kept as ``info``.
    baseline : bool
        A reference the kit is compared with (plain pandas, plain lifetimes, or the kit's
        snapshot on plain-text ids, which the report never gives it), not a stage of the
        report; no scaling target applies to it.
    repeat : bool
        Whether a quick run may be repeated to take the fastest.
    full_only_above : int or None
        Above this many customers the stage runs only with ``full=True``.
    spawns_processes : bool
        The stage starts processes of its own (the report's notebook kernels, Spark's JVM):
        its peak memory is sampled over the whole process tree.
    needs_prepared : bool
        The stage reads the prepared tables (ingest's output, the snapshot). A run whose
        stages all read the export's Parquet files alone skips the preparation and the CSV
        files, so that it reaches sizes the pandas path cannot prepare.
    """

    name: str
    group: str
    title: str
    load: Callable[[Workspace], dict[str, Any]] = field(repr=False)
    run: Callable[..., dict[str, Any] | None] = field(repr=False)
    baseline: bool = False
    repeat: bool = True
    full_only_above: int | None = None
    spawns_processes: bool = False
    needs_prepared: bool = True


def load_nothing(workspace: Workspace) -> dict[str, Any]:
    """The load of a stage that reads the export's files itself: the workspace alone."""
    return {"workspace": workspace}


def _ingest_stage(folder: str) -> Callable[..., dict[str, Any]]:
    def run(workspace: Workspace) -> dict[str, Any]:
        from segmentation.ingest import ingest

        result = ingest([workspace.export_dir / folder])
        return {"rows_kept": len(result.orders)}

    return run


def _read_csv(workspace: Workspace) -> dict[str, Any]:
    frames = [pd.read_csv(path) for path in sorted((workspace.export_dir / "csv").glob("*.csv"))]
    return {"rows": int(sum(len(f) for f in frames))}


def _load_tables(workspace: Workspace) -> dict[str, Any]:
    return {
        "orders": workspace.orders(),
        "customers": workspace.customers(),
        "as_of": workspace.as_of,
    }


def _snapshot(
    orders: pd.DataFrame, customers: pd.DataFrame | None, as_of: pd.Timestamp
) -> dict[str, Any]:
    from segmentation.features import customer_snapshot

    snapshot = customer_snapshot(orders, customers, as_of=as_of)
    return {"customers": len(snapshot), "buyers": int((~snapshot["is_potential"]).sum())}


def _load_orders(workspace: Workspace) -> dict[str, Any]:
    return {"orders": workspace.orders(), "as_of": workspace.as_of}


def _load_orders_for_lifetimes(workspace: Workspace) -> dict[str, Any]:
    from segmentation.clv import import_lifetimes

    import_lifetimes()  # outside the timing, as a session would have it imported already
    return {"orders": workspace.orders(), "as_of": workspace.as_of}


def _with_text_ids(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with their dictionary-encoded columns decoded to plain text, as an export
    read without ingest would have them."""
    from segmentation.schema import ORDERS

    return orders.astype({column: "string" for column in ORDERS.dictionary})


def _load_tables_text(workspace: Workspace) -> dict[str, Any]:
    inputs = _load_tables(workspace)
    customers = inputs["customers"]
    return {
        **inputs,
        "orders": _with_text_ids(inputs["orders"]),
        "customers": None if customers is None else customers.astype({"customer_id": "string"}),
    }


def _load_orders_for_lifetimes_text(workspace: Workspace) -> dict[str, Any]:
    inputs = _load_orders_for_lifetimes(workspace)
    return {**inputs, "orders": _with_text_ids(inputs["orders"])}


def _lifetimes_summary(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    from segmentation.clv import lifetimes_summary

    return {"customers": len(lifetimes_summary(orders, as_of=as_of))}


def _groupby_summary(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    return {"customers": len(pandas_groupby_summary(orders, as_of=as_of))}


def _scheme_stage(name: str) -> tuple[Callable[..., dict[str, Any]], Callable[..., Any]]:
    def load(workspace: Workspace) -> dict[str, Any]:
        from segmentation.schemes.registry import registry

        names = list(registry())
        # As run_schemes does: schemes after clv_tier see its clv and p_alive columns.
        after_clv = "clv_tier" in names and names.index(name) > names.index("clv_tier")
        return {
            "snapshot": workspace.snapshot(with_clv=after_clv),
            "config": workspace.config(),
            "seed": workspace.seed,
        }

    def run(snapshot: pd.DataFrame, config: dict[str, Any], seed: int) -> dict[str, Any]:
        from segmentation.errors import DataUnavailableError
        from segmentation.schemes.registry import registry

        try:
            result = registry()[name](snapshot, config=config, random_state=seed, previous=None)
        except DataUnavailableError as error:
            return {"unavailable": str(error)}
        info: dict[str, Any] = {"segments": int(result.labels.nunique())}
        if "k" in result.details:
            info["k"] = int(result.details["k"])
        return info

    return load, run


def _load_backtest(workspace: Workspace) -> dict[str, Any]:
    from segmentation.clv import import_lifetimes

    import_lifetimes()
    return {"orders": workspace.orders(), "config": workspace.config(), "as_of": workspace.as_of}


def _backtest(orders: pd.DataFrame, config: dict[str, Any], as_of: pd.Timestamp) -> dict[str, Any]:
    from segmentation.clv import backtest_from_config

    backtest = backtest_from_config(orders, config=config, holdout_end=as_of)
    return {
        "chosen": backtest.chosen,
        "period_days": backtest.period_days,
        "n_customers": len(backtest.customers),
    }


def _fit_stage(
    model: str, period_days: int, *, compress: bool
) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
    def load(workspace: Workspace) -> dict[str, Any]:
        from segmentation.clv import import_lifetimes

        import_lifetimes()
        return {"summary": workspace.fit_summary(period_days)}

    def run(summary: pd.DataFrame) -> dict[str, Any]:
        from segmentation.clv import fit_purchase_model

        fit = fit_purchase_model(
            summary,
            model=model,
            period_days=period_days,
            min_repeat_customers=1,
            compress=compress,
        )
        return {"params": fit.params, "n_patterns": fit.n_patterns, "n_customers": fit.n_customers}

    return load, run


def _weighted_baseline_stage(
    model: str, period_days: int
) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
    """lifetimes' own fit given ``weights=`` on the unique rows the kit's fit ran on (the
    kit's fit, untimed, gives the rows and the optimum to compare with)."""

    def load(workspace: Workspace) -> dict[str, Any]:
        from segmentation.clv import fit_purchase_model

        kit = fit_purchase_model(
            workspace.fit_summary(period_days),
            model=model,
            period_days=period_days,
            min_repeat_customers=1,
        )
        return {"kit": kit}

    def run(kit: Any) -> dict[str, Any]:
        fitter = lifetimes_weighted_fit(model, kit.fitter.data)
        # lifetimes' parameters in the units of the kit's (its time unit's per parameter).
        ratio = fitter.params_ / kit.fitter.params_
        return {
            "params": {name: float(value * ratio[name]) for name, value in kit.params.items()},
            "rows": len(kit.fitter.data),
            "log_likelihood_gap": float(
                fitter._negative_log_likelihood_ - kit.fitter._negative_log_likelihood_
            ),
        }

    return load, run


def _load_month(workspace: Workspace) -> dict[str, Any]:
    from segmentation.clv import import_lifetimes

    import_lifetimes()
    return {**_load_tables(workspace), "config": workspace.config(), "seed": workspace.seed}


def _compare(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    config: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    from segmentation.analysis import analyse_month

    analysis = analyse_month(orders, customers, None, as_of=as_of, config=config, random_state=seed)
    return {
        "schemes": len(analysis.scores),
        "best": str(analysis.scores.index[0]) if len(analysis.scores) else "",
        "timings": {k: round(v, 3) for k, v in analysis.timings.items()},
    }


def _load_over_time(workspace: Workspace) -> dict[str, Any]:
    """The tables and this month's and last month's rule schemes, which the month's analysis
    has already computed when the time axis starts (so they are not timed)."""
    from segmentation.features import customer_snapshot
    from segmentation.schemes.registry import run_schemes

    tables = _load_tables(workspace)
    config = workspace.config()
    schemes = list(config["over_time"]["schemes"])
    as_of = workspace.as_of
    previous_as_of = (as_of.to_period("M") - 1).end_time.normalize()
    known = {
        day: run_schemes(
            customer_snapshot(tables["orders"], tables["customers"], as_of=day),
            as_of=day,
            config=config,
            schemes=schemes,
        )
        for day in (previous_as_of, as_of)
    }
    return {**tables, "config": config, "known": known}


def _over_time(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    config: dict[str, Any],
    known: dict[pd.Timestamp, Any],
) -> dict[str, Any]:
    from segmentation.features import cohort_matrix
    from segmentation.schemes.history import segment_history

    section = config["over_time"]
    started = time.perf_counter()
    cohorts = cohort_matrix(orders, as_of=as_of, months=int(section["cohort_months"]))
    cohort_seconds = time.perf_counter() - started
    history = segment_history(
        orders,
        customers,
        as_of=as_of,
        config=config,
        months=int(section["history_months"]),
        schemes=list(section["schemes"]),
        track=[*section["grade_schemes"], "rfm_named"],
        known=known,
    )
    return {
        "cohort_seconds": round(cohort_seconds, 3),
        "first_buyers": int(cohorts.sizes.sum()),
        "month_ends": len(history.month_ends),
        "moved_member_grade": len(history.moves("member_grade")),
    }


def _report(workspace: Workspace) -> dict[str, Any]:
    from segmentation.report import build_report

    reports_dir = workspace.scratch_dir / "reports"
    if reports_dir.exists():
        shutil.rmtree(reports_dir)
    result = build_report(
        input_path=workspace.export_dir / "csv",
        month=f"{workspace.as_of:%Y-%m}",
        lang="zh",
        reports_dir=reports_dir,
        random_state=workspace.seed,
        notebooks_dir=workspace.project_root / "notebooks",
    )
    return {
        "index_html_bytes": result.index_html.stat().st_size,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }


def bench_stages() -> list[Stage]:
    """Every stage, in the order they run, with the baselines beside the stages they match.

    Returns
    -------
    list of Stage
    """
    # Their modules build on this one's Stage: imported here, once this module is loaded.
    from benchmarks._engine_stages import engine_stages
    from benchmarks._peer_stages import peer_stages

    return [
        *_ingest_stages(),
        *peer_stages(),
        *_snapshot_stages(),
        *_scheme_stages(),
        *_clv_stages(),
        *_whole_month_stages(),
        *engine_stages(),
    ]


def _ingest_stages() -> list[Stage]:
    return [
        Stage(
            "ingest_csv",
            "ingest",
            "segmentation.ingest.ingest of the CSV export (orders and customers)",
            load_nothing,
            _ingest_stage("csv"),
        ),
        Stage(
            "ingest_parquet",
            "ingest",
            "segmentation.ingest.ingest of the same export as Parquet",
            load_nothing,
            _ingest_stage("parquet"),
        ),
        Stage(
            "read_csv",
            "ingest",
            "plain pandas.read_csv of the same CSV files (no validation, no dates)",
            load_nothing,
            _read_csv,
            baseline=True,
        ),
    ]


def _snapshot_stages() -> list[Stage]:
    return [
        Stage(
            "snapshot",
            "snapshot",
            "features.customer_snapshot (orders and customers as ingest gives them, ids "
            "dictionary-encoded; as of the last day)",
            _load_tables,
            _snapshot,
        ),
        Stage(
            "lifetimes_summary",
            "snapshot",
            "lifetimes.utils.summary_data_from_transaction_data on the same orders (freq D)",
            _load_orders_for_lifetimes,
            _lifetimes_summary,
            baseline=True,
        ),
        Stage(
            "pandas_groupby_summary",
            "snapshot",
            "the snapshot's purchase columns as plain pandas groupbys "
            "(benchmarks.pandas_groupby_summary)",
            _load_orders,
            _groupby_summary,
            baseline=True,
        ),
        Stage(
            "snapshot_text_ids",
            "snapshot",
            "features.customer_snapshot on the same tables with the ids and category as plain "
            "text, as a table read without ingest has them (the decoding is not timed); a "
            "reference, since the report's snapshots always get ingest's encoded ids",
            _load_tables_text,
            _snapshot,
            baseline=True,
        ),
        Stage(
            "lifetimes_summary_text_ids",
            "snapshot",
            "lifetimes' summary_data_from_transaction_data on those plain-text orders",
            _load_orders_for_lifetimes_text,
            _lifetimes_summary,
            baseline=True,
        ),
    ]


def _scheme_stages() -> list[Stage]:
    from segmentation.schemes.registry import registry

    stages = []
    for name in registry():
        load, run = _scheme_stage(name)
        title = f"the {name} scheme on the snapshot, as run_schemes runs it"
        if name == "clusters":
            title += " (features, choice of k with bootstrap stability, assignment)"
        if name == "clv_tier":
            title += " (MBG/NBD and Gamma-Gamma fits, CLV per customer)"
        stages.append(Stage(f"scheme_{name}", "schemes", title, load, run))
    return stages


def _load_intervals(workspace: Workspace) -> dict[str, Any]:
    from segmentation.schemes.registry import registry

    config = workspace.config()
    tier = registry()["clv_tier"](workspace.snapshot(), config=config)
    return {"forecast": tier.details["forecast"], "labels": tier.labels, "config": config}


def _intervals(forecast: Any, labels: pd.Series, config: dict[str, Any]) -> dict[str, Any]:
    from segmentation.clv import FitLimits, IntervalSettings, forecast_intervals

    result = forecast_intervals(
        forecast,
        segments=labels,
        scheme="clv_tier",
        settings=IntervalSettings.from_config(config),
        fit_limits=FitLimits.from_config(config),
    )
    return {"resamples": result.resamples, "sampled": result.sampled, "failed": result.failed}


def _load_holdout(workspace: Workspace) -> dict[str, Any]:
    from segmentation.clv import backtest_from_config

    config = workspace.config()
    backtest = backtest_from_config(workspace.orders(), config=config, holdout_end=workspace.as_of)
    return {"backtest": backtest, "config": config}


def _holdout(backtest: Any, config: dict[str, Any]) -> dict[str, Any]:
    from segmentation.clv import FitLimits, IntervalSettings, holdout_check

    check = holdout_check(
        backtest.fits[backtest.chosen],
        backtest.customers,
        holdout_days=backtest.holdout_days,
        settings=IntervalSettings.from_config(config),
        fit_limits=FitLimits.from_config(config),
    )
    return {"model": check.model, "covered": bool(check.widest["covered"])}


def _clv_stages() -> list[Stage]:
    stages = [
        Stage(
            "clv_backtest",
            "clv",
            "clv.backtest_from_config: BG/NBD, Pareto/NBD, MBG/NBD fitted and scored (weeks)",
            _load_backtest,
            _backtest,
        ),
        Stage(
            "clv_intervals",
            "clv",
            "clv.forecast_intervals: bootstrap of the clv_tier forecast's purchase model and "
            "Gamma-Gamma, customer, segment and shop intervals (clv.intervals)",
            _load_intervals,
            _intervals,
        ),
        Stage(
            "clv_holdout",
            "clv",
            "clv.holdout_check: bootstrap of the backtest's chosen model and simulated "
            "holdouts, the holdout total against its interval",
            _load_holdout,
            _holdout,
        ),
    ]
    for model, title in (("bgnbd", "BG/NBD"), ("pareto", "Pareto/NBD")):
        for period_days, unit in ((1, "days"), (7, "weeks")):
            for compress in (True, False):
                load, run = _fit_stage(model, period_days, compress=compress)
                suffix = "" if compress else "_uncompressed"
                how = "unique rows with weights" if compress else "one row per customer"
                stages.append(
                    Stage(
                        f"{model}_fit_{unit}{suffix}",
                        "clv",
                        f"{title} fit counting purchase {unit}, lifetimes on {how}",
                        load,
                        run,
                        baseline=not compress,
                        full_only_above=(
                            UNCOMPRESSED_PARETO_LIMIT
                            if model == "pareto" and not compress
                            else None
                        ),
                    )
                )
            load, run = _weighted_baseline_stage(model, period_days)
            stages.append(
                Stage(
                    f"{model}_fit_{unit}_lifetimes_weights",
                    "clv",
                    f"{title} fit counting purchase {unit}, lifetimes' own fit given weights= on "
                    "the kit's unique rows"
                    + (" (tol 1e-8, a start of ones)" if model == "pareto" else ""),
                    load,
                    run,
                    baseline=True,
                    full_only_above=UNCOMPRESSED_PARETO_LIMIT if model == "pareto" else None,
                )
            )
    return stages


def _whole_month_stages() -> list[Stage]:
    return [
        Stage(
            "compare",
            "compare",
            "compare.analyse_month: three snapshots, every scheme three times, backtest, scores",
            _load_month,
            _compare,
        ),
        Stage(
            "over_time",
            "compare",
            "the month's time axis as analyse_month adds it: cohort_matrix (24 months) and "
            "segment_history (rule schemes at 12 month-ends; this and last month's reused)",
            _load_over_time,
            _over_time,
        ),
        Stage(
            "report",
            "report",
            "report.build_report from the CSV export: ingest, analysis, exports, nine notebooks, HTML",
            load_nothing,
            _report,
            repeat=False,
            spawns_processes=True,
        ),
    ]


def select_stages(stages: Sequence[Stage], wanted: Sequence[str] | None) -> list[Stage]:
    """The stages named in ``wanted`` (names or groups), in run order."""
    if not wanted:
        return list(stages)
    names = {s.name for s in stages}
    groups = {s.group for s in stages}
    unknown = [w for w in wanted if w not in names and w not in groups]
    if unknown:
        raise InvalidOptionError(
            f"--stages: unknown stage or group {unknown}; groups are {sorted(groups)}, "
            f"stages are {[s.name for s in stages]}."
        )
    chosen = set(wanted)
    return [s for s in stages if s.name in chosen or s.group in chosen]
