"""CLV models: published CDNOW estimates, the backtest, compression, bad data, schemes, CLI.

Published values: Fader, Hardie & Lee (2005) and CLVTools' correctness tests (BG/NBD
r = 0.2425945, alpha = 4.4136019, a = 0.7929199, b = 2.4258881, LL = -9582.429), the
Pareto/NBD estimates of the same papers, and Fader & Hardie's Gamma-Gamma note. Every fit is
lifetimes' own on compressed rows; the tests check it against lifetimes on one row per
customer. The CDNOW files are read from the lifetimes wheel, so nothing here needs ../shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation import clv
from segmentation.cli import main
from segmentation.clv import _backtest, _lifetimes, _purchase, _spend
from segmentation.config import load_config
from segmentation.datasets import load_cdnow, simulate_bgnbd_summary
from segmentation.errors import DataUnavailableError, SchemeUnavailable, SegmentationInputError
from segmentation.features import repeat_purchase_summary
from segmentation.plots.clv import plot_conditional_expectations, plot_tracking
from segmentation.schemes.clv_tiers import CLV_SCHEMES, churn_risk_scheme, clv_tier_scheme

from canonical_frames import cdnow_orders

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


def lifetimes_module():  # type: ignore[no-untyped-def]
    return _lifetimes._import_lifetimes()


@pytest.fixture(scope="module")
def sample_orders() -> pd.DataFrame:
    return cdnow_orders(sample=True)


@pytest.fixture(scope="module")
def sample_summary(sample_orders: pd.DataFrame) -> pd.DataFrame:
    return repeat_purchase_summary(sample_orders, as_of=CALIBRATION_END)


@pytest.fixture(scope="module")
def backtest(sample_orders: pd.DataFrame) -> clv.CLVBacktest:
    return clv.clv_backtest(
        sample_orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, model="auto"
    )


@pytest.fixture(scope="module")
def snapshot(sample_summary: pd.DataFrame) -> pd.DataFrame:
    """A snapshot-shaped frame: the CDNOW buyers plus three potential customers."""
    buyers = sample_summary.assign(
        recency_days=sample_summary["T"] - sample_summary["recency"], is_potential=False
    )
    potential = pd.DataFrame(
        {
            "frequency": 0,
            "recency": np.nan,
            "T": np.nan,
            "monetary_value": 0.0,
            "monetary_total": 0.0,
            "recency_days": np.nan,
            "n_orders": 0,
            "is_potential": True,
        },
        index=pd.Index(["P1", "P2", "P3"], dtype="string", name="customer_id"),
    )
    return pd.concat([buyers, potential])


def weeks(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        summary["frequency"].to_numpy(),
        summary["recency"].to_numpy() / 7,
        summary["T"].to_numpy() / 7,
    )


def relative_difference(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] / b[k] - 1.0) for k in a)


# --- the papers ---------------------------------------------------------------------------------


def test_bgnbd_reproduces_fader_hardie_lee_2005(sample_summary: pd.DataFrame) -> None:
    fit = clv.fit_purchase_model(sample_summary, model="bgnbd")
    # The brief's 5-digit values to 1e-3, and CLVTools' 7-digit values to 1e-5.
    published = {"r": 0.24259, "alpha": 4.4136, "a": 0.79292, "b": 2.4259}
    assert relative_difference(fit.params, published) < 1e-3
    clvtools = {"r": 0.2425945, "alpha": 4.4136019, "a": 0.7929199, "b": 2.4258881}
    assert relative_difference(fit.params, clvtools) < 1e-5
    assert fit.log_likelihood == pytest.approx(-9582.429, abs=1e-3)
    assert (fit.n_customers, fit.n_repeat_customers, fit.n_patterns) == (2357, 946, 1016)
    assert fit.penalizer == 0.0 and len(fit.attempts) == 1


def test_pareto_nbd_reproduces_the_published_estimates(sample_summary: pd.DataFrame) -> None:
    fit = clv.fit_purchase_model(sample_summary, model="pareto")
    published = {"r": 0.55315, "alpha": 10.576, "s": 0.60625, "beta": 11.669}
    assert relative_difference(fit.params, published) < 1e-3
    assert fit.log_likelihood == pytest.approx(-9594.98, abs=5e-3)


def test_gamma_gamma_reproduces_the_published_estimates(sample_summary: pd.DataFrame) -> None:
    fit = clv.fit_spend_model(sample_summary)
    published = {"p": 6.2496, "q": 3.7442, "gamma": 15.444}
    assert relative_difference(fit.params, published) < 1e-3
    assert fit.n_customers == 946
    assert fit.n_nonpositive_spend == 0
    # The independence assumption: Fader & Hardie report a correlation of 0.11 on CDNOW.
    assert fit.frequency_monetary_corr == pytest.approx(0.11389, abs=1e-5)
    assert fit.population_mean == pytest.approx(6.2496 * 15.444 / 2.7442, rel=1e-3)
    # Fitted on the unique (frequency, spend) pairs: the same as lifetimes on every customer.
    repeat = sample_summary.loc[sample_summary["frequency"] > 0]
    assert len(fit.fitter.data) == 830
    assert int(fit.fitter.data["weights"].sum()) == 946
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = (
            lifetimes_module().GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        )
    every = dict(zip(["p", "q", "gamma"], reference.params_, strict=True))
    assert relative_difference(fit.params, every) < 1e-4
    assert fit.log_likelihood == pytest.approx(-4055.918, abs=1e-3)


# --- the backtest ---------------------------------------------------------------------------------


def test_backtest_holdout_totals_on_cdnow(backtest: clv.CLVBacktest) -> None:
    metrics = backtest.metrics
    assert backtest.holdout_days == 273
    assert list(metrics.index) == ["bgnbd", "pareto", "mbgnbd"]
    assert (metrics["holdout_actual"] == 1882).all()
    assert metrics.loc["bgnbd", "holdout_predicted"] == pytest.approx(1653.41, abs=0.01)
    assert metrics.loc["pareto", "holdout_predicted"] == pytest.approx(1665.51, abs=0.01)
    assert metrics.loc["mbgnbd", "holdout_predicted"] == pytest.approx(1576.73, abs=0.01)
    assert int(backtest.customers["holdout_actual"].sum()) == 1882
    assert len(backtest.customers) == 2357


def test_backtest_tracking_reaches_week_78_about_4_percent_low(
    backtest: clv.CLVBacktest,
) -> None:
    tracking = backtest.tracking
    assert len(tracking) == 78
    assert tracking["day"].iloc[0] == pd.Timestamp("1997-01-07")
    assert tracking["day"].iloc[-1] == pd.Timestamp(HOLDOUT_END)
    # 2,457 repeat purchase days in calibration (the sum of frequency) and 1,882 after.
    assert tracking.loc[39, "day"] == pd.Timestamp(CALIBRATION_END)
    assert tracking.loc[39, "actual"] == 2457
    assert tracking["actual"].iloc[-1] == 4339
    metrics = backtest.metrics
    assert metrics.loc["bgnbd", "cumulative_expected"] == pytest.approx(4160.61, abs=0.01)
    assert metrics.loc["bgnbd", "cumulative_error"] == pytest.approx(-0.0411, abs=1e-4)
    assert metrics.loc["pareto", "cumulative_expected"] == pytest.approx(4270.04, abs=0.01)
    assert metrics.loc["mbgnbd", "cumulative_expected"] == pytest.approx(4049.95, abs=0.01)
    # Expected cumulative purchases rise with time and start from 0 before any repeat.
    assert (np.diff(tracking["expected_bgnbd"]) > 0).all()


def test_backtest_per_customer_metrics_and_choice(backtest: clv.CLVBacktest) -> None:
    metrics = backtest.metrics
    assert metrics.loc["bgnbd", "mae"] == pytest.approx(0.78545, abs=1e-5)
    assert metrics.loc["pareto", "mae"] == pytest.approx(0.75452, abs=1e-5)
    assert metrics.loc["mbgnbd", "mae"] == pytest.approx(0.76478, abs=1e-5)
    assert metrics.loc["bgnbd", "rmse"] == pytest.approx(1.60798, abs=1e-5)
    assert metrics.loc["bgnbd", "correlation"] == pytest.approx(0.62565, abs=1e-5)
    # Customers without a repeat purchase in calibration: 334 holdout purchases among 1,411.
    assert (metrics["zero_repeat_customers"] == 1411).all()
    assert metrics.loc["bgnbd", "zero_repeat_actual_mean"] == pytest.approx(334 / 1411)
    assert metrics.loc["bgnbd", "zero_repeat_predicted_mean"] == pytest.approx(0.22509, abs=1e-5)
    assert backtest.chosen == "pareto"
    assert backtest.reason.startswith(
        "Pareto/NBD: holdout MAE 0.755 vs BG/NBD 0.785, MBG/NBD 0.765 (mean absolute error"
    )


def test_backtest_conditional_expectations_by_frequency(backtest: clv.CLVBacktest) -> None:
    table = backtest.by_frequency
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert table.loc["1", "actual"] == pytest.approx(0.697039, abs=1e-6)
    assert table.loc["7+", "predicted_bgnbd"] == pytest.approx(6.15719, abs=1e-5)


def test_backtest_single_model_and_json(sample_orders: pd.DataFrame) -> None:
    single = clv.clv_backtest(
        sample_orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, model="bgnbd"
    )
    assert list(single.fits) == ["bgnbd"]
    assert single.reason.startswith("BG/NBD: the only model fitted; holdout MAE 0.785")
    payload = json.loads(json.dumps(single.to_dict()))
    model = payload["models"]["bgnbd"]
    assert model["params"]["r"] == pytest.approx(0.2425945, rel=1e-5)
    assert model["log_likelihood"] == pytest.approx(-9582.429, abs=1e-3)
    assert model["metrics"]["holdout_actual"] == 1882
    assert model["metrics"]["n_customers"] == 2357
    assert payload["calibration_end"] == CALIBRATION_END
    assert payload["chosen_model"] == "bgnbd"


def test_backtest_rejects_bad_dates(sample_orders: pd.DataFrame) -> None:
    with pytest.raises(clv.CLVInputError, match="must be after calibration_end"):
        clv.clv_backtest(sample_orders, calibration_end=HOLDOUT_END, holdout_end=CALIBRATION_END)
    with pytest.raises(clv.CLVInputError, match="cannot read '1997-13-01' as a date"):
        clv.clv_backtest(sample_orders, calibration_end="1997-13-01", holdout_end=HOLDOUT_END)
    with pytest.raises(clv.CLVInputError, match="unknown CLV model 'bgnb'"):
        clv.clv_backtest(
            sample_orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, model="bgnb"
        )


def test_default_backtest_dates(sample_orders: pd.DataFrame) -> None:
    # 546 days from 1997-01-01 to 1998-06-30: a 273-day (39-week) holdout, as in the papers.
    assert clv.default_backtest_dates(sample_orders) == (
        pd.Timestamp(CALIBRATION_END),
        pd.Timestamp(HOLDOUT_END),
    )
    # A 100-day history is split in half.
    short = sample_orders.loc[sample_orders["order_ts"] < "1997-04-11"]
    assert clv.default_backtest_dates(short) == (
        pd.Timestamp("1997-02-19"),
        pd.Timestamp("1997-04-10"),
    )
    # 396 days up to a given holdout end of 1998-01-31: a 198-day holdout.
    assert clv.default_backtest_dates(sample_orders, holdout_end="1998-01-31")[0] == (
        pd.Timestamp("1997-07-17")
    )


# --- the likelihoods are lifetimes' ----------------------------------------------------------------

# --- weekly purchase periods ------------------------------------------------------------------------


def test_weekly_summary_equals_lifetimes_freq_w(sample_orders: pd.DataFrame) -> None:
    # lifetimes' weeks end on Sunday; ours end on as_of, so they agree when as_of is a Sunday.
    lifetimes = lifetimes_module()
    as_of = "1997-09-28"
    ours = repeat_purchase_summary(sample_orders, as_of=as_of, period_days=7)
    raw = load_cdnow(sample=True)
    transactions = raw.loc[raw["date"] <= as_of, ["customer_id", "date", "dollar_value"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lifetimes.utils.summary_data_from_transaction_data(
            transactions,
            "customer_id",
            "date",
            monetary_value_col="dollar_value",
            observation_period_end=as_of,
            freq="W",
        )
    theirs = theirs.set_axis(theirs.index.astype(str)).reindex(ours.index.astype(str))
    np.testing.assert_array_equal(ours["frequency"], theirs["frequency"])
    np.testing.assert_array_equal(ours["recency"], theirs["recency"] * 7)
    np.testing.assert_array_equal(ours["T"], theirs["T"] * 7)
    np.testing.assert_allclose(ours["monetary_value"], theirs["monetary_value"], atol=1e-9)
    # 2,357 customers with 2,195 repeat purchase weeks, against 2,435 repeat purchase days.
    assert (len(ours), int(ours["frequency"].sum())) == (2357, 2195)
    daily = repeat_purchase_summary(sample_orders, as_of=as_of)
    assert int(daily["frequency"].sum()) == 2435


def test_weekly_backtest_on_cdnow(sample_orders: pd.DataFrame) -> None:
    weekly = clv.clv_backtest(
        sample_orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, period_days=7
    )
    metrics = weekly.metrics
    assert weekly.period_days == 7
    # 1,787 purchase weeks in the 39 holdout weeks (1,882 purchase days), 2,231 in calibration.
    assert (metrics["holdout_actual"] == 1787).all()
    assert weekly.tracking.loc[39, "actual"] == 2231
    assert weekly.tracking["actual"].iloc[-1] == 4018
    assert metrics.loc["bgnbd", "holdout_predicted"] == pytest.approx(1701.99, abs=0.01)
    assert metrics.loc["pareto", "holdout_predicted"] == pytest.approx(1655.12, abs=0.01)
    assert metrics.loc["bgnbd", "cumulative_expected"] == pytest.approx(3944.41, abs=0.01)
    assert metrics.loc["bgnbd", "log_likelihood"] == pytest.approx(-9150.095, abs=1e-3)
    assert weekly.fits["bgnbd"].n_patterns == 644
    assert weekly.chosen == "pareto"
    assert "repeat purchase weeks in the 273-day holdout" in weekly.reason
    assert weekly.to_dict()["period_days"] == 7
    # Periods end on calibration_end, so calibration recency and T are whole weeks.
    assert (weekly.customers["T"] % 7 == 0).all()
    assert (weekly.customers["recency"] % 7 == 0).all()


def test_a_daily_table_is_not_taken_for_weeks(sample_summary: pd.DataFrame) -> None:
    with pytest.raises(clv.CLVInputError, match=r"not a whole number of 7-day periods"):
        clv.fit_purchase_model(sample_summary, period_days=7)
    with pytest.raises(clv.CLVInputError, match="period_days must be a whole number"):
        clv.fit_purchase_model(sample_summary, period_days=0)


# --- compressed fits equal uncompressed ones ------------------------------------------------------


def test_compressed_fits_equal_uncompressed_on_cdnow_master() -> None:
    orders = cdnow_orders(sample=False)
    expected_rows = {1: 8685, 7: 2012}
    for period_days, n_rows in expected_rows.items():
        summary = repeat_purchase_summary(orders, as_of=CALIBRATION_END, period_days=period_days)
        assert len(summary) == 23570
        # Pareto/NBD on one row per customer takes seconds: weeks, the backtest's default, only.
        models = ("bgnbd", "mbgnbd", "pareto") if period_days == 7 else ("bgnbd", "mbgnbd")
        for model in models:
            compressed = clv.fit_purchase_model(summary, model=model, period_days=period_days)
            uncompressed = clv.fit_purchase_model(
                summary, model=model, period_days=period_days, compress=False
            )
            assert (compressed.n_patterns, uncompressed.n_patterns) == (n_rows, 23570)
            assert relative_difference(compressed.params, uncompressed.params) < 1e-4
            assert compressed.log_likelihood == pytest.approx(uncompressed.log_likelihood, rel=1e-9)


def test_compressed_fits_equal_uncompressed_on_simulated_customers() -> None:
    daily = simulate_bgnbd_summary(20_000, seed=1)
    assert int((daily["frequency"] > 0).sum()) == 9886
    weekly = simulate_bgnbd_summary(20_000, seed=1, period_days=7)
    assert int((weekly["frequency"] > 0).sum()) == 9753
    cases = [(daily, 1, "bgnbd"), (daily, 1, "mbgnbd"), (weekly, 7, "bgnbd"), (weekly, 7, "mbgnbd")]
    cases.append((daily.iloc[:5000], 1, "pareto"))  # the slow one on fewer customers
    n_rows = []
    for summary, period_days, model in cases:
        options = {"model": model, "period_days": period_days}
        compressed = clv.fit_purchase_model(summary, **options)
        uncompressed = clv.fit_purchase_model(summary, compress=False, **options)
        assert relative_difference(compressed.params, uncompressed.params) < 1e-4
        n_rows.append(compressed.n_patterns)
    assert n_rows == [9609, 9609, 4249, 4249, 2570]
    # The simulator and the fit agree: the CDNOW parameters come back within 5% from days.
    truth = {"r": 0.2425945, "alpha": 4.4136019, "a": 0.7929199, "b": 2.4258881}
    bgnbd = clv.fit_purchase_model(daily, model="bgnbd")
    assert relative_difference(bgnbd.params, truth) < 0.05


def test_benchmark_compares_compressed_and_uncompressed_lifetimes() -> None:
    result = clv.benchmark_compressed_fit(5_000, model="bgnbd", period_days=7, seed=2)
    assert (result["n_customers"], result["n_patterns"], result["period_days"]) == (5000, 1748, 7)
    assert result["max_relative_param_difference"] < 1e-4
    assert result["compressed_params"].keys() == result["uncompressed_params"].keys()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 6), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_compression_keeps_lifetimes_likelihood(rows: list[tuple[int, int, int, bool]]) -> None:
    f = np.array([x for x, _, _, _ in rows])
    t = np.array([max(a, b) for _, a, b, _ in rows], dtype=float) + 1.0
    r = np.where(f > 0, np.array([min(a, b) for _, a, b, _ in rows], dtype=float), 0.0)
    if rows[0][3]:  # weeks (days / 7) as well as whole days
        r, t = r / 7, t / 7
    patterns = clv.compress_customers(f, r, t)
    np.testing.assert_array_equal(patterns.frequency[patterns.inverse], f)
    np.testing.assert_array_equal(patterns.recency[patterns.inverse], r)
    np.testing.assert_array_equal(patterns.T[patterns.inverse], t)
    assert patterns.weight.sum() == len(f)
    assert len(set(zip(f, r, t, strict=True))) == len(patterns)
    # lifetimes' own likelihoods with the counts as weights equal those over customers.
    lifetimes = lifetimes_module()
    unique = (patterns.frequency, patterns.recency, patterns.T, patterns.weight)
    every = (f, r, t, np.ones(len(f)))
    point = np.array([-0.5, 0.3, -0.2, 0.4])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for fitter in (lifetimes.BetaGeoFitter, lifetimes.ModifiedBetaGeoFitter):
            assert float(fitter._negative_log_likelihood(point, *unique, 0.0)) == pytest.approx(
                float(fitter._negative_log_likelihood(point, *every, 0.0)), rel=1e-12
            )
        pareto = lifetimes.ParetoNBDFitter._conditional_log_likelihood
        by_row = pareto(np.exp(point), *unique[:3])
        assert float(patterns.weight @ by_row) == pytest.approx(
            float(np.sum(pareto(np.exp(point), *every[:3]))), rel=1e-12
        )


# --- robustness -----------------------------------------------------------------------------------


def test_penalized_pareto_fit_does_not_depend_on_compression(
    sample_summary: pd.DataFrame,
) -> None:
    # lifetimes divides its Pareto/NBD objective by the mean weight; the kit rescales the
    # penalizer so that it means the same, per customer, compressed or not, as for BG/NBD.
    compressed = clv.fit_purchase_model(sample_summary, model="pareto", penalizers=[0.01])
    uncompressed = clv.fit_purchase_model(
        sample_summary, model="pareto", penalizers=[0.01], compress=False
    )
    assert relative_difference(compressed.params, uncompressed.params) < 1e-5
    assert compressed.fitter.penalizer_coef == pytest.approx(0.01 * 1016)
    assert compressed.params["r"] == pytest.approx(0.523070, rel=1e-5)
    bgnbd = clv.fit_purchase_model(sample_summary, model="bgnbd", penalizers=[0.01])
    assert bgnbd.fitter.penalizer_coef == 0.01
    assert bgnbd.params["a"] == pytest.approx(0.285643, rel=1e-5)


def test_convergence_failure_tries_every_penalizer_then_raises(
    sample_summary: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifetimes = lifetimes_module()
    tried: list[float] = []

    def never_converges(fitter: object, *args: object, **options: object) -> object:
        tried.append(fitter.penalizer_coef)  # type: ignore[attr-defined]
        raise lifetimes.utils.ConvergenceError("The model did not converge.")

    # The kit's optimisation step: lifetimes' BaseFitter._fit without the Hessian.
    monkeypatch.setattr(_purchase, "_minimize_as_lifetimes", never_converges)
    with pytest.raises(clv.CLVFitError) as caught:
        clv.fit_purchase_model(sample_summary, model="bgnbd")
    error = caught.value
    assert isinstance(error, DataUnavailableError)
    assert tried == [0.0, 1e-4, 1e-3, 1e-2, 0.1]
    assert [a.penalizer for a in error.attempts] == tried
    assert not any(a.converged for a in error.attempts)
    assert str(error) == (
        "BG/NBD did not converge on 2,357 customers with any penalizer (0, 0.0001, 0.001, "
        "0.01, 0.1); last: ConvergenceError: The model did not converge. CLV is unavailable "
        "with this model: try another model (bgnbd, pareto, mbgnbd) or a longer order history."
    )


def test_nan_parameters_are_retried_with_a_larger_penalizer(
    sample_summary: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _lifetimes._minimize_as_lifetimes

    def nan_when_unpenalized(
        fitter: object,
        args: tuple[object, ...],
        n_params: int,
        *,
        budget: object,
        start: object = None,
    ) -> object:
        log_params = original(fitter, args, n_params, budget=budget, start=start)  # type: ignore[arg-type]
        if fitter.penalizer_coef < 1e-3:  # type: ignore[attr-defined]
            log_params[2] = np.nan  # a
        return log_params

    monkeypatch.setattr(_purchase, "_minimize_as_lifetimes", nan_when_unpenalized)
    fit = clv.fit_purchase_model(sample_summary, model="bgnbd")
    assert fit.penalizer == 1e-3
    assert [(a.penalizer, a.converged) for a in fit.attempts] == [
        (0.0, False),
        (1e-4, False),
        (1e-3, True),
    ]
    assert fit.attempts[0].message.startswith("parameters not finite and positive: r = 0.2426")
    assert fit.fitter.penalizer_coef == 1e-3
    assert fit.params["a"] == pytest.approx(0.498452, rel=1e-5)


def test_pareto_stopped_by_maxiter_is_a_convergence_failure(
    sample_summary: pd.DataFrame,
) -> None:
    limits = clv.FitLimits(max_iterations=5, max_seconds=300)
    with pytest.raises(clv.CLVFitError, match=r"^Pareto/NBD did not converge") as caught:
        clv.fit_purchase_model(
            sample_summary, model="pareto", penalizers=[0.0, 0.1], fit_limits=limits
        )
    assert caught.value.model == "pareto"
    assert [a.message for a in caught.value.attempts] == 2 * [
        "ConvergenceError: stopped after 5 iterations (clv.fit_limits.max_iterations)"
    ]


def test_gamma_gamma_failure_names_the_model(
    sample_summary: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifetimes = lifetimes_module()

    def broken(fitter: object, *args: object, **options: object) -> object:
        assert isinstance(fitter, lifetimes.GammaGammaFitter)
        raise FloatingPointError("overflow")

    monkeypatch.setattr(_spend, "_minimize_as_lifetimes", broken)
    with pytest.raises(clv.CLVFitError, match=r"^Gamma-Gamma did not converge on 946") as caught:
        clv.fit_spend_model(sample_summary, penalizers=[0.0])
    assert caught.value.model == "gamma_gamma"
    assert caught.value.attempts[0].message == "FloatingPointError: overflow"


def test_fits_print_nothing_and_keep_the_warning_filters(
    sample_summary: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    # lifetimes' Pareto/NBD prints with verbose=True; its likelihoods reset warning filters.
    clv.fit_purchase_model(sample_summary, model="bgnbd")
    before = list(warnings.filters)
    clv.fit_purchase_model(sample_summary, model="pareto")
    clv.fit_spend_model(sample_summary)
    assert list(warnings.filters) == before
    assert capsys.readouterr().out == ""


def one_day_orders(n_customers: int, purchases_each: int) -> pd.DataFrame:
    """Each customer buys ``purchases_each`` times, a week apart."""
    customer = np.repeat([f"C{k:03d}" for k in range(n_customers)], purchases_each)
    day = np.tile(np.arange(purchases_each) * 7, n_customers) + np.repeat(
        np.arange(n_customers) % 30, purchases_each
    )
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customer, dtype="string"),
            "order_id": pd.Series([f"O{k}" for k in range(len(customer))], dtype="string"),
            "order_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D"),
            "amount": 100.0,
        }
    )


# The scheme sizes below were measured with Pareto/NBD, the schemes' model until MBG/NBD
# became the default; pinning it keeps them meaningful.
PARETO = load_config({"clv": {"model": "pareto"}})


def test_all_one_time_buyers_make_clv_unavailable(snapshot: pd.DataFrame) -> None:
    orders = one_day_orders(200, 1)
    summary = repeat_purchase_summary(orders, as_of="2024-03-31")
    message = "every customer has one purchase day only"
    with pytest.raises(clv.CLVUnavailableError, match=message):
        clv.fit_purchase_model(summary, model="pareto")
    with pytest.raises(clv.CLVUnavailableError, match=message):
        clv.customer_clv(summary)
    with pytest.raises(clv.CLVUnavailableError, match=message):
        clv.clv_backtest(orders, calibration_end="2024-02-15", holdout_end="2024-03-31")
    one_timers = snapshot.assign(frequency=0, recency=snapshot["T"] * 0, monetary_value=0.0)
    with pytest.raises(SchemeUnavailable, match=r"^clv_tier: unavailable: MBG/NBD: every"):
        clv_tier_scheme(one_timers, config=load_config())
    with pytest.raises(SchemeUnavailable, match=r"^churn_risk: unavailable"):
        churn_risk_scheme(one_timers, config=load_config())


def test_one_customer_or_too_few_repeat_buyers(sample_summary: pd.DataFrame) -> None:
    summary = repeat_purchase_summary(one_day_orders(1, 3), as_of="2024-03-31")
    with pytest.raises(clv.CLVUnavailableError) as caught:
        clv.fit_purchase_model(summary, model="bgnbd")
    assert "only 1 of 1 customers have more than one purchase day" in str(caught.value)
    assert "at least 30 repeat customers (config clv.min_repeat_customers)" in str(caught.value)
    # The minimum is an option: 946 repeat buyers are too few for a minimum of 1,000.
    with pytest.raises(
        clv.CLVUnavailableError, match="only 946 of 2,357 customers have more than one purchase day"
    ):
        clv.fit_purchase_model(sample_summary, min_repeat_customers=1000)
    with pytest.raises(clv.CLVUnavailableError, match="no customer has a purchase"):
        clv.fit_purchase_model(sample_summary.iloc[:0])


def test_negative_spend_is_left_out_of_the_spend_model_and_counted(
    sample_summary: pd.DataFrame,
) -> None:
    repeat_ids = sample_summary.index[sample_summary["frequency"] > 0][:5]
    changed = sample_summary.copy()
    changed.loc[repeat_ids[:4], "monetary_value"] = -12.5
    changed.loc[repeat_ids[4], "monetary_value"] = 0.0
    spend = clv.fit_spend_model(changed)
    assert spend.n_customers == 941
    assert spend.n_nonpositive_spend == 5
    forecast = clv.customer_clv(changed, model="bgnbd", spend_model=spend)
    left_out = forecast.table.loc[repeat_ids]
    assert (left_out["spend_basis"] == "population_mean").all()
    np.testing.assert_allclose(left_out["expected_avg_spend"], spend.population_mean)
    assert (forecast.table["clv"] > 0).all()
    assert (forecast.table["spend_basis"] == "gamma_gamma").sum() == 941


def test_invalid_summaries_name_the_customer(sample_summary: pd.DataFrame) -> None:
    broken = sample_summary.copy()
    broken.loc["00004", "recency"] = broken.loc["00004", "T"] + 1
    with pytest.raises(clv.CLVInputError, match=r"1 customer\(s\) where recency is larger"):
        clv.fit_purchase_model(broken)
    with pytest.raises(SegmentationInputError, match="missing column"):
        clv.fit_purchase_model(sample_summary.drop(columns="T"))


def test_non_finite_predictions_raise_instead_of_returning_nan(
    sample_summary: pd.DataFrame,
) -> None:
    fit = clv.fit_purchase_model(sample_summary, model="pareto")
    fit.fitter.params_["s"] = 1.0  # the conditional expectation divides by s - 1
    with pytest.raises(
        clv.CLVFitError, match="predictions are not finite for 2,357 of 2,357 customers"
    ):
        clv.customer_clv(sample_summary, model=fit)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_a_fit_that_finds_no_dropout_is_refused_with_its_numbers(
    sample_summary: pd.DataFrame, model: str
) -> None:
    fit = clv.fit_purchase_model(sample_summary, model=model)
    a, b = fit.fitter.params_["a"], fit.fitter.params_["b"]
    assert a / (a + b) > 1e-3  # the sample's customers do drop out
    clv.customer_clv(sample_summary, model=fit)
    # The ridge no dropout leads to: a near 0, b anywhere along it.
    fit.fitter.params_["a"], fit.fitter.params_["b"] = 2e-7, 2e4
    title = clv.MODEL_TITLES[model]
    with pytest.raises(clv.CLVFitError, match=r"a / \(a \+ b\) = 1e-11 \(a = 2e-07, b = 2e\+04\)"):
        clv.customer_clv(sample_summary, model=fit)
    with pytest.raises(clv.CLVFitError, match=f"^{title}: dropout is not identified: "):
        clv.customer_clv(sample_summary, model=fit, min_dropout_probability=1e-11 * 1.01)
    # Just under the threshold it passes: the predictions are lifetimes' own.
    forecast = clv.customer_clv(sample_summary, model=fit, min_dropout_probability=1e-11 * 0.99)
    assert np.isfinite(forecast.table["clv"]).all()


def test_where_bgnbd_stops_on_the_no_dropout_ridge_decides_what_it_predicts(
    sample_summary: pd.DataFrame,
) -> None:
    # Why such a fit is refused: the likelihood is flat along the ridge, and lifetimes'
    # conditional expectation is not. Expected purchases over a year, all customers:
    fit = clv.fit_purchase_model(sample_summary, model="bgnbd")
    totals = {}
    for a, b in [(2e-7, 2e4), (2.6e-17, 2.8e-8), (2e-7, 1e9)]:
        fit.fitter.params_["a"], fit.fitter.params_["b"] = a, b
        forecast = clv.customer_clv(sample_summary, model=fit, min_dropout_probability=0.0)
        totals[b] = forecast.table["expected_purchases"].sum()
        with pytest.raises(clv.CLVFitError, match="dropout is not identified"):
            clv.customer_clv(sample_summary, model=fit)
    # b near 0 (where an Intel Xeon's fit stopped on Online Retail, with 1,126 buyers' values
    # not finite there) moves the total by 0.7%; b = 1e9, where hyp2f1 loses its accuracy,
    # multiplies it by 28.
    np.testing.assert_allclose(
        [totals[2e4], totals[2.8e-8], totals[1e9]], [4227.2720, 4257.4477, 121119.889], rtol=1e-6
    )


def test_pareto_nbd_is_not_refused_for_finding_no_dropout(sample_summary: pd.DataFrame) -> None:
    fit = clv.fit_purchase_model(sample_summary, model="pareto")
    fit.fitter.params_["s"] = 1e-10  # no dropout: its beta all but stops mattering
    totals = []
    for beta in (0.01, 1.0):
        fit.fitter.params_["beta"] = beta
        totals.append(clv.customer_clv(sample_summary, model=fit).table["expected_purchases"].sum())
    np.testing.assert_allclose(totals, [4534.046546, 4534.101624], rtol=1e-9)  # 1.2e-5 apart


# --- customer CLV ---------------------------------------------------------------------------------


def test_customer_clv_equals_lifetimes_customer_lifetime_value(
    sample_summary: pd.DataFrame,
) -> None:
    purchase = clv.fit_purchase_model(sample_summary, model="bgnbd")
    spend = clv.fit_spend_model(sample_summary)
    # lifetimes counts 12 months of 4.345 weeks; the same horizon in days gives the same CLV.
    forecast = clv.customer_clv(
        sample_summary,
        model=purchase,
        spend_model=spend,
        horizon_days=12 * 4.345 * 7,
        month_days=4.345 * 7,
        monthly_discount_rate=0.01,
    )
    reference = spend.fitter.customer_lifetime_value(
        purchase.fitter,
        sample_summary["frequency"],
        sample_summary["recency"] / 7,
        sample_summary["T"] / 7,
        sample_summary["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    np.testing.assert_allclose(forecast.table["clv"], reference.to_numpy(), rtol=1e-10)
    assert forecast.table["clv"].sum() == pytest.approx(71507.953, abs=1e-3)
    expected_spend = spend.fitter.conditional_expected_average_profit(
        sample_summary["frequency"], sample_summary["monetary_value"]
    )
    np.testing.assert_allclose(forecast.table["expected_avg_spend"], expected_spend, rtol=1e-12)


def test_customer_clv_one_month_by_hand(sample_summary: pd.DataFrame) -> None:
    purchase = clv.fit_purchase_model(sample_summary, model="bgnbd")
    spend = clv.fit_spend_model(sample_summary)
    forecast = clv.customer_clv(
        sample_summary, model=purchase, spend_model=spend, horizon_days=30, month_days=30
    )
    row = forecast.table.loc["00004"]
    f, r, t = row["frequency"], row["recency"] / 7, row["T"] / 7
    params = purchase.params
    # FHL (2005) equation (10) for 30 days = 30/7 weeks, by hand with scipy's 2F1.
    from scipy.special import hyp2f1

    rr, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    tt = 30 / 7
    expected = (
        (a + b + f - 1)
        / (a - 1)
        * (
            1
            - ((alpha + t) / (alpha + t + tt)) ** (rr + f)
            * hyp2f1(rr + f, b + f, a + b + f - 1, tt / (alpha + t + tt))
        )
        / (1 + a / (b + f - 1) * ((alpha + t) / (alpha + r)) ** (rr + f))
    )
    assert row["expected_purchases"] == pytest.approx(expected, rel=1e-12)
    p, q, gamma = spend.params["p"], spend.params["q"], spend.params["gamma"]
    weight = p * f / (p * f + q - 1)
    average = (1 - weight) * p * gamma / (q - 1) + weight * row["monetary_value"]
    assert row["expected_avg_spend"] == pytest.approx(average, rel=1e-12)
    assert row["clv"] == pytest.approx(average * expected / 1.01, rel=1e-12)
    # BG/NBD: customers without a repeat purchase are alive for sure.
    assert (forecast.table.loc[forecast.table["frequency"] == 0, "p_alive"] == 1.0).all()


def test_customer_clv_skips_potential_customers(snapshot: pd.DataFrame) -> None:
    forecast = clv.customer_clv(snapshot, model="pareto", horizon_days=365)
    assert len(forecast.table) == 2357
    assert not forecast.table.index.isin(["P1", "P2", "P3"]).any()
    assert np.isfinite(forecast.table[["expected_purchases", "p_alive", "clv"]]).all().all()
    assert forecast.purchase_fit.model == "pareto"
    with pytest.raises(clv.CLVInputError, match="horizon_days must be positive"):
        clv.customer_clv(snapshot, horizon_days=0)


# --- schemes --------------------------------------------------------------------------------------


def test_clv_tier_scheme_quantiles(snapshot: pd.DataFrame) -> None:
    segmentation = clv_tier_scheme(snapshot, config=PARETO)
    assert segmentation.scheme == "clv_tier"
    assert list(segmentation.labels.cat.categories) == [
        "potential",
        "fully_refunded",
        "low",
        "mid",
        "high",
    ]
    assert segmentation.labels.loc[["P1", "P2", "P3"]].eq("potential").all()
    # Ties at the 50th percentile (one-time buyers of equal T) fall into "mid".
    assert segmentation.profile["size"].tolist() == [3, 0, 1168, 717, 472]
    assert segmentation.profile.loc["high", "name_zh"] == "高价值"
    table = segmentation.details["customer_clv"]
    high = segmentation.labels.reindex(table.index) == "high"
    assert table.loc[high, "clv"].min() >= table.loc[~high, "clv"].max()
    assert segmentation.details["purchase_model"]["model"] == "pareto"
    assert segmentation.named_labels("en").loc["P1"] == "Potential (never bought)"


def test_clv_tier_scheme_cumulative_share(snapshot: pd.DataFrame) -> None:
    config = load_config({"clv": {"model": "pareto"}, "clv_tier": {"method": "cumulative_share"}})
    segmentation = clv_tier_scheme(snapshot, config=config)
    clv_values = segmentation.details["customer_clv"]["clv"]
    labels = segmentation.labels.reindex(clv_values.index)
    total = clv_values.sum()
    high_share = clv_values[labels == "high"].sum() / total
    # The high tier holds the first 70% of total CLV, plus the customer who crosses 70%.
    assert high_share >= 0.7
    assert high_share - clv_values[labels == "high"].min() / total < 0.7
    assert segmentation.profile["size"].tolist() == [3, 0, 1294, 725, 338]


def test_churn_risk_scheme(snapshot: pd.DataFrame) -> None:
    segmentation = churn_risk_scheme(snapshot, config=PARETO)
    assert list(segmentation.labels.cat.categories) == [
        "potential",
        "fully_refunded",
        "high_risk",
        "mid_risk",
        "low_risk",
    ]
    p_alive = segmentation.details["customer_clv"]["p_alive"]
    labels = segmentation.labels.reindex(p_alive.index)
    assert (p_alive[labels == "high_risk"] < 0.3).all()
    assert (p_alive[labels == "low_risk"] >= 0.7).all()
    assert segmentation.profile["size"].tolist() == [3, 0, 296, 1607, 454]
    bgnbd = churn_risk_scheme(snapshot, config=load_config({"clv": {"model": "bgnbd"}}))
    assert "P(alive) = 1" in bgnbd.details["note_en"]


def test_schemes_default_to_mbgnbd_and_churn_risk_reuses_the_clv_tier_forecast(
    snapshot: pd.DataFrame,
) -> None:
    config = load_config()
    tiers = clv_tier_scheme(snapshot, config=config)
    assert tiers.details["purchase_model"]["model"] == "mbgnbd"
    fitted = churn_risk_scheme(snapshot, config=config)
    forecast = tiers.details["customer_clv"]
    # MBG/NBD lets one-time buyers drop out: their P(alive) is below 1.
    one_timers = snapshot.loc[forecast.index, "frequency"] == 0
    assert (forecast.loc[one_timers, "p_alive"] < 1).all()
    given = snapshot.assign(p_alive=forecast["p_alive"].reindex(snapshot.index))
    reused = churn_risk_scheme(given, config=config)
    assert reused.labels.equals(fitted.labels)
    assert "customer_clv" not in reused.details
    assert reused.details["p_alive_source"].startswith("snapshot column p_alive")


def test_the_schemes_model_is_the_backtests_unless_pinned() -> None:
    config = load_config()
    assert clv.scheme_model(config, None, unavailable="too few repeat buyers") == (
        "mbgnbd",
        "MBG/NBD: clv.model_without_backtest, as the backtest could not run "
        "(too few repeat buyers)",
    )
    pinned = load_config({"clv": {"model": "pareto"}})
    assert clv.scheme_model(pinned, None) == (
        "pareto",
        "Pareto/NBD: pinned by the config (clv.model)",
    )


def test_scheme_config_errors(snapshot: pd.DataFrame) -> None:
    with pytest.raises(clv.CLVInputError, match=r"clv_tier.quantiles: expected two increasing"):
        clv_tier_scheme(snapshot, config=load_config({"clv_tier": {"quantiles": [0.8, 0.5]}}))
    with pytest.raises(clv.CLVInputError, match="unknown CLV model 'bgnbdx'"):
        clv_tier_scheme(snapshot, config=load_config({"clv": {"model": "bgnbdx"}}))
    with pytest.raises(clv.CLVInputError, match="unknown CLV model 'bgnbdx'"):
        clv.scheme_model(load_config({"clv": {"model": "bgnbdx"}}), None)
    # The snapshot counts purchase days: a scheme told to fit weeks says so.
    with pytest.raises(clv.CLVInputError, match="not a whole number of 7-day periods"):
        churn_risk_scheme(snapshot, config=load_config({"clv": {"period_days": 7}}))
    assert set(CLV_SCHEMES) == {"clv_tier", "churn_risk"}


# --- plots, CLI, imports ---------------------------------------------------------------------------


def test_plots_draw_every_model(backtest: clv.CLVBacktest) -> None:
    figure = plot_tracking(backtest, lang="en")
    axes = figure.axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["Actual", "BG/NBD", "Pareto/NBD", "MBG/NBD", "End of calibration"]
    assert axes.get_lines()[0].get_ydata()[-1] == 4339
    conditional = plot_conditional_expectations(backtest, lang="zh")
    assert conditional.axes[0].get_title() == "预测期人均复购次数（按校准期复购次数分组）"
    assert [t.get_text() for t in conditional.axes[0].get_xticklabels()][-1] == "7+"


def test_cli_clv_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = load_cdnow(sample=True)
    path = tmp_path / "cdnow_orders.csv"
    pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "order_id": np.arange(1, len(raw) + 1),
            "order_ts": raw["date"].dt.strftime("%Y-%m-%d"),
            "amount": raw["dollar_value"],
        }
    ).to_csv(path, index=False)
    assert main(["clv", str(path), "--model", "bgnbd", "--period-days", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["calibration_end"], payload["holdout_end"]) == (CALIBRATION_END, HOLDOUT_END)
    assert payload["period_days"] == 1
    model = payload["models"]["bgnbd"]
    assert model["params"]["alpha"] == pytest.approx(4.4136019, rel=1e-5)
    assert model["log_likelihood"] == pytest.approx(-9582.429, abs=1e-3)
    assert model["metrics"]["holdout_actual"] == 1882
    assert model["metrics"]["holdout_predicted"] == pytest.approx(1653.41, abs=0.01)
    # The default (config clv.backtest.period_days) counts purchase weeks.
    assert main(["clv", str(path), "--model", "bgnbd", "--json"]) == 0
    weekly = json.loads(capsys.readouterr().out)
    assert weekly["period_days"] == 7
    assert weekly["models"]["bgnbd"]["metrics"]["holdout_actual"] == 1787
    assert weekly["models"]["bgnbd"]["metrics"]["holdout_predicted"] == pytest.approx(
        1701.99, abs=0.01
    )
    assert main(["clv", str(path), "--calibration-end", "1997-13-01"]) == 2
    assert "cannot read '1997-13-01' as a date" in capsys.readouterr().err
    assert main(["clv", str(path), "--period-days", "0"]) == 2
    assert "period_days must be a whole number" in capsys.readouterr().err


def test_importing_clv_leaves_global_state_alone() -> None:
    script = (
        "import sys, warnings, pandas as pd\n"
        "import segmentation.clv\n"
        "from segmentation.clv._lifetimes import _import_lifetimes\n"
        "assert 'lifetimes' not in sys.modules\n"
        "before = list(warnings.filters)\n"
        "_import_lifetimes()\n"
        "assert 'lifetimes' in sys.modules\n"
        "assert list(warnings.filters) == before, warnings.filters[:3]\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_churn_risk_says_so_when_the_model_finds_no_drop_out(snapshot: pd.DataFrame) -> None:
    # As on Online Retail (one year of wholesale buyers): every fit puts P(alive) at ~1.
    buyers = ~snapshot["is_potential"].astype(bool)
    no_drop_out = snapshot.assign(p_alive=np.where(buyers, 0.995, np.nan))
    segmentation = churn_risk_scheme(no_drop_out, config=load_config())
    assert segmentation.profile["size"].tolist() == [
        int((~buyers).sum()),
        0,  # fully refunded: none in this snapshot
        0,
        0,
        int(buyers.sum()),
    ]
    assert "no drop-out" in segmentation.details["note_en"]
    assert "没有发现客户流失" in segmentation.details["note_zh"]


def test_the_naive_baseline_by_hand() -> None:
    cohort = _backtest._Cohort(
        summary=pd.DataFrame(
            {"frequency": [0, 2, 3], "recency": [0.0, 8.0, 25.0], "T": [0.0, 10.0, 30.0]}
        ),
        frequency=np.array([0, 2, 3]),
        patterns=None,  # type: ignore[arg-type]
        first_days=np.array([]),
        repeat_days=np.array([]),
    )
    # rates 0, 2/10 and 3/30 purchases a day, over a 20-day holdout
    np.testing.assert_allclose(_backtest._naive_baseline(cohort, 20), [0.0, 4.0, 2.0])


def test_the_backtest_says_whether_each_model_beats_the_naive_baseline(
    backtest: clv.CLVBacktest,
) -> None:
    metrics = backtest.metrics
    assert metrics["baseline_mae"].nunique() == 1
    assert (metrics["beats_baseline"] == (metrics["mae"] < metrics["baseline_mae"])).all()
    assert "naive baseline" in backtest.reason
    assert f"MAE {metrics['baseline_mae'].iloc[0]:.3f}" in backtest.reason
