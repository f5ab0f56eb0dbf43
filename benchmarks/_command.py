"""The command line of ``python -m benchmarks``: the sizes, stages and seed to run, and where to
write results.md, results.json and scaling.png."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks._ratios import ratio_text
from benchmarks._results import write_results
from benchmarks._run import parse_sizes, run_bench
from segmentation.errors import SegmentationInputError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``python -m benchmarks``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Generate synthetic exports (BG/NBD purchases, Gamma-Gamma spend) at each size, run "
            "every stage in its own process (time and peak memory), compare with lifetimes and "
            "plain pandas, and write DIR/results.md, results.json and scaling.png."
        ),
    )
    parser.add_argument(
        "--customers",
        default="10000,100000,1000000",
        help="comma-separated sizes (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks"), help="results folder (default benchmarks/)"
    )
    parser.add_argument(
        "--stages",
        help="comma-separated stages or groups (ingest, peers, snapshot, schemes, clv, "
        "compare, report, engine); default all",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and models")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also time plain lifetimes' Pareto/NBD above 100,000 customers (minutes)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed per stage (default 3600)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and write their results; 0 on success, 2 for a user's mistake.

    A mistake (a size below 10, an unknown stage) is printed on one line, with no traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return _bench(args)
    except SegmentationInputError as error:
        print(f"python -m benchmarks: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


def _bench(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.customers)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
    run = run_bench(
        sizes,
        stages=stages,
        seed=args.seed,
        full=args.full,
        timeout=args.timeout,
        progress=lambda line: print(line, flush=True),
        command=(
            f"python -m benchmarks --customers {','.join(str(n) for n in sizes)} "
            f"--seed {args.seed}"
            + (f" --stages {','.join(stages)}" if stages else "")
            + (" --full" if args.full else "")
        ),
    )
    paths = write_results(run, args.out)
    for _, row in run.ratios.iterrows():
        print(f"{row['title']} at {row['n_customers']:,}: {ratio_text(row['ratio_value'])}")
    for _, row in run.targets.iterrows():
        met = {True: "met", False: "MISSED"}.get(row["met"], "not judged")
        print(f"target {met}: {row['target']}: {row['measured']}")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
