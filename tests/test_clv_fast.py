"""The fast paths of the CLV module equal the straightforward ones, and its results pickle.

Compression (sorted unique rows with counts) against ``numpy.unique``; the kit's fits against
lifetimes' own ``fit``; predictions on unique rows against lifetimes' methods called customer
by customer; the backtest's cohort summary against ``repeat_purchase_summary``; and a
standard-library pickle round trip (protocol 5) of fits, forecasts, the backtest and the
CLV tier scheme.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pickle
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation import clv
from segmentation.clv import _backtest, _compress, _lifetimes, _purchase
from segmentation.config import load_config
from segmentation.features import repeat_purchase_summary
from segmentation.schemes.clv_tiers import clv_tier_scheme

from canonical_frames import cdnow_orders

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"
PARETO = load_config({"clv": {"model": "pareto"}})


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return cdnow_orders(sample=True)


@pytest.fixture(scope="module")
def summary(orders: pd.DataFrame) -> pd.DataFrame:
    return repeat_purchase_summary(orders, as_of=CALIBRATION_END)


@pytest.fixture(scope="module")
def weekly_summary(orders: pd.DataFrame) -> pd.DataFrame:
    return repeat_purchase_summary(orders, as_of=CALIBRATION_END, period_days=7)


@pytest.fixture(scope="module")
def backtest(orders: pd.DataFrame) -> clv.CLVBacktest:
    return clv.clv_backtest(
        orders, calibration_end=CALIBRATION_END, holdout_end=HOLDOUT_END, period_days=7
    )


@contextlib.contextmanager
def quiet() -> Any:
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=5))


# --- compression ----------------------------------------------------------------------------------


def reference_unique_rows(
    *columns: np.ndarray,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """numpy.unique on the stacked rows: sorted unique rows, counts, inverse."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return [unique[:, k] for k in range(len(columns))], counts, inverse.reshape(-1)


whole_days = st.integers(0, 30).map(float)
wide_days = st.integers(0, 4).map(lambda k: float(k * 10_000_019))  # beyond the dense range
fractions = st.sampled_from([0.0, 0.5, 1.0 / 7, 2.0 / 7, 3.25, 1e-3])
rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.one_of(whole_days, wide_days, fractions),
        st.one_of(whole_days, wide_days, fractions),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(rows_strategy, st.sampled_from(["default", "hashed keys", "sorted codes"]))
def test_unique_rows_equal_numpy_unique(rows: list[tuple[int, float, float]], path: str) -> None:
    f = np.array([row[0] for row in rows], dtype=np.int64)
    r = np.array([row[1] for row in rows], dtype=float)
    t = np.array([row[2] for row in rows], dtype=float)
    with pytest.MonkeyPatch.context() as patch:
        if path == "hashed keys":  # no presence tables: pandas.factorize, then a sort
            patch.setattr(_compress, "_DENSE_EXTRA", -(10**9))
        elif path == "sorted codes":  # as if one integer key could not hold the rows
            patch.setattr(_compress, "_MAX_KEYS", 0)
        (f_unique, r_unique, t_unique), counts, inverse = _compress._unique_rows(f, r, t)
        patterns = clv.compress_customers(f, r, t)
    (f_ref, r_ref, t_ref), counts_ref, inverse_ref = reference_unique_rows(f, r, t)
    np.testing.assert_array_equal(f_unique, f_ref)
    np.testing.assert_array_equal(r_unique, r_ref)
    np.testing.assert_array_equal(t_unique, t_ref)
    np.testing.assert_array_equal(counts, counts_ref)
    np.testing.assert_array_equal(inverse, inverse_ref)
    assert f_unique.dtype == np.int64 and r_unique.dtype == np.float64
    assert counts.dtype == np.int64 and inverse.dtype == np.int64
    np.testing.assert_array_equal(patterns.frequency, f_ref)
    np.testing.assert_array_equal(patterns.weight, counts_ref)
    np.testing.assert_array_equal(patterns.inverse, inverse_ref)


def test_unique_rows_of_spend_and_of_no_rows() -> None:
    rng = np.random.default_rng(0)
    f = rng.integers(1, 5, 500)
    m = np.round(rng.gamma(2.0, 30.0, 500), 1)  # many repeats, not whole numbers
    (f_unique, m_unique), counts, inverse = _compress._unique_rows(f, m)
    (f_ref, m_ref), counts_ref, inverse_ref = reference_unique_rows(f, m)
    np.testing.assert_array_equal(f_unique, f_ref)
    np.testing.assert_array_equal(m_unique, m_ref)
    np.testing.assert_array_equal(counts, counts_ref)
    np.testing.assert_array_equal(inverse, inverse_ref)
    empty = np.array([], dtype=float)
    (e1, e2), counts, inverse = _compress._unique_rows(empty, empty)
    assert len(e1) == len(e2) == len(counts) == len(inverse) == 0


