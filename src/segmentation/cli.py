"""The ``segmentation`` command line (also ``python -m segmentation``).

Each subcommand is a thin wrapper over a library function. A user's mistake (a missing file,
a bad column, an impossible date) is a :class:`~segmentation.errors.SegmentationInputError`:
it is printed on one line and the exit status is 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from segmentation import __version__
from segmentation.errors import SegmentationInputError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


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
    report.set_defaults(handler=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a user's mistake.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SegmentationInputError as error:
        message = " ".join(str(error).split())
        print(f"segmentation {args.command}: error: {message}", file=sys.stderr)
        return 2


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from segmentation.datasets import DEMO_LABEL, write_demo_export

    paths = write_demo_export(
        args.out, seed=args.seed, n_customers=args.customers, months=args.months
    )
    print(f"{DEMO_LABEL['en']}: wrote {len(paths)} files to {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from segmentation.report import build_report

    result = build_report(
        input_path=args.input,
        dataset=args.dataset,
        month=args.month,
        lang=args.lang,
        mapping=args.mapping,
        reports_dir=args.out,
        random_state=args.seed,
        progress=True,
    )
    print(result.summary_line())
    return 0
