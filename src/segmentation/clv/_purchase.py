"""Purchase models: BG/NBD, Pareto/NBD or MBG/NBD fitted on compressed customers.

The purchase models describe a customer by ``frequency`` (repeat purchase periods),
``recency`` (days from the first to the last purchase period) and ``T`` (days from the first
purchase period to the observation end), as :func:`segmentation.features.repeat_purchase_summary`
and the customer snapshot count them. Models are fitted in a configurable time unit (weeks,
days / 7, by default, as in the papers) and every result is reported in days.

Every fit is lifetimes' own (``BetaGeoFitter``, ``ParetoNBDFitter``, ``ModifiedBetaGeoFitter``),
run on the customers compressed to their unique rows (:mod:`segmentation.clv._compress`) with
``weights=`` counts. BG/NBD and MBG/NBD go through
:func:`segmentation.clv._lifetimes._minimize_as_lifetimes`: their parameters are bit for bit
those of lifetimes' ``fit`` on the same rows (tests check). Pareto/NBD's likelihood is
lifetimes' own, minimised by L-BFGS-B (:func:`segmentation.clv._lifetimes._pareto_minimize`)
where lifetimes runs Nelder-Mead: its objective is within 1e-8 of lifetimes' ``fit`` with
``tol=1e-8`` (1e-11 lower on CDNOW, up to 5e-9 higher on the bench's exports), in a third
to a fifth of the evaluations (tests and ``make bench`` check). The predictions (conditional
expected purchases, P(alive)) are the fitted lifetimes objects' own methods, run on the unique
rows and broadcast back to the customers. A fit that does not converge, or whose parameters
are not finite and positive, is retried with a growing ``penalizer_coef`` and, if none works,
raises :class:`CLVFitError`. So does a fit that runs past ``clv.fit_limits.max_seconds``
(:class:`segmentation.clv._lifetimes.FitLimits`), at once.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._compress import CustomerPatterns, compress_customers
from segmentation.clv._lifetimes import (
    FitLimits,
    _FitBudget,
    _import_lifetimes,
    _lifetimes_call,
    _minimize_as_lifetimes,
    _pareto_minimize,
    _PicklableFit,
    default_fit_limits,
)
from segmentation.errors import (
    CLVFitError,
    CLVInputError,
    CLVUnavailableError,
    MissingColumnError,
)

__all__ = [
    "DEFAULT_PENALIZERS",
    "MODEL_NAMES",
    "MODEL_TITLES",
    "PARAMETER_NAMES",
    "PARETO_FIT_OPTIONS",
    "FitAttempt",
    "PurchaseModelFit",
    "_buyer_columns",
    "_check_fit_options",
    "_check_model",
    "_check_period_days",
    "_fit_purchase_patterns",
    "_fit_with_penalizers",
    "_period_name",
    "_purchase_fitter",
    "fit_purchase_model",
    "fit_purchase_rows",
]

MODEL_NAMES: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd")
MODEL_TITLES: dict[str, str] = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD"}
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
}
DEFAULT_PENALIZERS: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2, 0.1)

#: L-BFGS-B's options for the Pareto/NBD likelihood (over log-parameters, from a start of
#: ones: the mean of lifetimes' random start, so that two runs agree). They stop at the
#: optimum lifetimes' Nelder-Mead reaches with ``tol=1e-8`` (its default 1e-4 stops up to
#: 1.2e-4 short along the flat ``beta`` direction): on the CDNOW sample the objective ends
#: 1e-11 lower in 145 evaluations against 453. ``maxiter`` is
#: ``clv.fit_limits.max_iterations`` (:class:`FitLimits`).
PARETO_FIT_OPTIONS: dict[str, Any] = {"ftol": 1e-12, "gtol": 1e-8}


_FITTER_CLASSES = {
    "bgnbd": "BetaGeoFitter",
    "pareto": "ParetoNBDFitter",
    "mbgnbd": "ModifiedBetaGeoFitter",
}


@dataclass(frozen=True)
class FitAttempt:
    """One optimisation: the penalizer used and whether it converged (and if not, why)."""

    penalizer: float
    converged: bool
    message: str


def _check_model(model: str, *, allow_auto: bool) -> None:
    allowed = (*MODEL_NAMES, "auto") if allow_auto else MODEL_NAMES
    if model not in allowed:
        raise CLVInputError(
            f"unknown CLV model {model!r}; use one of {', '.join(allowed)} "
            "(config clv.model or --model)."
        )


def _buyer_columns(frame: pd.DataFrame, *, what: str, period_days: int = 1) -> pd.DataFrame:
    """The buyers' rows: checked frequency, recency and T (days), and any monetary_value."""
    missing = [c for c in ("frequency", "recency", "T") if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{what}: missing column(s) {missing}; pass the customer snapshot "
            "(features.customer_snapshot) or features.repeat_purchase_summary."
        )
    # Only the columns the models read: a snapshot has twenty more, not worth copying.
    needed = ["frequency", "recency", "T"]
    if "monetary_value" in frame.columns:
        needed.append("monetary_value")
    columns = frame[needed]
    buyers = columns["T"].notna().to_numpy(dtype=bool)
    if "is_potential" in frame.columns:
        buyers = buyers & ~frame["is_potential"].fillna(False).astype(bool).to_numpy(dtype=bool)
    rows = columns if buyers.all() else columns.loc[buyers]
    f = rows["frequency"].to_numpy(dtype=float)
    r = rows["recency"].to_numpy(dtype=float)
    t = rows["T"].to_numpy(dtype=float)
    problems = {
        "frequency is negative or not a whole number": (f < 0) | (f != np.round(f)),
        "recency or T is negative or missing": ~np.isfinite(r) | ~np.isfinite(t) | (r < 0),
        "recency is larger than T": r > t,
        "recency is not 0 although frequency is 0": (f == 0) & (r != 0),
        f"recency or T is not a whole number of {period_days}-day periods": (
            (r % period_days != 0) | (t % period_days != 0)
        ),
    }
    for problem, bad in problems.items():
        if bad.any():
            example = rows.index[np.flatnonzero(bad)[:3]].tolist()
            raise CLVInputError(
                f"{what}: {int(bad.sum())} customer(s) where {problem} (e.g. customer_id "
                f"{example}); build the table with features.repeat_purchase_summary "
                f"(period_days={period_days}) or features.customer_snapshot (purchase days), "
                "which count as lifetimes does."
            )
    return rows