# --- the kit's fits are lifetimes' fits -----------------------------------------------------------


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_fit_equals_lifetimes_own_fit(weekly_summary: pd.DataFrame, model: str) -> None:
    # The kit runs lifetimes' optimisation without the Hessian and the data-frame wrapping:
    # the parameters are the ones lifetimes' fit gives on the same rows, to the last bit.
    fit = clv.fit_purchase_model(weekly_summary, model=model, period_days=7)
    data = fit.fitter.data
    columns = (data["frequency"], data["recency"], data["T"])
    fitter_class = getattr(_lifetimes._import_lifetimes(), _purchase._FITTER_CLASSES[model])
    with quiet():
        reference = fitter_class().fit(*columns, weights=data["weights"])
    np.testing.assert_array_equal(fit.fitter.params_.to_numpy(), reference.params_.to_numpy())
    assert list(fit.fitter.params_.index) == list(reference.params_.index)
    assert fit.fitter._negative_log_likelihood_ == reference._negative_log_likelihood_
    assert fit.fitter._scale == reference._scale
    assert not hasattr(fit.fitter, "generate_new_data")  # the lambda pickle cannot store


@pytest.mark.parametrize("period_days", [1, 7])
def test_pareto_fit_reaches_lifetimes_own_optimum_in_fewer_evaluations(
    orders: pd.DataFrame, period_days: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lifetimes minimises its Pareto/NBD likelihood by Nelder-Mead; the kit by L-BFGS-B on the
    # same likelihood. Against lifetimes' own fit on the same rows (start of ones, tol 1e-8,
    # the kit's old setting; lifetimes' default 1e-4 stops short along beta), the kit's
    # optimum is at least as good and the parameters agree to 2e-5, in under a third of the
    # likelihood evaluations.
    summary = repeat_purchase_summary(orders, as_of=CALIBRATION_END, period_days=period_days)
    lifetimes = _lifetimes._import_lifetimes()
    likelihood = lifetimes.ParetoNBDFitter._negative_log_likelihood
    kit_likelihood = _lifetimes._ParetoObjective.__call__
    calls = {"kit": 0, "lifetimes": 0}

    def counted(*args: Any) -> Any:
        calls["lifetimes"] += 1
        return likelihood(*args)

    def kit_counted(*args: Any) -> Any:
        calls["kit"] += 1
        return kit_likelihood(*args)

    monkeypatch.setattr(
        lifetimes.ParetoNBDFitter, "_negative_log_likelihood", staticmethod(counted)
    )
    monkeypatch.setattr(_lifetimes._ParetoObjective, "__call__", kit_counted)
    fit = clv.fit_purchase_model(summary, model="pareto", period_days=period_days)
    data = fit.fitter.data
    with quiet():
        reference = lifetimes.ParetoNBDFitter(penalizer_coef=0.0).fit(
            data["frequency"],
            data["recency"],
            data["T"],
            weights=data["weights"],
            initial_params=np.ones(4),
            verbose=True,
            tol=1e-8,
            maxiter=clv.default_fit_limits().max_iterations,
        )
    assert fit.fitter._negative_log_likelihood_ <= reference._negative_log_likelihood_ + 1e-9
    np.testing.assert_allclose(
        fit.fitter.params_.to_numpy(), reference.params_.to_numpy(), rtol=2e-5
    )
    assert list(fit.fitter.params_.index) == list(reference.params_.index)
    assert fit.fitter._scale == reference._scale
    assert calls["kit"] > 20
    assert 3 * calls["kit"] < calls["lifetimes"]


def many_unique_rows(n: int = 25_013, seed: int = 7) -> tuple[np.ndarray, ...]:
    """``n`` distinct-looking (frequency, recency, T) rows, time scaled, and weights: more
    than :data:`segmentation.clv._lifetimes.PARALLEL_MIN_ROWS`, an odd count."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.05, 1.0, n)
    frequency = rng.poisson(rng.gamma(0.6, 6.0, n)).astype(float)
    recency = np.where(frequency > 0, T * rng.uniform(0, 1, n), 0.0)
    weights = rng.integers(1, 40, n).astype(float)
    return frequency, recency, T, weights


# alpha < beta and alpha > beta take different branches of lifetimes' _log_A_0.
PARETO_PARAMS = [[0.55, 0.4, 0.6, 0.9], [0.8, 2.5, 0.3, 0.2], [1.0, 1.0, 1.0, 1.0]]


def kit_pareto_likelihood(
    rows: tuple[np.ndarray, ...], threads: int
) -> tuple[Any, _lifetimes._FitBudget]:
    """The kit's Pareto/NBD objective of ``rows`` (frequency, recency, T) on ``threads``
    threads, and its budget."""
    budget = clv.FitLimits(max_iterations=100, max_seconds=600, threads=threads).start()
    pool = ThreadPoolExecutor(max_workers=threads - 1) if threads > 1 else None
    objective = _lifetimes._ParetoObjective(rows, pool=pool, threads=threads, budget=budget)
    return objective, budget


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_pareto_likelihood_equals_lifetimes_to_the_bit(threads: int) -> None:
    *rows, weights = many_unique_rows()
    assert len(rows[0]) >= _lifetimes.PARALLEL_MIN_ROWS
    fitter_class = _lifetimes._import_lifetimes().ParetoNBDFitter
    objective, budget = kit_pareto_likelihood(tuple(rows), threads)
    with quiet():
        for values in PARETO_PARAMS:
            for penalizer in (0.0, 2.5):
                expected = fitter_class._negative_log_likelihood(
                    np.array(values), *rows, weights, penalizer
                )
                got = objective(np.array(values), weights, penalizer)
                assert np.float64(got).tobytes() == np.float64(expected).tobytes()
        assert objective(np.array([0.5, -1.0, 1.0, 1.0]), weights, 0.0) == np.inf
    assert (budget.worker_seconds[0] > 0) == (threads > 1)  # the workers' CPU time counted


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 12), st.integers(0, 12), st.integers(1, 9)),
        min_size=1,
        max_size=300,
    ),
    st.sampled_from(PARETO_PARAMS),
)
def test_pareto_likelihood_of_repeated_pairs_equals_lifetimes(
    drawn: list[tuple[int, int, int, int]], params: list[float]
) -> None:
    # Few distinct (frequency, recency) and (frequency, T) pairs, as purchase days have:
    # every row's hyp2f1 terms come from the pairs' and the total is still lifetimes'.
    table = np.array(drawn, dtype=float)
    frequency = table[:, 0]
    T = (np.maximum(table[:, 1], table[:, 2]) + 1) / 13
    recency = np.where(frequency > 0, np.minimum(table[:, 1], table[:, 2]) / 13, 0.0)
    rows = (frequency, recency, T)
    fitter_class = _lifetimes._import_lifetimes().ParetoNBDFitter
    objective, _ = kit_pareto_likelihood(rows, 1)
    with quiet():
        expected = fitter_class._negative_log_likelihood(np.array(params), *rows, table[:, 3], 0.1)
        got = objective(np.array(params), table[:, 3], 0.1)
    assert np.float64(got).tobytes() == np.float64(expected).tobytes()


_LOG_TERMS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -745.2, 709.8, np.inf, -np.inf, np.nan]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_LOG_TERMS, _LOG_TERMS), min_size=1, max_size=40))
def test_log_difference_of_exps_is_scipys_logsumexp_to_the_bit(
    pairs: list[tuple[float, float]],
) -> None:
    # lifetimes' _log_A_0 calls logsumexp([a, b], axis=0, b=[1, -1]); the kit's replacement
    # must give the same bits for every value, ties, infinities and NaN included.
    from scipy.special import logsumexp

    first, second = (np.array(column, dtype=float) for column in zip(*pairs, strict=True))
    ones = np.ones(len(first))
    with np.errstate(all="ignore"):
        expected = logsumexp([first, second], axis=0, b=[ones, -ones])
        got = _lifetimes._log_difference_of_exps(first, second)
    assert got.tobytes() == np.asarray(expected, dtype=float).tobytes()


@pytest.mark.parametrize("model", ["pareto", "bgnbd"])
def test_expected_purchases_by_day_are_lifetimes_day_by_day(
    weekly_summary: pd.DataFrame, model: str
) -> None:
    # The Pareto/NBD likelihood is computed once for every horizon, where lifetimes computes
    # it per call: each day's expectations are still lifetimes' own, to the bit.
    fit = clv.fit_purchase_model(weekly_summary, model=model, period_days=7)
    patterns = _compress.compress_customers(
        weekly_summary["frequency"], weekly_summary["recency"], weekly_summary["T"]
    )
    days = [30.4375, 60.875, 91.3125, 365.25]
    by_day = fit._expected_purchases_by_day(days, patterns)
    assert by_day.shape == (len(patterns), len(days))
    for column, day in enumerate(days):
        one_day = fit._expected_purchases_unique(day, patterns)
        assert by_day[:, column].tobytes() == one_day.tobytes()
    assert len(np.unique(by_day[:, -1])) > 100  # real, varied expectations


def test_a_pareto_fit_is_the_same_on_one_thread_and_on_two() -> None:
    frequency, recency, T, weights = many_unique_rows()
    fits = [
        _purchase._purchase_fitter(
            "pareto",
            0.0,
            frequency,
            recency,
            T,
            weights,
            clv.FitLimits(max_iterations=2_000, max_seconds=600, threads=threads).start(),
        )
        for threads in (1, 2)
    ]
    one, two = (fit.params_.to_numpy() for fit in fits)
    assert np.array_equal(one, two)
    assert fits[0]._negative_log_likelihood_ == fits[1]._negative_log_likelihood_


def test_uncompressed_fit_equals_lifetimes_on_every_customer(
    weekly_summary: pd.DataFrame,
) -> None:
    fit = clv.fit_purchase_model(weekly_summary, model="bgnbd", period_days=7, compress=False)
    assert fit.n_patterns == len(weekly_summary)
    with quiet():
        reference = (
            _lifetimes._import_lifetimes()
            .BetaGeoFitter()
            .fit(
                weekly_summary["frequency"],
                weekly_summary["recency"] / 7,
                weekly_summary["T"] / 7,
            )
        )
    # lifetimes' rows in customer order (the kit's are too, uncompressed): the same bits.
    np.testing.assert_array_equal(fit.fitter.params_.to_numpy(), reference.params_.to_numpy())


def test_spend_fit_equals_lifetimes_own_fit(summary: pd.DataFrame) -> None:
    spend = clv.fit_spend_model(summary)
    data = spend.fitter.data
    with quiet():
        reference = (
            _lifetimes._import_lifetimes()
            .GammaGammaFitter()
            .fit(data["frequency"], data["monetary_value"], weights=data["weights"])
        )
    np.testing.assert_array_equal(spend.fitter.params_.to_numpy(), reference.params_.to_numpy())


# --- predictions on unique rows equal lifetimes customer by customer ----------------------------


@pytest.mark.parametrize("model", ["mbgnbd", "pareto"])
def test_customer_clv_equals_lifetimes_per_customer(summary: pd.DataFrame, model: str) -> None:
    horizon, month = 365.0, clv.DEFAULT_MONTH_DAYS
    forecast = clv.customer_clv(summary, model=model, horizon_days=horizon, month_days=month)
    fitter = forecast.purchase_fit.fitter
    f = summary["frequency"].to_numpy(dtype=float)
    r = summary["recency"].to_numpy(dtype=float) / 7
    t = summary["T"].to_numpy(dtype=float) / 7
    m = summary["monetary_value"].to_numpy(dtype=float)
    table = forecast.table
    with quiet():
        expected = fitter.conditional_expected_number_of_purchases_up_to_time(horizon / 7, f, r, t)
        p_alive = fitter.conditional_probability_alive(f, r, t)
        spend = forecast.spend_fit.fitter.conditional_expected_average_profit(f, m)
        boundaries = np.minimum(np.arange(1, 13) * month, horizon)
        cumulative = np.column_stack(
            [
                fitter.conditional_expected_number_of_purchases_up_to_time(day / 7, f, r, t)
                for day in boundaries
            ]
        )
    np.testing.assert_array_equal(table["expected_purchases"].to_numpy(), np.asarray(expected))
    np.testing.assert_array_equal(table["p_alive"].to_numpy(), np.asarray(p_alive).reshape(-1))
    usable = (f > 0) & (m > 0)
    np.testing.assert_array_equal(table["expected_avg_spend"].to_numpy()[usable], spend[usable])
    assert (
        table["expected_avg_spend"].to_numpy()[~usable] == forecast.spend_fit.population_mean
    ).all()
    assert (table["spend_basis"] == "gamma_gamma").to_numpy().tolist() == usable.tolist()
    monthly = np.diff(np.column_stack([np.zeros(len(f)), cumulative]), axis=1)
    discount = 1.01 ** -np.arange(1, 13, dtype=float)
    clv_per_customer = table["expected_avg_spend"].to_numpy() * (monthly @ discount)
    np.testing.assert_allclose(table["clv"].to_numpy(), clv_per_customer, rtol=1e-13, atol=0)


def test_backtest_predictions_equal_lifetimes_per_customer(backtest: clv.CLVBacktest) -> None:
    customers = backtest.customers
    f = customers["frequency"].to_numpy(dtype=float)
    r = customers["recency"].to_numpy(dtype=float) / 7
    t = customers["T"].to_numpy(dtype=float) / 7
    for name, fit in backtest.fits.items():
        with quiet():
            expected = fit.fitter.conditional_expected_number_of_purchases_up_to_time(
                backtest.holdout_days / 7, f, r, t
            )
        np.testing.assert_array_equal(customers[f"predicted_{name}"].to_numpy(), expected)


# --- the backtest's cohort summary ---------------------------------------------------------------


@pytest.mark.parametrize("period_days", [1, 7])
def test_calibration_summary_equals_repeat_purchase_summary_on_cdnow(
    orders: pd.DataFrame, period_days: int
) -> None:
    end = pd.Timestamp(CALIBRATION_END)
    summary, days, first_row = _backtest._calibration_summary(
        orders, calibration_end=end, period_days=period_days
    )
    reference = repeat_purchase_summary(orders, as_of=end, period_days=period_days)
    pd.testing.assert_frame_equal(summary, reference[["frequency", "recency", "T"]])
    assert int(first_row.sum()) == len(summary)
    assert len(days) == int(summary["frequency"].sum()) + len(summary)


order_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D", None]),  # None: a guest order
        st.integers(0, 3),  # the customer's order number
        st.integers(0, 40),  # day
        st.integers(0, 23),  # hour
        st.sampled_from([25.0, 10.5, 0.0, -10.5, -25.0, -40.0]),  # refunds are negative rows
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(order_rows, st.integers(0, 45), st.sampled_from([1, 7, 3]))
def test_calibration_summary_equals_repeat_purchase_summary(
    rows: list[tuple[str | None, int, int, int, float]], end_day: int, period_days: int
) -> None:
    orders = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, *_ in rows], dtype="string"),
            "order_id": pd.Series([f"{c or 'guest'}-{k}" for c, k, *_ in rows], dtype="string"),
            "order_ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta([d * 24 + h for _, _, d, h, _ in rows], unit="h"),
            "amount": [a for *_, a in rows],
        }
    )
    end = pd.Timestamp("2024-01-01") + pd.Timedelta(days=end_day)
    summary, _, _ = _backtest._calibration_summary(
        orders, calibration_end=end, period_days=period_days
    )
    reference = repeat_purchase_summary(orders, as_of=end, period_days=period_days)
    if reference.empty:
        assert summary.empty
        return
    pd.testing.assert_frame_equal(summary, reference[["frequency", "recency", "T"]])


# --- pickle ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto"])
def test_purchase_fit_pickles_with_the_standard_library(
    weekly_summary: pd.DataFrame, model: str
) -> None:
    fit = clv.fit_purchase_model(weekly_summary, model=model, period_days=7)
    back = round_trip(fit)
    assert back.summary() == fit.summary() and back.attempts == fit.attempts
    f, r, t = (weekly_summary[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_array_equal(
        back.expected_purchases(91, f, r, t), fit.expected_purchases(91, f, r, t)
    )
    np.testing.assert_array_equal(back.probability_alive(f, r, t), fit.probability_alive(f, r, t))
    days = np.arange(0, 400, 7)
    np.testing.assert_array_equal(
        back.expected_purchases_since_first(days), fit.expected_purchases_since_first(days)
    )
    pd.testing.assert_frame_equal(back.fitter.data, fit.fitter.data)
    assert back.fitter.predict.__self__ is back.fitter


def test_an_unpickled_fit_imports_lifetimes_only_when_its_fitter_is_used(
    weekly_summary: pd.DataFrame, tmp_path: Path
) -> None:
    # A notebook unpickling the month's analysis to show a table does not import lifetimes
    # (about a second); the fitter is rebuilt on first use, pickled again as it came if never
    # used, and its predictions are the fit's own.
    fit = clv.fit_purchase_model(weekly_summary, model="pareto", period_days=7)
    spend = clv.fit_spend_model(weekly_summary)
    twice = round_trip(round_trip((fit, spend)))
    assert "fitter" not in vars(twice[0]) and "fitter" not in vars(twice[1])
    f, r, t = (weekly_summary[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_array_equal(
        twice[0].expected_purchases(91, f, r, t), fit.expected_purchases(91, f, r, t)
    )
    assert twice[0].fitter.predict.__self__ is twice[0].fitter
    assert twice[1].fitter.params_.equals(spend.fitter.params_)
    with pytest.raises(AttributeError, match="no attribute 'fitterr'"):
        twice[0].fitterr  # noqa: B018
    stored = tmp_path / "fits.pkl"
    stored.write_bytes(pickle.dumps((fit, spend), protocol=5))
    script = (
        "import pickle, sys\n"
        f"fit, spend = pickle.loads(open({str(stored)!r}, 'rb').read())\n"
        "print('lifetimes' in sys.modules)\n"
        "print(type(fit.fitter).__name__, type(spend.fitter).__name__)\n"
        "print('lifetimes' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert shown[:3] == ["False", "ParetoNBDFitter GammaGammaFitter", "True"]


def test_a_fitter_from_lifetimes_fit_pickles_without_its_lambda(
    weekly_summary: pd.DataFrame,
) -> None:
    fit = clv.fit_purchase_model(weekly_summary, model="bgnbd", period_days=7)
    data = fit.fitter.data
    with quiet():
        own = (
            _lifetimes._import_lifetimes()
            .BetaGeoFitter()
            .fit(data["frequency"], data["recency"], data["T"], weights=data["weights"])
        )
    with_lambda = dataclasses.replace(fit, fitter=own)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(own, protocol=5)
    back = round_trip(with_lambda)
    assert callable(own.generate_new_data)  # the fitter itself is left as it was
    assert not hasattr(back.fitter, "generate_new_data")
    assert back.fitter.predict.__self__ is back.fitter
    f, r, t = (weekly_summary[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_array_equal(
        back.expected_purchases(91, f, r, t), with_lambda.expected_purchases(91, f, r, t)
    )
    pd.testing.assert_series_equal(back.fitter.standard_errors_, own.standard_errors_)


def test_forecast_pickles_with_the_standard_library(summary: pd.DataFrame) -> None:
    forecast = clv.customer_clv(summary, model="mbgnbd")
    back = round_trip(forecast)
    pd.testing.assert_frame_equal(back.table, forecast.table)
    assert back.purchase_fit.summary() == forecast.purchase_fit.summary()
    assert back.spend_fit.summary() == forecast.spend_fit.summary()
    again = clv.customer_clv(summary, model=back.purchase_fit, spend_model=back.spend_fit)
    pd.testing.assert_frame_equal(again.table, forecast.table)
    spend, basis = back.spend_fit.expected_average_spend(
        summary["frequency"], summary["monetary_value"]
    )
    np.testing.assert_array_equal(spend, forecast.table["expected_avg_spend"].to_numpy())
    assert basis.tolist() == forecast.table["spend_basis"].astype(str).tolist()


def test_backtest_pickles_with_the_standard_library(backtest: clv.CLVBacktest) -> None:
    back = round_trip(backtest)
    assert back.to_dict() == backtest.to_dict()
    pd.testing.assert_frame_equal(back.metrics, backtest.metrics)
    pd.testing.assert_frame_equal(back.customers, backtest.customers)
    pd.testing.assert_frame_equal(back.tracking, backtest.tracking)
    assert back.tracking.attrs == backtest.tracking.attrs
    pd.testing.assert_frame_equal(back.by_frequency, backtest.by_frequency)
    customers = backtest.customers
    f, r, t = (customers[c] for c in ("frequency", "recency", "T"))
    for name, fit in backtest.fits.items():
        np.testing.assert_array_equal(
            back.fits[name].expected_purchases(backtest.holdout_days, f, r, t),
            customers[f"predicted_{name}"].to_numpy(),
        )
        np.testing.assert_array_equal(
            back.fits[name].probability_alive(f, r, t), fit.probability_alive(f, r, t)
        )


def test_clv_tier_scheme_pickles_with_the_standard_library(summary: pd.DataFrame) -> None:
    snapshot = summary.assign(recency_days=summary["T"] - summary["recency"], is_potential=False)
    segmentation = clv_tier_scheme(snapshot, config=PARETO)
    back = round_trip(segmentation)
    pd.testing.assert_series_equal(back.labels, segmentation.labels)
    pd.testing.assert_frame_equal(
        back.details["customer_clv"], segmentation.details["customer_clv"]
    )
    assert back.details["purchase_model"] == segmentation.details["purchase_model"]
