"""Forecast intervals and calibration (issue #21): the bootstrap, the intervals, the Brier
score and reliability bins, the CDNOW holdout total against its interval, and the coverage of
the holdout interval on exports simulated from known BG/NBD and Gamma-Gamma parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation import clv
from segmentation.clv import (
    IntervalSettings,
    brier_score,
    buy_probability,
    forecast_intervals,
    holdout_check,
    reliability_table,
    segment_rate_probability,
)
from segmentation.config import load_config
from segmentation.datasets import simulate_bgnbd_purchases
from segmentation.features import repeat_purchase_summary

from canonical_frames import cdnow_orders

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


@pytest.fixture(scope="module")
def settings() -> IntervalSettings:
    return IntervalSettings.from_config(load_config())


@pytest.fixture(scope="module")
def cdnow_backtest() -> clv.CLVBacktest:
    return clv.clv_backtest(
        cdnow_orders(sample=True),
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
        model="auto",
    )


def test_config_defaults(settings: IntervalSettings) -> None:
    assert settings.resamples == 40
    assert settings.levels == (0.8, 0.95)
    assert settings.max_customers == 5000
    assert settings.simulation_draws == 20
    assert settings.reliability_bins == 10
    with pytest.raises(clv.CLVInputError, match=r"clv\.intervals"):
        IntervalSettings(0, (0.8,), 1, 1, 1, 1, 1)
    with pytest.raises(clv.CLVInputError, match="levels between 0 and 1"):
        IntervalSettings(10, (95.0,), 1, 1, 1, 1, 1)


def test_brier_score_by_hand() -> None:
    # (0.9-1)^2 + (0.2-0)^2 + (0.6-1)^2 + (0.5-0)^2 = 0.01 + 0.04 + 0.16 + 0.25 = 0.46; / 4.
    assert brier_score([0.9, 0.2, 0.6, 0.5], [1, 0, 1, 0]) == pytest.approx(0.115)
    assert brier_score([1.0, 0.0], [True, False]) == 0.0
    table = reliability_table([0.9, 0.2, 0.6, 0.5, 0.95, 1.0], [1, 0, 1, 0, 0, 1], bins=10)
    assert table.index.tolist() == [3, 6, 7, 10]
    assert table["customers"].tolist() == [1, 1, 1, 3]
    assert table.loc[10, "predicted"] == pytest.approx((0.9 + 0.95 + 1.0) / 3)
    assert table.loc[10, "observed"] == pytest.approx(2 / 3)


def test_segment_rate_probability_by_hand() -> None:
    labels = pd.Series(["a", "a", "b", "b", "b"], index=list("vwxyz"))
    before = pd.Series([True, False, True, True, False], index=labels.index)
    rate = segment_rate_probability(labels, before)
    assert rate.tolist() == pytest.approx([0.5, 0.5, 2 / 3, 2 / 3, 2 / 3])


def test_buy_probability_closed_form_and_pareto_monte_carlo() -> None:
    params = {"r": 0.5, "alpha": 10.0, "a": 1.0, "b": 2.0}
    p = buy_probability("bgnbd", params, frequency=[0, 2], T=[10.0, 30.0], p_alive=[1.0, 0.5], t=20)
    assert p[0] == pytest.approx(1 - (20 / 40) ** 0.5)
    assert p[1] == pytest.approx(0.5 * (1 - (40 / 60) ** 2.5))
    # Pareto/NBD with a lifetime that never ends (mu -> 0) is a gamma-Poisson: the same formula.
    pareto = {"r": 0.5, "alpha": 10.0, "s": 1e-9, "beta": 1e9}
    q = buy_probability(
        "pareto", pareto, frequency=[0, 2], T=[10.0, 30.0], p_alive=[1.0, 0.5], t=20, draws=20000
    )
    assert q == pytest.approx(p, abs=0.01)


def test_bootstrap_is_seeded_and_centred_on_the_fit(cdnow_backtest: clv.CLVBacktest) -> None:
    fit = cdnow_backtest.fits["bgnbd"]
    limits = clv.default_fit_limits()
    one = clv.bootstrap_purchase(
        fit, resamples=20, random_state=3, max_fit_customers=10**6, fit_limits=limits
    )
    two = clv.bootstrap_purchase(
        fit, resamples=20, random_state=3, max_fit_customers=10**6, fit_limits=limits
    )
    pd.testing.assert_frame_equal(one.params, two.params)
    assert one.n_failed == 0
    assert one.fit_customers == one.n_customers == 2357
    medians = one.params.median()
    for name, value in fit.params.items():
        assert medians[name] == pytest.approx(value, rel=0.2)
    # Above max_fit_customers a refit sees that many customers.
    small = clv.bootstrap_purchase(
        fit, resamples=5, random_state=3, max_fit_customers=1000, fit_limits=limits
    )
    assert small.fit_customers == 1000


def test_a_pareto_refit_stays_within_its_cap(cdnow_backtest: clv.CLVBacktest) -> None:
    # Started at half the fit's s and beta with a cap of 1.5 times the start, the refit cannot
    # reach the optimum (twice the start): s and beta end at most at the cap, r and alpha free.
    from segmentation.clv._purchase import _purchase_fitter

    fit = cdnow_backtest.fits["pareto"]
    data = fit.fitter.data
    start = {**fit.params, "s": fit.params["s"] / 2, "beta": fit.params["beta"] / 2}
    fitter = _purchase_fitter(
        "pareto",
        fit.penalizer,
        *(data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "weights")),
        clv.default_fit_limits().start(),
        start=start,
        pareto_cap=1.5,
    )
    params = fitter.params_
    for name in ("s", "beta"):
        assert start[name] < params[name] <= 1.5 * start[name] * (1 + 1e-12)
    assert params["r"] == pytest.approx(fit.params["r"], rel=0.2)


def test_cdnow_holdout_total_is_not_covered_by_bgnbd(
    cdnow_backtest: clv.CLVBacktest, settings: IntervalSettings
) -> None:
    # Fader, Hardie & Lee (2005): BG/NBD expects 1,653.4 repeat purchase days in weeks 40-78,
    # 1,882 happened. The models under-forecast CDNOW's holdout; the interval says so.
    check = holdout_check(
        cdnow_backtest.fits["bgnbd"],
        cdnow_backtest.customers,
        holdout_days=cdnow_backtest.holdout_days,
        settings=settings,
        fit_limits=clv.default_fit_limits(),
    )
    assert check.actual == 1882
    assert check.expected == pytest.approx(1653.41, abs=0.01)
    assert check.intervals.index.tolist() == [0.8, 0.95]
    low, high = check.intervals.loc[0.95, ["low", "high"]]
    # 40 resamples (the config's): 1,442.4-1,841.8; 100 gave 1,473.2-1,839.8.
    assert 1440 < low < 1500
    assert 1810 < high < 1870
    assert not check.intervals["covered"].any()
    assert check.resamples == 40
    assert check.failed == 0


def test_forecast_intervals_contain_the_forecast(settings: IntervalSettings) -> None:
    orders = cdnow_orders(sample=True)
    customers = repeat_purchase_summary(orders, as_of=CALIBRATION_END)
    forecast = clv.customer_clv(customers, model="bgnbd")
    tiers = pd.Series(
        np.where(forecast.table["frequency"] > 0, "repeat", "one-time"), index=forecast.table.index
    )
    small = IntervalSettings(
        resamples=30,
        levels=(0.8, 0.95),
        max_customers=1000,
        max_fit_customers=10**6,
        simulation_draws=5,
        reliability_bins=10,
        probability_draws=100,
    )
    result = forecast_intervals(
        forecast, segments=tiers, settings=small, fit_limits=clv.default_fit_limits()
    )
    assert result.n_customers == 2357
    assert result.sampled == len(result.customers) == 1000
    # Stratified: both segments are in the sample.
    assert set(tiers.loc[result.customers.index]) == {"repeat", "one-time"}
    shop = result.shop
    assert shop["clv_total"] == pytest.approx(forecast.table["clv"].sum())
    assert shop["clv_total_low_95"] < shop["clv_total_low_80"] < shop["clv_total"]
    assert shop["clv_total"] < shop["clv_total_high_80"] < shop["clv_total_high_95"]
    assert shop["revenue_low_95"] < shop["revenue"] < shop["revenue_high_95"]
    segments = result.segments
    assert segments["customers"].sum() == 2357
    assert segments["clv_total"].sum() == pytest.approx(shop["clv_total"])
    assert (segments["clv_mean_low_95"] < segments["clv_mean"]).all()
    assert (segments["clv_mean"] < segments["clv_mean_high_95"]).all()
    table = result.customers
    for name in ("expected_purchases", "p_alive", "clv"):
        assert (table[f"{name}_low_95"] <= table[f"{name}_high_95"]).all()
    # The same seed, the same intervals.
    again = forecast_intervals(
        forecast, segments=tiers, settings=small, fit_limits=clv.default_fit_limits()
    )
    pd.testing.assert_series_equal(again.shop, shop)


def _simulated_orders(seed: int, n_customers: int) -> pd.DataFrame:
    """Orders of customers drawn from known BG/NBD (FHL 2005's CDNOW estimates, weekly) and
    Gamma-Gamma (p 6, q 4, gamma 15) parameters: 84 days of first purchases, 546 days seen."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.2425945, 1 / 4.4136019, n_customers) / 7.0
    dropout = rng.beta(0.7929199, 2.4258881, n_customers)
    first = rng.integers(0, 84, n_customers) + rng.uniform(0, 1, n_customers)
    purchases = simulate_bgnbd_purchases(
        rng, first_day=first, rate=rate, dropout=dropout, end_day=546, dropout_after_first=False
    )
    nu = rng.gamma(4.0, 1 / 15.0, n_customers)
    amount = rng.gamma(6.0, 1 / nu[purchases.customer])
    start = pd.Timestamp("2020-01-01")
    return pd.DataFrame(
        {
            "customer_id": pd.Series(purchases.customer.astype(str), dtype="string"),
            "order_id": pd.Series(np.arange(len(amount)).astype(str), dtype="string"),
            "order_ts": start + pd.to_timedelta(purchases.day, unit="D"),
            "amount": amount,
        }
    )


def test_holdout_interval_coverage_on_simulated_exports() -> None:
    """The 90% interval of the holdout total covers the simulated total in 85-95% of 100
    simulated exports (measured: see the assert)."""
    start = pd.Timestamp("2020-01-01")
    calibration_end = start + pd.Timedelta(days=272)
    holdout_end = start + pd.Timedelta(days=545)
    settings = IntervalSettings(
        resamples=30,
        levels=(0.9,),
        max_customers=5000,
        max_fit_customers=10**6,
        simulation_draws=20,
        reliability_bins=10,
        probability_draws=100,
    )
    covered = []
    for seed in range(100):
        backtest = clv.clv_backtest(
            _simulated_orders(seed, 1200),
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            model="bgnbd",
        )
        check = holdout_check(
            backtest.fits["bgnbd"],
            backtest.customers,
            holdout_days=backtest.holdout_days,
            settings=settings,
            fit_limits=clv.default_fit_limits(),
            random_state=seed,
        )
        covered.append(bool(check.intervals.loc[0.9, "covered"]))
    assert 85 <= sum(covered) <= 95, sum(covered)


def _holdout(actual: float, low: float, high: float) -> clv.HoldoutCheck:
    intervals = pd.DataFrame(
        {"low": [low], "high": [high], "covered": [low <= actual <= high]},
        index=pd.Index([0.95], name="level"),
    )
    return clv.HoldoutCheck("bgnbd", actual, 1653.41, intervals, 273, 1, 100, 20, 0)


def test_holdout_sentence_states_its_numbers() -> None:
    from segmentation.report._clv_text import holdout_sentence

    missed = _holdout(1882, 1473.2, 1839.8)
    assert holdout_sentence(missed, lang="en") == (
        "Backtest holdout of 273 days: BG/NBD expected 1,653 repeat purchase days (95% interval "
        "1,473 to 1,840); 1,882 happened, above the interval: the model under-forecast the "
        "holdout."
    )
    assert holdout_sentence(missed, lang="zh") == (
        "回测预测期 273 天：BG/NBD 预测复购天数 1,653（95% 区间 1,473–1,840），实际 1,882，"
        "高于区间上限：模型低估了预测期。"
    )
    assert holdout_sentence(_holdout(1600, 1473.2, 1839.8), lang="en").endswith(
        "1,600 happened, inside the interval."
    )
    assert "低于区间下限" in holdout_sentence(_holdout(1400, 1473.2, 1839.8), lang="zh")


def test_brier_sentence_names_the_best_and_worst_scheme() -> None:
    from segmentation.report._clv_text import brier_sentence

    bought = pd.Series([True, False, True, False], index=list("wxyz"))
    result = clv.probability_calibration(
        bought,
        bought_before=pd.Series([True, True, False, False], index=bought.index),
        scheme_labels={
            "tiers": pd.Series(["a", "a", "b", "b"], index=bought.index),
            "one": pd.Series(["a", "a", "a", "a"], index=bought.index),
        },
        model_probability=pd.Series([0.9, 0.2, 0.6, 0.5], index=bought.index),
        model="bgnbd",
        horizon_days=90,
        bins=10,
    )
    # model 0.115 (by hand above); tiers: a (w, x) bought before 2/2 -> 1.0, b (y, z) 0/2 -> 0,
    # so (0 + 1 + 1 + 0) / 4 = 0.5; one segment: everyone at 2/4 = 0.5 -> 0.25.
    assert result.brier["brier"].to_dict() == pytest.approx(
        {"model": 0.115, "one": 0.25, "tiers": 0.5}
    )
    assert list(result.brier.index) == ["model", "one", "tiers"]
    titles = {"tiers": "Tiers", "one": "One segment"}
    assert brier_sentence(result, titles=titles, lang="en") == (
        "Buying in 90 days (50.0% of customers did): the Brier score of BG/NBD's probability "
        "is 0.115 (lower is better), better than every scheme; the best scheme is One segment "
        "(0.250), the worst Tiers (0.500)."
    )
    zh = brier_sentence(result, titles={"tiers": "分层", "one": "单一"}, lang="zh")
    assert (
        "Brier 分数 0.115" in zh and "最好的是单一（0.250）" in zh and "最差的是分层（0.500）" in zh
    )


def test_labels_looked_up_once_per_index_equal_reindexing_each() -> None:
    """The calibration's schemes on the buyers' index: the same Series as reindexing each
    scheme's labels, for ids found and not found, categorical or not, on shared and own
    indexes."""
    from segmentation.clv._calibration import _on_index

    shared = pd.Index([f"c{i}" for i in range(8)], name="customer_id")
    own = pd.Index(["c7", "c3", "c1"], name="customer_id")
    labels = {
        "tier": pd.Series(list("aabbccab"), index=shared, dtype="category", name="tier"),
        "grade": pd.Series(
            pd.Categorical(list("xyxyxyxy"), categories=["y", "x"], ordered=True),
            index=shared,
            name="grade",
        ),
        "own": pd.Series(list("pqr"), index=own, dtype="category"),
        "plain": pd.Series(np.arange(8), index=shared, name="plain"),
    }
    buyers = pd.Index(["c6", "c1", "gone", "c3"], name="customer_id")
    aligned = _on_index(labels, buyers)
    assert list(aligned) == list(labels)
    for name, series in labels.items():
        pd.testing.assert_series_equal(aligned[name], series.reindex(buyers))
    assert aligned["tier"].isna().tolist() == [False, False, True, False]