def _period_name(period_days: int) -> str:
    return {1: "day", 7: "week"}.get(period_days, f"{period_days}-day period")


def _check_repeat_buyers(
    n_customers: int, n_repeat: int, minimum: int, *, what: str, period_days: int
) -> None:
    if n_customers == 0:
        raise CLVUnavailableError(
            f"{what}: no customer has a purchase, so there is nothing to model; CLV is "
            "unavailable for this data."
        )
    if n_repeat < minimum:
        period = _period_name(period_days)
        detail = (
            f"every customer has one purchase {period} only"
            if n_repeat == 0
            else f"only {n_repeat} of {n_customers:,} customers have more than one purchase {period}"
        )
        raise CLVUnavailableError(
            f"{what}: {detail}; the purchase and spend models need at least {minimum} repeat "
            "customers (config clv.min_repeat_customers), so CLV is unavailable for this "
            "data rather than made up. Use a longer order history."
        )


@dataclass(frozen=True)
class PurchaseModelFit(_PicklableFit):
    """A fitted purchase model (BG/NBD, Pareto/NBD or MBG/NBD).

    Attributes
    ----------
    model : str
        ``"bgnbd"``, ``"pareto"`` or ``"mbgnbd"``.
    params : dict of str to float
        In the fitting time unit (weeks by default): ``r, alpha, a, b`` or
        ``r, alpha, s, beta``.
    log_likelihood : float
        Total over customers, in the fitting time unit, without the penalizer.
    n_customers, n_repeat_customers, n_patterns : int
        Customers fitted, those with a repeat purchase, and unique (frequency, recency, T)
        rows the fit ran on.
    time_unit_days : float
        Days per model time unit.
    period_days : int
        Days per purchase period: 1 when ``frequency`` counts purchase days, 7 for weeks.
        Predictions count purchase periods.
    penalizer : float
        The penalizer of the accepted fit (0 unless the unpenalized fit failed), on the mean
        negative log-likelihood per customer, for every model.
    attempts : tuple of FitAttempt
        Every penalizer tried, in order.
    fitter : lifetimes fitter
        The fitted ``BetaGeoFitter``, ``ParetoNBDFitter`` or ``ModifiedBetaGeoFitter``;
        its ``data`` holds the unique rows (in the time unit) and their ``weights``. It has
        no standard errors and no ``generate_new_data`` (see :mod:`segmentation.clv._lifetimes`).
    fit_seconds : float
        Wall time of the fit, compression included.
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    n_repeat_customers: int
    n_patterns: int
    time_unit_days: float
    period_days: int
    penalizer: float
    attempts: tuple[FitAttempt, ...]
    fitter: Any = field(repr=False)
    fit_seconds: float = field(default=0.0, compare=False)

    @property
    def title(self) -> str:
        """Display name, e.g. ``"Pareto/NBD"``."""
        return MODEL_TITLES[self.model]

    def _on_unique(
        self, method: Callable[..., Any], patterns: CustomerPatterns, *args: float
    ) -> np.ndarray:
        """lifetimes' ``method`` on each unique row of ``patterns`` (recency and T in days).

        The predictions depend on a customer's (frequency, recency, T) only, so
        ``result[patterns.inverse]`` is what the method gives customer by customer.
        """
        unit = self.time_unit_days
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            values = method(
                *args,
                patterns.frequency.astype(float),
                patterns.recency / unit,
                patterns.T / unit,
            )
        return np.asarray(values, dtype=float).reshape(-1)

    def _on_patterns(
        self, method: Callable[..., Any], frequency: Any, recency: Any, T: Any, *args: float
    ) -> np.ndarray:
        patterns = compress_customers(frequency, recency, T)
        return self._on_unique(method, patterns, *args)[patterns.inverse]

    def _expected_purchases_unique(
        self, horizon_days: float, patterns: CustomerPatterns
    ) -> np.ndarray:
        """:meth:`expected_purchases` of each unique row of ``patterns``."""
        method = self.fitter.conditional_expected_number_of_purchases_up_to_time
        return self._on_unique(method, patterns, horizon_days / self.time_unit_days)

    def _expected_purchases_by_day(
        self, days: Sequence[float], patterns: CustomerPatterns
    ) -> np.ndarray:
        """:meth:`_expected_purchases_unique` at each of ``days``, one column per day.

        lifetimes' Pareto/NBD computes the customer's likelihood, the same for every horizon,
        again on each call; here it is computed once and each day adds only its own term. The
        arithmetic is lifetimes' ``conditional_expected_number_of_purchases_up_to_time``
        term for term, so every value is the same to the bit (tested).
        """
        lifetimes = _import_lifetimes()
        if not isinstance(self.fitter, lifetimes.ParetoNBDFitter):
            return np.column_stack([self._expected_purchases_unique(d, patterns) for d in days])
        from scipy.special import gammaln

        unit = self.time_unit_days
        x = patterns.frequency.astype(float)
        t_x, T = patterns.recency / unit, patterns.T / unit
        columns = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            params = self.fitter._unload_params("r", "alpha", "s", "beta")
            r, alpha, s, beta = params
            likelihood = self.fitter._conditional_log_likelihood(params, x, t_x, T)
            first_term = (
                gammaln(r + x)
                - gammaln(r)
                + r * np.log(alpha)
                + s * np.log(beta)
                - (r + x) * np.log(alpha + T)
                - s * np.log(beta + T)
            )
            second_term = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
            for day in days:
                t = day / unit
                third_term = np.log((1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1))
                values = np.exp(first_term + second_term + third_term - likelihood)
                columns.append(np.asarray(values, dtype=float).reshape(-1))
        return np.column_stack(columns)

    def expected_purchases(
        self, horizon_days: float, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Expected repeat purchase periods in the next ``horizon_days``, per customer.

        Parameters
        ----------
        horizon_days : float
        frequency, recency, T : array-like
            Per customer; ``recency`` and ``T`` in days.

        Returns
        -------
        numpy.ndarray
            ``E[X(t) | frequency, recency, T]`` (FHL 2005 equation (10) for BG/NBD).
        """
        method = self.fitter.conditional_expected_number_of_purchases_up_to_time
        return self._on_patterns(method, frequency, recency, T, horizon_days / self.time_unit_days)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive) at the end of the observation, per customer (``recency``, ``T`` in days)."""
        return self._on_patterns(self.fitter.conditional_probability_alive, frequency, recency, T)

    def expected_purchases_since_first(self, days: Any) -> np.ndarray:
        """Expected repeat purchase periods of a new customer ``days`` after the first one."""
        t = np.asarray(days, dtype=float) / self.time_unit_days
        unique, inverse = np.unique(t, return_inverse=True)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            values = np.asarray(
                self.fitter.expected_number_of_purchases_up_to_time(unique), dtype=float
            )
        return np.where(unique > 0, values, 0.0)[inverse].reshape(t.shape)

    def summary(self) -> dict[str, Any]:
        """Parameters and fit statistics as plain Python values (for JSON)."""
        return {
            "model": self.model,
            "title": self.title,
            "params": {k: float(v) for k, v in self.params.items()},
            "log_likelihood": float(self.log_likelihood),
            "time_unit_days": float(self.time_unit_days),
            "period_days": int(self.period_days),
            "n_customers": int(self.n_customers),
            "n_repeat_customers": int(self.n_repeat_customers),
            "n_patterns": int(self.n_patterns),
            "penalizer": float(self.penalizer),
        }


def _check_period_days(period_days: int) -> int:
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days < 1:
        raise CLVInputError(
            f"period_days must be a whole number of days, at least 1 (1 = purchase days, "
            f"7 = purchase weeks; config clv.period_days, clv.backtest.period_days or "
            f"--period-days); got {period_days!r}."
        )
    return period_days


def _fit_with_penalizers(
    fit_once: Callable[[float, _FitBudget], Any],
    penalizers: Sequence[float],
    *,
    model: str,
    title: str,
    failure: str,
    advice: str,
    fit_limits: FitLimits,
) -> tuple[Any, float, tuple[FitAttempt, ...]]:
    """Call ``fit_once(penalizer, budget)`` for each penalizer until a fit has finite parameters.

    ``fit_once`` returns a fitted lifetimes object or raises (lifetimes' ``ConvergenceError``
    is a ``ValueError``). When every penalizer fails, :class:`CLVFitError` says ``failure``,
    the penalizers tried, the last reason and ``advice``. One budget of ``fit_limits`` serves
    every attempt: past its deadline (a :class:`TimeoutError` from the objective),
    :class:`CLVFitError` says ``title``, the limit and ``advice`` at once.
    """
    if not penalizers:
        raise CLVInputError("penalizers must name at least one value (e.g. [0.0]).")
    attempts: list[FitAttempt] = []
    budget = fit_limits.start()
    for penalizer in (float(p) for p in penalizers):
        try:
            fitter = fit_once(penalizer, budget)
        except TimeoutError:
            attempts.append(FitAttempt(penalizer, False, budget.timeout_message()))
            raise CLVFitError(
                f"{title}: {budget.timeout_message()}, with penalizer {penalizer:g}; {advice}",
                model=model,
                attempts=attempts,
            ) from None
        except (ValueError, ArithmeticError) as error:  # LinAlgError is a ValueError
            message = " ".join(str(error).split()).rstrip(".")
            attempts.append(FitAttempt(penalizer, False, f"{type(error).__name__}: {message}"))
            continue
        values = np.asarray(fitter.params_, dtype=float)
        if np.all(np.isfinite(values)) and np.all(values > 0):
            attempts.append(FitAttempt(penalizer, True, "converged"))
            return fitter, penalizer, tuple(attempts)
        found = ", ".join(f"{k} = {v:.4g}" for k, v in fitter.params_.items())
        attempts.append(
            FitAttempt(penalizer, False, f"parameters not finite and positive: {found}")
        )
    tried = ", ".join(f"{a.penalizer:g}" for a in attempts)
    raise CLVFitError(
        f"{failure} with any penalizer ({tried}); last: {attempts[-1].message}. {advice}",
        model=model,
        attempts=attempts,
    )


def _purchase_fitter(
    model: str,
    penalizer: float,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    budget: _FitBudget,
    start: dict[str, float] | None = None,
    pareto_options: Mapping[str, float] | None = None,
    pareto_cap: float | None = None,
) -> Any:
    """Fit lifetimes' fitter for ``model`` to unique rows with weights (time in model units).

    What lifetimes' ``fit`` does, minus what the kit never uses: the Hessian and standard
    errors (BG/NBD, MBG/NBD) and the ``generate_new_data`` lambda (which standard pickle
    cannot store). The time scaling and likelihood are lifetimes' own, and so is the
    optimiser but for Pareto/NBD, whose likelihood L-BFGS-B minimises
    (:func:`segmentation.clv._lifetimes._pareto_minimize`, :data:`PARETO_FIT_OPTIONS`) where
    lifetimes runs Nelder-Mead. ``budget`` bounds it; ``start`` (parameters in model time
    units) replaces lifetimes' start, for a bootstrap refit, ``pareto_options`` the
    L-BFGS-B options of :data:`PARETO_FIT_OPTIONS`, and ``pareto_cap`` bounds a Pareto/NBD
    refit's ``s`` and ``beta`` by that many times their ``start``.
    """
    lifetimes = _import_lifetimes()
    fitter_class = getattr(lifetimes, _FITTER_CLASSES[model])
    scale = 1.0 / T.max()  # lifetimes' _scale_time: the largest T becomes 1
    scaled = (frequency, recency * scale, T * scale, weights)
    x0 = None
    if start is not None:
        x0 = np.array([start[name] for name in PARAMETER_NAMES[model]], dtype=float)
        x0[1] *= scale  # alpha
        if model == "pareto":
            x0[3] *= scale  # beta
        else:
            x0 = np.log(x0)
    with _lifetimes_call():
        if model != "pareto":
            fitter = fitter_class(penalizer_coef=penalizer)
            log_params = _minimize_as_lifetimes(
                fitter, (*scaled, penalizer), 4, budget=budget, start=x0
            )
            params = pd.Series(np.exp(log_params), index=list(PARAMETER_NAMES[model]))
            params["alpha"] /= scale
        else:
            # lifetimes' Pareto/NBD objective is the weighted total over the mean weight: so
            # that the penalizer means what it means for the other models (and does not change
            # with the compression), it is scaled by the number of rows.
            fitter = fitter_class(penalizer_coef=penalizer * len(weights))
            values, fitter._negative_log_likelihood_ = _pareto_minimize(
                (*scaled, fitter.penalizer_coef),
                options=PARETO_FIT_OPTIONS if pareto_options is None else pareto_options,
                budget=budget,
                start=x0,
                upper=_pareto_upper(x0, pareto_cap),
            )
            fitter._hessian_ = None
            params = pd.Series(values, index=list(PARAMETER_NAMES[model]))
            params["alpha"] /= scale
            params["beta"] /= scale
    fitter._scale = scale
    fitter.params_ = params
    fitter.data = pd.DataFrame(
        {"frequency": frequency, "recency": recency, "T": T, "weights": weights}
    )
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


def _pareto_upper(start: np.ndarray | None, cap: float | None) -> np.ndarray | None:
    """Upper bounds of a Pareto/NBD refit (time scaled): ``s`` and ``beta`` at most ``cap``
    times their start, ``r`` and ``alpha`` free; None without a start or a cap."""
    if start is None or cap is None:
        return None
    return np.array([np.inf, np.inf, cap * start[2], cap * start[3]])


def _purchase_log_likelihood(
    model: str,
    fitter: Any,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
) -> float:
    """Total log-likelihood at the fitted parameters: lifetimes' own, without the penalizer."""
    values = np.array([fitter.params_[name] for name in PARAMETER_NAMES[model]], dtype=float)
    weights = weights.astype(float)
    with _lifetimes_call():
        # On the unscaled times, with weights. BG/NBD and MBG/NBD take log-parameters and
        # return the mean over customers; Pareto/NBD the weighted total over the mean weight.
        nll = float(
            type(fitter)._negative_log_likelihood(
                values if model == "pareto" else np.log(values), frequency, recency, T, weights, 0.0
            )
        )
    return -nll * float(weights.mean() if model == "pareto" else weights.sum())


