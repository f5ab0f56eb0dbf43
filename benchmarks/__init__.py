"""The benchmarks (``make bench``, ``python -m benchmarks``): synthetic exports of growing size,
every stage timed in its own process, side-by-side ratios, and benchmarks/results.md."""

from benchmarks._baselines import pandas_groupby_summary
from benchmarks._command import build_parser, main
from benchmarks._ratios import RATIOS, Ratio, scaling_exponent, scaling_exponents, speed_ratios
from benchmarks._results import plot_scaling, results_markdown, write_results
from benchmarks._run import DEFAULT_SIZES, BenchRun, machine_info, parse_sizes, run_bench
from benchmarks._stages import UNCOMPRESSED_PARETO_LIMIT, Stage, bench_stages
from benchmarks._synthetic import SyntheticExport, synthetic_export, write_synthetic_export
from benchmarks._targets import check_targets

__all__ = [
    "DEFAULT_SIZES",
    "RATIOS",
    "UNCOMPRESSED_PARETO_LIMIT",
    "BenchRun",
    "Ratio",
    "Stage",
    "SyntheticExport",
    "bench_stages",
    "build_parser",
    "check_targets",
    "machine_info",
    "main",
    "pandas_groupby_summary",
    "parse_sizes",
    "plot_scaling",
    "results_markdown",
    "run_bench",
    "scaling_exponent",
    "scaling_exponents",
    "speed_ratios",
    "synthetic_export",
    "write_results",
    "write_synthetic_export",
]
