"""The ``segmentation`` command line (also ``python -m segmentation``).

Each subcommand is a thin wrapper over a library function. A user's mistake (a missing file,
a bad column, an impossible date) is a :class:`~segmentation.errors.SegmentationInputError`:
it is printed on one line and the exit status is 2, with no traceback. So is an output folder
that cannot be written (a full disk, no permission) and a report month another run holds.

SIGTERM, SIGHUP and Ctrl-C stop a command cleanly: kernels are shut down and half-written
outputs removed, one line says so, and the exit status is 128 plus the signal's number
(143 for SIGTERM, 130 for Ctrl-C), as a shell reports a process the signal ended.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from segmentation import __version__
from segmentation.errors import InvalidOptionError, RunInterrupted, SegmentationInputError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]
_Commands = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="segmentation",
        description=(
            "Customer segmentation research kit: ingest order exports, segment customers "
            "(RFM, tiers, lifecycle, clustering, CLV) and build monthly HTML reports."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_demo_data_command(commands)
    _add_ingest_command(commands)
    _add_report_command(commands)
    _add_clv_command(commands)
    _add_segment_command(commands)
    _add_holdout_command(commands)
    _add_engine_segments_command(commands)
    return parser


def _add_demo_data_command(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo-data",
        help="write the generated demo export (orders, customers, interactions)",
        description="Write the deterministic, generated demo export of a private-domain shop.",
    )
    demo.add_argument("--out", required=True, type=Path, help="folder to write")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--customers", type=int, default=5000, help="contacts to generate (default 5000)"
    )
    demo.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    demo.set_defaults(handler=_cmd_demo_data)


def _add_ingest_command(commands: _Commands) -> None:
    ingest = commands.add_parser(
        "ingest",
        help="read exports into canonical tables, with quarantine and quality report",
        description=(
            "Read order, customer and interaction exports (CSV in UTF-8/BOM/GBK, .csv.gz, "
            "XLSX, Parquet, CDNOW text; files or folders) into DIR/orders.parquet (plus "
            "customers.parquet and interactions.parquet when given), DIR/quarantine.csv and "
            "DIR/quality.json. Phone numbers, names and WeChat ids are pseudonymised."
        ),
    )
    ingest.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders")
    ingest.add_argument("--mapping", type=Path, help="YAML column mapping (overrides presets)")
    ingest.add_argument(
        "--as-of", help="YYYY-MM-DD: quarantine rows dated after this day (default: no check)"
    )
    ingest.add_argument(
        "--earliest",
        default="1990-01-01",
        help="quarantine rows dated before this (default 1990-01-01; 'none' to keep all)",
    )
    ingest.add_argument("--out", required=True, type=Path, help="folder to write")
    ingest.add_argument(
        "--config", type=Path, help="YAML override, e.g. ingest: {shop_time_zone: Asia/Tokyo}"
    )
    ingest.set_defaults(handler=_cmd_ingest)


def _add_report_command(commands: _Commands) -> None:
    report = commands.add_parser(
        "report",
        help="build reports/<YYYY-MM>/index.html from an export or a built-in dataset",
        description="Run the report notebooks with papermill and join them into one HTML file.",
    )
    source = report.add_mutually_exclusive_group()
    source.add_argument("--input", type=Path, help="an export file or folder (default: demo)")
    source.add_argument(
        "--dataset",
        choices=["demo", "cdnow"],
        default="demo",
        help="a built-in dataset when --input is not given (default demo)",
    )
    report.add_argument("--month", help="YYYY-MM; default: the last complete month in the data")
    report.add_argument("--lang", choices=["zh", "en"], default="zh", help="label language")
    report.add_argument("--mapping", type=Path, help="YAML column mapping for --input")
    report.add_argument(
        "--out", type=Path, default=Path("reports"), help="reports folder (default reports/)"
    )
    report.add_argument("--seed", type=int, default=0, help="random_state for every model")
    report.add_argument(
        "--config", type=Path, help="YAML overriding thresholds, names, actions, the horizon"
    )
    report.add_argument(
        "--horizon-days",
        type=int,
        help="days held out for the backtest (default: config report.horizon_days, 90)",
    )
    report.add_argument(
        "--engine",
        choices=["pandas", "duckdb", "spark"],
        help="where the customer snapshots run (default: config engine.report_engine, pandas)",
    )
    _add_ids_option(report)
    report.set_defaults(handler=_cmd_report)


def _add_clv_command(commands: _Commands) -> None:
    clv = commands.add_parser(
        "clv",
        help="backtest the CLV purchase models (BG/NBD, Pareto/NBD, MBG/NBD) on an export",
        description=(
            "Fit the purchase models on a calibration period and score them on the holdout "
            "after it; print the parameters, log-likelihoods and holdout metrics."
        ),
    )
    clv.add_argument("input", nargs="+", type=Path, metavar="INPUT", help="export files/folders")
    clv.add_argument("--calibration-end", help="YYYY-MM-DD; default: holdout end - 39 weeks")
    clv.add_argument("--holdout-end", help="YYYY-MM-DD; default: the last order day")
    clv.add_argument(
        "--model",
        choices=["auto", "bgnbd", "pareto", "mbgnbd"],
        default="auto",
        help="auto (default) fits all three and picks the smallest holdout MAE",
    )
    clv.add_argument(
        "--period-days",
        type=int,
        help="count purchases per 1 day (the papers) or 7 days (fast at a million "
        "customers); default: config clv.backtest.period_days (7)",
    )
    clv.add_argument("--mapping", type=Path, help="YAML column mapping for INPUT")
    clv.add_argument("--config", type=Path, help="YAML overriding the clv section's settings")
    clv.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clv.set_defaults(handler=_cmd_clv)


def _add_segment_command(commands: _Commands) -> None:
    segment = commands.add_parser(
        "segment",
        help="write segments.csv, segments.xlsx and wecom_tags.csv for a CRM import",
        description=(
            "Segment every customer as of a date with every scheme the data allows and write "
            "the CRM export to DIR: segments.csv (UTF-8 with BOM), segments.xlsx (ids as text), "
            "wecom_tags.csv (id, tag group, tag) and segments_README.txt."
        ),
    )
    segment.add_argument(
        "input", nargs="+", type=Path, metavar="INPUT", help="export files/folders"
    )
    segment.add_argument(
        "--as-of", help="YYYY-MM-DD within the order days; default: the last order day"
    )
    segment.add_argument("--out", required=True, type=Path, help="folder for the files")
    segment.add_argument("--lang", choices=["zh", "en"], default="zh", help="label language")
    segment.add_argument("--config", type=Path, help="YAML overriding thresholds, names, actions")
    segment.add_argument("--mapping", type=Path, help="YAML column mapping for INPUT")
    _add_ids_option(segment)
    segment.set_defaults(handler=_cmd_segment)


def _add_holdout_command(commands: _Commands) -> None:
    holdout = commands.add_parser(
        "holdout",
        help="draw next month's control group per segment: contact_list.csv, control_list.csv",
        description=(
            "Segment every customer as of a date (config campaigns.scheme, lifecycle by "
            "default), hold out a seeded random share of each segment as a control group and "
            "write DIR/contact_list.csv (to reach) and DIR/control_list.csv (not to reach), "
            "with the campaign log's columns; fill 触达时间 once sent and put both in next "
            "month's export so the report measures the campaign."
        ),
    )
    holdout.add_argument(
        "input", nargs="+", type=Path, metavar="INPUT", help="export files/folders"
    )
    holdout.add_argument("--campaign", required=True, help="campaign name (活动编号) for every row")
    holdout.add_argument("--out", required=True, type=Path, help="folder for the two lists")
    holdout.add_argument(
        "--as-of", help="YYYY-MM-DD within the order days; default: last order day"
    )
    holdout.add_argument(
        "--segments", help="comma-separated segment keys to contact (e.g. sleeping,loyal); all"
    )
    holdout.add_argument(
        "--share", type=float, help="share of each segment held out; config campaigns.holdout"
    )
    holdout.add_argument("--seed", type=int, help="seed of the draw; config campaigns.holdout")
    holdout.add_argument("--lang", choices=["zh", "en"], default="zh", help="label language")
    holdout.add_argument("--config", type=Path, help="YAML overriding thresholds, names, actions")
    holdout.add_argument("--mapping", type=Path, help="YAML column mapping for INPUT")
    _add_ids_option(holdout)
    holdout.set_defaults(handler=_cmd_holdout)


def _add_engine_segments_command(commands: _Commands) -> None:
    on_engine = commands.add_parser(
        "engine-segments",
        help="segment customers where the orders are (DuckDB, Spark) and write the table there",
        description=(
            "Segment every customer with every rule scheme and the behavioural clusters on an "
            "engine, from orders already there (a table such as shop.orders, or a Parquet file "
            "or folder), and write the segment table (customer_id and one segment key per "
            "scheme) back to the engine as a table or Parquet. The clusters are fitted on a "
            "seeded sample of buyers (config clustering.sample_size) and every buyer is "
            "assigned on the engine (config engine.segment_clusters: false leaves them out). "
            "Only aggregates come back: each segment's profile, printed one per line."
        ),
    )
    on_engine.add_argument(
        "--engine", choices=["duckdb", "spark"], default="duckdb", help="default duckdb"
    )
    on_engine.add_argument(
        "--orders",
        required=True,
        help="table name (shop.orders) or .parquet path: customer_id, order_id, order_ts, amount",
    )
    on_engine.add_argument("--customers", help="table or .parquet: customer_id, first_seen_ts")
    on_engine.add_argument("--interactions", help="table or .parquet: customer_id, ts")
    on_engine.add_argument(
        "--to", required=True, help="where the segments go: a table name or a .parquet path"
    )
    on_engine.add_argument("--as-of", help="YYYY-MM-DD; default: the last order day")
    on_engine.add_argument(
        "--database",
        type=Path,
        help="DuckDB database file holding the tables (default: config engine.duckdb_database)",
    )
    on_engine.add_argument(
        "--backtest",
        action="store_true",
        help=(
            "also score and rank the schemes on the engine: computed as of the horizon "
            "(config report.horizon_days) before --as-of, scored on the days after"
        ),
    )
    on_engine.add_argument("--config", type=Path, help="YAML overriding thresholds and engine")
    on_engine.set_defaults(handler=_cmd_engine_segments)


def _add_ids_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ids",
        choices=["original", "pseudonymous"],
        help="customer ids in the CRM export: the shop's own or keyed pseudonyms (default: "
        "config export.ids, original); ids that look like phone numbers, WeChat ids, emails or "
        "identity card numbers are always pseudonymous",
    )


def _apply_runtime(args: argparse.Namespace) -> None:
    """The config's process settings (``runtime``), before the command does any work."""
    from segmentation.config import load_config
    from segmentation.runtime import apply_runtime_settings

    apply_runtime_settings(load_config(getattr(args, "config", None)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a user's mistake, 128 plus the signal's number
        when a signal stopped the command.
    """
    from segmentation.interrupts import interrupting_signal, signals_raise

    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        with signals_raise():
            _apply_runtime(args)
            return handler(args)
    except (RunInterrupted, KeyboardInterrupt) as stop:
        return _stopped(args, stop)
    except Exception as error:
        # First the stop: a library may turn the one raised inside it into its own error.
        if interrupting_signal(error) is not None:
            return _stopped(args, error)
        if isinstance(error, SegmentationInputError):
            return _refuse(args.command, str(error))
        out = getattr(args, "out", None)
        translated = _output_error(error, out) if isinstance(error, OSError) else None
        if translated is None:
            raise
        return _refuse(args.command, str(translated))


def _stopped(args: argparse.Namespace, stop: BaseException) -> int:
    """Say on one line that a signal stopped the command; its exit status."""
    import signal

    from segmentation.interrupts import interrupting_signal, quiet_abandoned_event_loops

    quiet_abandoned_event_loops()
    signum = interrupting_signal(stop) or signal.SIGINT
    where = f"in {args.out} " if getattr(args, "out", None) is not None else ""
    print(
        f"segmentation {args.command}: stopped by {signal.Signals(signum).name}; nothing "
        f"{where}is half-written (each output is the last complete one); run again to "
        "finish.",
        file=sys.stderr,
    )
    return 128 + int(signum)


def _refuse(command: str, message: str) -> int:
    """Print ``message`` on one line; the exit status of a user's mistake."""
    print(f"segmentation {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _output_error(error: OSError, out: Path | None) -> SegmentationInputError | None:
    """What ``error`` means for the command's output folder, if it is about writing there."""
    from segmentation.outputs import output_folder_error

    return output_folder_error(error, Path(out)) if out is not None else None


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from segmentation.datasets import DEMO_LABEL, write_demo_export

    paths = write_demo_export(
        args.out, seed=args.seed, n_customers=args.customers, months=args.months
    )
    print(f"{DEMO_LABEL['en']}: wrote {len(paths)} files to {args.out}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from segmentation.config import load_config
    from segmentation.ingest import ingest, write_ingest

    earliest = None if args.earliest.strip().lower() in {"", "none"} else args.earliest
    result = ingest(
        args.inputs,
        mapping=args.mapping,
        as_of=args.as_of,
        earliest=earliest,
        time_zone=load_config(args.config)["ingest"]["shop_time_zone"],
    )
    written = write_ingest(result, args.out)
    print(result.summary_line())
    print(f"wrote {', '.join(path.name for path in written.values())} to {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    began = time.perf_counter()  # the total counts the imports too: all the user waits for
    from segmentation.report import build_report

    result = build_report(
        input_path=args.input,
        dataset=args.dataset,
        month=args.month,
        lang=args.lang,
        mapping=args.mapping,
        reports_dir=args.out,
        random_state=args.seed,
        config=args.config,
        horizon_days=args.horizon_days,
        ids=args.ids,
        progress=True,
        engine=args.engine,
    )
    print(result.summary_line(seconds=time.perf_counter() - began))
    return 0


def _cmd_clv(args: argparse.Namespace) -> int:
    import json

    from segmentation.clv import backtest_from_config
    from segmentation.config import load_config
    from segmentation.ingest import ingest

    settings = load_config(args.config)
    orders = ingest(
        args.input, mapping=args.mapping, time_zone=settings["ingest"]["shop_time_zone"]
    ).orders
    backtest = backtest_from_config(
        orders,
        config=settings,
        calibration_end=args.calibration_end,
        holdout_end=args.holdout_end,
        model=args.model,
        period_days=args.period_days,
    )
    if args.json:
        print(json.dumps(backtest.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(backtest.reason)
        print(backtest.metrics.T.to_string(float_format=lambda v: f"{v:,.4g}"))
    return 0


def _cmd_holdout(args: argparse.Namespace) -> int:
    from segmentation.campaigns import plan_holdout

    plan = plan_holdout(
        args.input,
        out_dir=args.out,
        campaign_id=args.campaign,
        as_of=args.as_of,
        segments=[s.strip() for s in args.segments.split(",") if s.strip()]
        if args.segments
        else None,
        control_share=args.share,
        random_state=args.seed,
        config=args.config,
        mapping=args.mapping,
        ids=args.ids,
        lang=args.lang,
    )
    print(plan.summary_line())
    return 0


def _cmd_segment(args: argparse.Namespace) -> int:
    from segmentation.export import export_segments

    result = export_segments(
        args.input,
        out_dir=args.out,
        as_of=args.as_of,
        lang=args.lang,
        config=args.config,
        mapping=args.mapping,
        ids=args.ids,
    )
    print(result.summary_line())
    return 0


def _print_engine_profiles(result: Any) -> None:
    """The profiles of :func:`segmentation.engine.segment_on_engine`, tab-separated with a
    header, then the clusters chosen (or why there are none); no customer id."""
    profiles = result.profiles
    print("\t".join(profiles.columns))
    for row in profiles.itertuples(index=False):
        scheme, segment, customers, *rest = row
        print("\t".join([scheme, segment, str(customers), *(f"{v:.4f}" for v in rest)]))
    if result.clusters is not None:
        fitted = result.clusters
        names = ", ".join(
            f"{key} {fitted.segments.loc[key, 'name_en']}"
            for key in fitted.details["customers"].index
        )
        print(
            f"clusters: k={fitted.k} ({fitted.details['algorithm']}) fitted on a seeded sample "
            f"of {fitted.sample_size:,} buyers: {names}"
        )
    for scheme, reason in result.unavailable.items():
        print(f"{scheme}: unavailable: {reason}")


def _print_engine_backtest(backtest: Any) -> None:
    """The engine's backtest: one line of what was scored, then the ranked schemes."""
    customers = backtest.totals[0]
    print(
        f"backtest: schemes as of {backtest.calibration_end:%Y-%m-%d}, scored on the "
        f"{backtest.horizon_days} days after ({customers:,} customers)"
    )
    print("rank\tscheme\teta_squared\ttop20_revenue_share\tauc_purchase\tcollapsed")
    for scheme, row in backtest.scores.iterrows():
        rank = "-" if math.isnan(row["rank"]) else str(int(row["rank"]))
        scores = (f"{row[c]:.4f}" for c in ("eta_squared", "top20_revenue_share", "auc_purchase"))
        print("\t".join([rank, str(scheme), *scores, row["collapsed"]]))
    for scheme, reason in backtest.unavailable.items():
        print(f"{scheme}: unavailable in the backtest: {reason}")


def _cmd_engine_segments(args: argparse.Namespace) -> int:
    from segmentation.config import load_config
    from segmentation.engine import connect, segment_on_engine, tables_on_engine

    config = load_config(args.config)
    if args.database is not None:
        if args.engine != "duckdb":
            raise InvalidOptionError("--database: a DuckDB file; only with --engine duckdb.")
        config = {**config, "engine": {**config["engine"], "duckdb_database": str(args.database)}}
    in_memory = args.engine == "duckdb" and config["engine"]["duckdb_database"] == ":memory:"
    if in_memory and not str(args.to).endswith(".parquet"):
        raise InvalidOptionError(
            f"--to {args.to}: a table in DuckDB's in-memory database is gone when the command "
            "ends; give --database FILE, or a .parquet path."
        )
    backend = connect(args.engine, config=config)
    tables = tables_on_engine(
        backend, args.orders, args.customers, args.interactions, config=config
    )
    clusters = None
    if config["engine"]["segment_clusters"]:
        from segmentation.schemes.clusters import clusters_on_engine

        clusters = clusters_on_engine
    result = segment_on_engine(
        tables, to=args.to, as_of=args.as_of, config=config, clusters=clusters
    )
    _print_engine_profiles(result)
    print(result.summary_line())
    if args.backtest:
        from segmentation.engine_backtest import backtest_on_engine

        _print_engine_backtest(
            backtest_on_engine(tables, as_of=result.as_of, config=config, clusters=clusters)
        )
    return 0