def _fit_purchase_patterns(
    patterns: CustomerPatterns,
    *,
    model: str,
    time_unit_days: float,
    period_days: int,
    penalizers: Sequence[float],
    min_repeat_customers: int,
    started: float,
    fit_limits: FitLimits,
) -> PurchaseModelFit:
    """:func:`fit_purchase_model` on buyers already checked and compressed.

    Raises :class:`CLVUnavailableError` first when they have too few repeat buyers.
    """
    title = MODEL_TITLES[model]
    frequency = patterns.frequency
    n_repeat = int(patterns.weight[frequency > 0].sum())
    _check_repeat_buyers(
        patterns.n_customers, n_repeat, min_repeat_customers, what=title, period_days=period_days
    )
    recency = patterns.recency / time_unit_days
    T = patterns.T / time_unit_days
    weights = patterns.weight
    fitter, penalizer, attempts = _fit_with_penalizers(
        lambda penalizer, budget: _purchase_fitter(
            model, penalizer, frequency, recency, T, weights, budget
        ),
        penalizers,
        model=model,
        title=title,
        failure=f"{title} did not converge on {patterns.n_customers:,} customers",
        advice="CLV is unavailable with this model: try another model (bgnbd, pareto, "
        "mbgnbd) or a longer order history.",
        fit_limits=fit_limits,
    )
    return PurchaseModelFit(
        model=model,
        params={name: float(fitter.params_[name]) for name in PARAMETER_NAMES[model]},
        log_likelihood=_purchase_log_likelihood(model, fitter, frequency, recency, T, weights),
        n_customers=patterns.n_customers,
        n_repeat_customers=n_repeat,
        n_patterns=len(patterns),
        time_unit_days=float(time_unit_days),
        period_days=period_days,
        penalizer=penalizer,
        attempts=attempts,
        fitter=fitter,
        fit_seconds=time.perf_counter() - started,
    )


