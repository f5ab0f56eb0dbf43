"""No CLV fit runs unbounded: clv.fit_limits stops it, and the model is left out with the reason.

The CDNOW sample's backtest (Fader, Hardie & Lee 2005 dates) chooses Pareto/NBD (holdout MAE
0.755 against MBG/NBD 0.765 and BG/NBD 0.785); a Pareto/NBD fit stopped by the time limit
leaves the choice to MBG/NBD, the next best, and models stopped by the iteration limit are
left out with the reason.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest

from segmentation import clv
from segmentation.clv import _lifetimes
from segmentation.config import load_config
from segmentation.errors import CLVFitError, CLVInputError, DataUnavailableError
from segmentation.features import repeat_purchase_summary

from canonical_frames import cdnow_orders

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"
# With penalizer 0, BFGS needs 27-29 iterations for BG/NBD and MBG/NBD here, L-BFGS-B 22-23
# for Pareto/NBD (purchase days and weeks); each larger penalizer needs fewer.
FEW_ITERATIONS = 20
ANY_TIME = 300.0


@pytest.fixture(scope="module")
def sample_orders() -> pd.DataFrame:
    return cdnow_orders(sample=True)


@pytest.fixture(scope="module")
def sample_summary(sample_orders: pd.DataFrame) -> pd.DataFrame:
    return repeat_purchase_summary(sample_orders, as_of=CALIBRATION_END)


def backtest_with(orders: pd.DataFrame, limits: clv.FitLimits) -> clv.CLVBacktest:
    return clv.clv_backtest(
        orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, fit_limits=limits
    )


def test_the_limits_come_from_the_config() -> None:
    assert clv.default_fit_limits() == clv.FitLimits(
        max_iterations=2_000, max_seconds=60, threads=2
    )
    override = load_config({"clv": {"fit_limits": {"max_seconds": 30, "threads": 1}}})
    assert clv.FitLimits.from_config(override) == clv.FitLimits(2_000, 30, threads=1)


@pytest.mark.parametrize(
    ("iterations", "seconds"),
    [(0, 300), (2.5, 300), (True, 300), (100, 0), (100, -1), (100, float("inf")), (100, "60")],
)
def test_bad_limits_name_the_setting(iterations: object, seconds: object) -> None:
    with pytest.raises(CLVInputError, match=r"^config clv.fit_limits: found max_iterations="):
        clv.FitLimits(max_iterations=iterations, max_seconds=seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_names_the_setting(threads: object) -> None:
    with pytest.raises(CLVInputError, match=rf"threads={threads!r}; give .* threads of at least 1"):
        clv.FitLimits(max_iterations=100, max_seconds=60, threads=threads)  # type: ignore[arg-type]


def test_the_likelihood_workers_cpu_time_counts_against_the_deadline() -> None:
    from segmentation.clv._lifetimes import _FitBudget

    limits = clv.FitLimits(max_iterations=100, max_seconds=60)
    budget = _FitBudget(limits, deadline=time.thread_time() + 1.0)
    objective = budget.bounded(lambda x: x + 1)
    assert objective(1) == 2
    budget.add_worker_seconds(0.5)
    assert objective(2) == 3
    budget.add_worker_seconds(0.6)  # 1.1 s of worker time: past the deadline
    with pytest.raises(TimeoutError, match=r"clv\.fit_limits\.max_seconds"):
        objective(3)


def test_a_tiny_iteration_limit_makes_the_fit_unavailable(sample_summary: pd.DataFrame) -> None:
    limits = clv.FitLimits(max_iterations=3, max_seconds=ANY_TIME)
    with pytest.raises(CLVFitError) as caught:
        clv.fit_purchase_model(sample_summary, model="bgnbd", fit_limits=limits)
    assert isinstance(caught.value, DataUnavailableError)
    # Every penalizer is tried, each stopped by the limit.
    assert [a.message for a in caught.value.attempts] == 5 * [
        "ConvergenceError: stopped after 3 iterations (clv.fit_limits.max_iterations)"
    ]
    assert str(caught.value).startswith(
        "BG/NBD did not converge on 2,357 customers with any penalizer (0, 0.0001, 0.001, "
        "0.01, 0.1); last: ConvergenceError: stopped after 3 iterations "
        "(clv.fit_limits.max_iterations)."
    )
    with pytest.raises(CLVFitError, match=r"clv\.fit_limits\.max_iterations") as spend:
        clv.fit_spend_model(sample_summary, fit_limits=limits)
    assert spend.value.model == "gamma_gamma"


@pytest.mark.parametrize("model", ["bgnbd", "pareto", "mbgnbd"])
def test_no_time_stops_the_fit_at_once(sample_summary: pd.DataFrame, model: str) -> None:
    limits = clv.FitLimits(max_iterations=20_000, max_seconds=1e-9)
    with pytest.raises(CLVFitError) as caught:
        clv.fit_purchase_model(sample_summary, model=model, fit_limits=limits)
    title = clv.MODEL_TITLES[model]
    assert str(caught.value) == (
        f"{title}: fit stopped after 1e-09 s of CPU time (clv.fit_limits.max_seconds), with "
        "penalizer 0; "
        "CLV is unavailable with this model: try another model (bgnbd, pareto, mbgnbd) or a "
        "longer order history."
    )
    # The deadline covers the whole fit: no further penalizer is tried.
    assert [(a.penalizer, a.converged) for a in caught.value.attempts] == [(0.0, False)]
    assert caught.value.model == model


def test_no_time_stops_the_spend_fit(sample_summary: pd.DataFrame) -> None:
    limits = clv.FitLimits(max_iterations=20_000, max_seconds=1e-9)
    with pytest.raises(
        CLVFitError, match=r"^Gamma-Gamma: fit stopped after 1e-09 s of CPU time \(clv"
    ):
        clv.fit_spend_model(sample_summary, fit_limits=limits)


def test_generous_limits_change_nothing(sample_summary: pd.DataFrame) -> None:
    # The published Pareto/NBD fit needs 22 L-BFGS-B iterations and a tenth of a second.
    default = clv.fit_purchase_model(sample_summary, model="pareto")
    tight = clv.fit_purchase_model(
        sample_summary, model="pareto", fit_limits=clv.FitLimits(1_000, 60)
    )
    assert default.params == tight.params
    assert default.params["r"] == pytest.approx(0.5533, abs=1e-4)


def test_the_backtest_leaves_out_the_models_that_hit_the_iteration_limit(
    sample_orders: pd.DataFrame,
) -> None:
    unlimited = backtest_with(sample_orders, clv.default_fit_limits())
    assert unlimited.chosen == "pareto" and not unlimited.failures
    limited = backtest_with(sample_orders, clv.FitLimits(FEW_ITERATIONS, ANY_TIME))
    # BG/NBD and MBG/NBD stop at 20 iterations with every penalizer: left out, with the reason.
    assert list(limited.fits) == ["pareto"]
    for model, title in (("bgnbd", "BG/NBD"), ("mbgnbd", "MBG/NBD")):
        assert limited.failures[model].startswith(
            f"{title} did not converge on 2,357 customers with any penalizer (0, 0.0001, "
            "0.001, 0.01, 0.1); last: ConvergenceError: stopped after 20 iterations "
            "(clv.fit_limits.max_iterations)."
        )
    # Pareto/NBD stops too with penalizers 0 and 1e-4; 1e-3 converges within the limit, and
    # the fit says which penalizer it took.
    fit = limited.fits["pareto"]
    assert [(a.penalizer, a.converged) for a in fit.attempts] == [
        (0.0, False),
        (1e-4, False),
        (1e-3, True),
    ]
    assert fit.penalizer == 1e-3
    assert limited.chosen == "pareto"
    assert limited.reason.endswith("not fitted or left out: BG/NBD, MBG/NBD")
    # The CLV schemes take the backtest's choice.
    config = load_config({"clv": {"model": "auto"}})
    assert clv.scheme_model(config, limited) == ("pareto", "Pareto/NBD: chosen by the backtest")
    assert limited.to_dict()["failures"]["bgnbd"] == limited.failures["bgnbd"]


def test_the_backtest_falls_to_the_next_model_when_pareto_runs_out_of_time(
    sample_orders: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    likelihood = _lifetimes._ParetoObjective.__call__

    def slow(*args: Any) -> Any:  # a Pareto/NBD fit that would take minutes of CPU
        busy_until = time.thread_time() + 0.25
        while time.thread_time() < busy_until:
            pass
        return likelihood(*args)

    monkeypatch.setattr(_lifetimes._ParetoObjective, "__call__", slow)
    started = time.perf_counter()
    limited = backtest_with(sample_orders, clv.FitLimits(20_000, 2.0))
    assert time.perf_counter() - started < 60  # not the ~500 evaluations x 0.25 s
    assert limited.failures["pareto"].startswith(
        "Pareto/NBD: fit stopped after 2 s of CPU time (clv.fit_limits.max_seconds), with "
        "penalizer 0;"
    )
    assert limited.chosen == "mbgnbd"
    assert sorted(limited.fits) == ["bgnbd", "mbgnbd"]


def test_every_model_out_of_time_makes_the_backtest_unavailable(
    sample_orders: pd.DataFrame,
) -> None:
    with pytest.raises(CLVFitError, match=r"^no purchase model could be fitted: BG/NBD: fit") as e:
        backtest_with(sample_orders, clv.FitLimits(20_000, 1e-9))
    assert str(e.value).count("(clv.fit_limits.max_seconds)") == 3


def test_the_config_limits_reach_the_backtest_and_the_forecast(
    sample_orders: pd.DataFrame, sample_summary: pd.DataFrame
) -> None:
    config = load_config(
        {"clv": {"fit_limits": {"max_iterations": FEW_ITERATIONS}, "backtest": {"period_days": 1}}}
    )
    backtest = clv.backtest_from_config(
        sample_orders, config=config, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END
    )
    assert backtest.chosen == "pareto" and sorted(backtest.failures) == ["bgnbd", "mbgnbd"]
    pinned = load_config({"clv": {"model": "pareto", "fit_limits": {"max_seconds": 1e-9}}})
    snapshot = sample_summary.assign(is_potential=False)
    with pytest.raises(CLVFitError, match=r"^Pareto/NBD: fit stopped after 1e-09 s of CPU time"):
        clv.forecast_from_config(snapshot, config=pinned)


@pytest.mark.filterwarnings("ignore:rfm. F has too many tied values:UserWarning")
def test_the_month_analysis_goes_on_when_every_fit_runs_out_of_time() -> None:
    """The report's analysis with no time for any fit: CLV is unavailable with the setting
    named, every other scheme is computed and compared."""
    from segmentation.analysis import analyse_month

    from canonical_frames import demo_frames

    frames = demo_frames()
    config = load_config({"clv": {"fit_limits": {"max_seconds": 1e-9}}})
    analysis = analyse_month(
        frames.orders, frames.customers, frames.interactions, as_of="2026-10-31", config=config
    )
    assert analysis.clv_backtest is None
    assert analysis.clv_unavailable.startswith("no purchase model could be fitted: BG/NBD: fit")
    assert analysis.clv_unavailable.count("(clv.fit_limits.max_seconds)") == 3
    for run in (analysis.current, analysis.previous, analysis.calibration):
        assert {"clv_tier", "churn_risk"} <= set(run.unavailable)
        for scheme in ("clv_tier", "churn_risk"):
            assert "clv.fit_limits.max_seconds" in run.unavailable[scheme]
        assert {"rfm_named", "value_tier", "lifecycle", "clusters"} <= set(run.segmentations)
    assert analysis.verdict is not None
    assert analysis.scores.shape[0] > 0