def fit_purchase_rows(
    rows: pd.DataFrame,
    *,
    model: str = "bgnbd",
    time_unit_days: float = 7.0,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
    fit_limits: FitLimits | None = None,
) -> PurchaseModelFit:
    """:func:`fit_purchase_model` on buyers already compressed elsewhere (an engine).

    Parameters
    ----------
    rows : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` (days; purchase days) and ``weight`` (customers
        with that row, at least 1), as :func:`segmentation.engine.clv_rows_expr` gives
        them. Equal rows are added up and the rows sorted, so the fit is the one
        :func:`fit_purchase_model` makes on those customers, to the bit.
    model, time_unit_days, penalizers, min_repeat_customers, fit_limits
        As :func:`fit_purchase_model`.

    Returns
    -------
    PurchaseModelFit
        Its ``n_customers`` is the weights' sum; predictions take per-row arrays
        (``fit.expected_purchases(days, rows.frequency, rows.recency, rows.T)``).

    Raises
    ------
    CLVInputError
        A row that no snapshot gives (see :func:`fit_purchase_model`), or a weight below 1.
    CLVUnavailableError, CLVFitError
        As :func:`fit_purchase_model`.
    """
    started = time.perf_counter()
    _check_fit_options(model, 1, time_unit_days)
    what = f"{MODEL_TITLES[model]} fit on compressed rows"
    if "weight" not in rows.columns:
        raise MissingColumnError(
            f"{what}: no column 'weight' (found {', '.join(map(str, rows.columns))}); pass "
            "engine.clv_rows_expr's rows, or fit_purchase_model for one row per customer."
        )
    checked = _buyer_columns(rows, what=what)
    weight = rows["weight"].to_numpy(dtype=np.int64)
    if (weight < 1).any():
        raise CLVInputError(
            f"{what}: {int((weight < 1).sum())} row(s) with a weight below 1; a weight "
            "counts the customers with that row."
        )
    summed = (
        checked.assign(weight=weight)
        .groupby(["frequency", "recency", "T"], sort=True)["weight"]
        .sum()
        .reset_index()
    )
    patterns = CustomerPatterns(
        summed["frequency"].to_numpy(dtype=np.int64),
        summed["recency"].to_numpy(dtype=float),
        summed["T"].to_numpy(dtype=float),
        summed["weight"].to_numpy(dtype=np.int64),
        np.arange(len(summed)),
    )
    return _fit_purchase_patterns(
        patterns,
        model=model,
        time_unit_days=time_unit_days,
        period_days=1,
        penalizers=penalizers,
        min_repeat_customers=min_repeat_customers,
        started=started,
        fit_limits=fit_limits or default_fit_limits(),
    )


def _check_fit_options(model: str, period_days: int, time_unit_days: float) -> None:
    _check_model(model, allow_auto=False)
    _check_period_days(period_days)
    if not time_unit_days > 0:
        raise CLVInputError(f"time_unit_days must be positive, got {time_unit_days}.")


def fit_purchase_model(
    summary: pd.DataFrame,
    *,
    model: str = "bgnbd",
    time_unit_days: float = 7.0,
    period_days: int = 1,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
    compress: bool = True,
    fit_limits: FitLimits | None = None,
) -> PurchaseModelFit:
    """Fit BG/NBD, Pareto/NBD or MBG/NBD to customers' frequency, recency and T.

    lifetimes' fitter runs on the unique (frequency, recency, T) rows with their counts as
    ``weights``. Pareto/NBD's likelihood is minimised by L-BFGS-B over log-parameters
    (:data:`PARETO_FIT_OPTIONS`) from a start of ones.

    Parameters
    ----------
    summary : pandas.DataFrame
        The customer snapshot or :func:`segmentation.features.repeat_purchase_summary`:
        ``frequency``, ``recency`` and ``T`` in days. Potential customers (``is_potential``
        or missing ``T``) are left out: the models describe customers after a first purchase.
    model : {"bgnbd", "pareto", "mbgnbd"}, default "bgnbd"
    time_unit_days : float, default 7
        Days per model time unit: the papers fit in weeks.
    period_days : int, default 1
        The purchase period ``summary`` was counted in (1: purchase days, as the snapshot;
        7: weeks, ``repeat_purchase_summary(..., period_days=7)``); recency and T must be
        whole periods.
    penalizers : sequence of float, default (0, 1e-4, 1e-3, 1e-2, 0.1)
        Tried in turn until a fit converges to finite parameters; each multiplies
        ``sum(params ** 2)`` (time scaled so the largest T is 1, as lifetimes does) added to
        the mean negative log-likelihood per customer.
    min_repeat_customers : int, default 30
        Fewer customers with a repeat purchase raise :class:`CLVUnavailableError`.
    compress : bool, default True
        ``False`` fits one row per customer (the same parameters, slower; for checking).
    fit_limits : FitLimits, optional
        Iterations per attempt and wall time of the fit; the built-in config's
        ``clv.fit_limits`` when omitted.

    Returns
    -------
    PurchaseModelFit

    Raises
    ------
    CLVUnavailableError
        No buyers, or fewer than ``min_repeat_customers`` repeat buyers.
    CLVFitError
        No penalizer gave a converged fit with finite parameters within
        ``fit_limits.max_iterations``, or the fit ran past ``fit_limits.max_seconds``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). Counting Your Customers: Who
    Are They and What Will They Do Next? Management Science 33(1), 1-24.

    Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). Empirical validation and
    comparison of models for customer base analysis. International Journal of Research in
    Marketing 24(3), 201-209.
    """
    started = time.perf_counter()
    _check_fit_options(model, period_days, time_unit_days)
    rows = _buyer_columns(summary, what=f"{MODEL_TITLES[model]} fit", period_days=period_days)
    patterns = compress_customers(
        rows["frequency"].to_numpy(dtype=np.int64),
        rows["recency"].to_numpy(float),
        rows["T"].to_numpy(float),
        compress=compress,
    )
    return _fit_purchase_patterns(
        patterns,
        model=model,
        time_unit_days=time_unit_days,
        period_days=period_days,
        penalizers=penalizers,
        min_repeat_customers=min_repeat_customers,
        started=started,
        fit_limits=fit_limits or default_fit_limits(),
    )
