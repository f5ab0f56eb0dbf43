"""Customer lifetime value: BG/NBD, Pareto/NBD or MBG/NBD purchases and Gamma-Gamma spend.

The purchase models describe a customer by ``frequency`` (repeat purchase periods),
``recency`` (days from the first to the last purchase period) and ``T`` (days from the first
purchase period to the observation end), as :func:`segmentation.features.repeat_purchase_summary`
and the customer snapshot count them. Models are fitted in a configurable time unit (weeks,
days / 7, by default, as in the papers) and every result is reported in days.

Every fit is lifetimes' own (``BetaGeoFitter``, ``ParetoNBDFitter``, ``ModifiedBetaGeoFitter``,
``GammaGammaFitter``), run on the customers compressed to their unique rows with ``weights=``
counts: the likelihood summed over unique rows with counts is the sum over customers, so the
parameters are those of the uncompressed fit (tests check 1e-4) at a fraction of the rows.
The unique rows are sorted (frequency, then recency, then T), which alone makes lifetimes'
likelihoods 20-40% faster per evaluation. The fit is what lifetimes' ``fit`` does (its time
scaling, its likelihood, scipy's ``minimize`` with lifetimes' method, start and tolerance;
for Pareto/NBD its own ``_fit``), minus what the kit never uses: the Hessian and standard
errors it computes after optimising (a quarter to a third of a BG/NBD fit) and the
``generate_new_data`` lambda. The parameters are bit for bit those of lifetimes' ``fit`` on
the same rows (tests check).

The predictions (conditional expected purchases, P(alive), expected spend) are the fitted
lifetimes objects' own methods, run on the unique rows and broadcast back to the customers.
A fit that does not converge, or whose parameters are not finite and positive, is retried
with a growing ``penalizer_coef`` and, if none works, raises :class:`CLVFitError`.

Every object returned (fits, forecasts, the backtest, the schemes' details) pickles with the
standard library's ``pickle`` (no ``dill``): the fitters hold no lambda.

Time resolution: ``period_days``
--------------------------------
How many unique rows there are, and so how fast a fit is, depends on how finely purchases are
timed. With ``period_days=1`` a purchase is a purchase day and recency and T are days (divided
by 7 for the fit): the route of the papers and of the CDNOW tests. A million simulated
customers over 78 weeks still have 216,455 unique daily rows. With ``period_days=7`` a
purchase is a purchase week (weeks ending on the observation end: lifetimes' ``freq="W"``
anchored on that day rather than on a Sunday), recency and T are whole weeks, and the unique
rows are bounded by (frequency values) x (recency weeks) x (T weeks): 14,131 for the same
million. The weekly model predicts purchase weeks and its Gamma-Gamma spend is per purchase
week, so the CLV stays consistent.

Defaults: the backtest run by the CLI and the report counts purchase weeks
(``clv.backtest.period_days: 7``): it fits all three models on every customer, and weeks make
that fast at a million customers (:func:`benchmark_compressed_fit` measures it).
:func:`clv_backtest` itself defaults to days, the published route. The CLV schemes
(:func:`clv_tier_scheme`, :func:`churn_risk_scheme`) read ``clv.period_days``, which is 1: a
scheme sees only the customer snapshot, which counts purchase days, and purchase weeks cannot
be recovered from it without the orders.

lifetimes is imported only inside functions, through :func:`_import_lifetimes`, which restores
the pandas option and the warning filters that importing lifetimes changes; every call into
lifetimes runs inside :func:`_lifetimes_call`, which also keeps its prints off stdout.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from segmentation.arrays import day_number, run_start_mask
from segmentation.errors import (
    CLVFitError,
    CLVInputError,
    CLVUnavailableError,
    MissingColumnError,
    SchemeUnavailable,
)
from segmentation.features import purchase_days
from segmentation.schemes.base import (
    Segmentation,
    config_section,
    config_segments,
    make_segmentation,
)

__all__ = [
    "CLV_SCHEMES",
    "DEFAULT_PENALIZERS",
    "MODEL_NAMES",
    "MODEL_TITLES",
    "PARAMETER_NAMES",
    "PARETO_FIT_OPTIONS",
    "CLVBacktest",
    "CLVFitError",
    "CLVForecast",
    "CLVInputError",
    "CLVUnavailableError",
    "CustomerPatterns",
    "FitAttempt",
    "PurchaseModelFit",
    "SpendModelFit",
    "backtest_from_config",
    "benchmark_compressed_fit",
    "churn_risk_scheme",
    "clv_backtest",
    "clv_tier_scheme",
    "compress_customers",
    "customer_clv",
    "default_backtest_dates",
    "fit_purchase_model",
    "fit_spend_model",
    "lifetimes_summary",
    "simulate_bgnbd_summary",
]

MODEL_NAMES: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd")
MODEL_TITLES: dict[str, str] = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD"}
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
}
DEFAULT_PENALIZERS: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2, 0.1)
DEFAULT_MONTH_DAYS = 365.25 / 12

#: Options for lifetimes' ``ParetoNBDFitter.fit`` (which also gets a start of ones, the mean
#: of its default random start, so that two runs agree). Its default ``tol=1e-4`` stops
#: Nelder-Mead in time-scaled parameters up to 1.2e-4 short of the optimum along the flat
#: ``beta`` direction (CDNOW sample); 1e-8 gets within 1e-7.
PARETO_FIT_OPTIONS: dict[str, Any] = {"tol": 1e-8, "maxiter": 20_000}

_SPEND_BASES = ("gamma_gamma", "population_mean")

_FITTER_CLASSES = {
    "bgnbd": "BetaGeoFitter",
    "pareto": "ParetoNBDFitter",
    "mbgnbd": "ModifiedBetaGeoFitter",
}
# scipy's Nelder-Mead status when it stops before converging (it warns only with disp=True).
_NOT_CONVERGED = "Maximum number of"


# --- lifetimes --------------------------------------------------------------------------------


def _import_lifetimes() -> ModuleType:
    """Import lifetimes, undoing what its import does to global state.

    ``lifetimes.utils`` sets ``pandas.options.mode.chained_assignment = None`` and
    ``lifetimes.fitters`` adds warning filters (``ignore`` for every FutureWarning) at import.
    """
    if "lifetimes" in sys.modules:
        return sys.modules["lifetimes"]
    with warnings.catch_warnings():  # restores the warning filters on exit
        warnings.simplefilter("ignore")
        try:
            before = pd.get_option("mode.chained_assignment")
        except (KeyError, pd.errors.OptionError):  # removed in a future pandas
            before = None
            has_option = False
        else:
            has_option = True
        import lifetimes

        if has_option:
            pd.set_option("mode.chained_assignment", before)
    return lifetimes


@contextlib.contextmanager
def _lifetimes_call() -> Iterator[list[warnings.WarningMessage]]:
    """Run lifetimes code quietly; yields the warnings it raised.

    lifetimes' likelihoods call ``warnings.simplefilter`` on every evaluation and its base
    fitter prints the optimiser's result when a fit fails: both stay inside this block.
    """
    with (
        warnings.catch_warnings(record=True) as caught,
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("always")
        yield caught


# --- compression ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerPatterns:
    """Customers compressed to their unique ``(frequency, recency, T)`` rows.

    Attributes
    ----------
    frequency, recency, T : numpy.ndarray
        One entry per unique row, in the units given (days, usually).
    weight : numpy.ndarray
        How many customers have that row (int64); sums to the number of customers.
    inverse : numpy.ndarray
        For each customer, in input order, the position of their row:
        ``frequency[inverse]`` gives back the input.
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray

    @property
    def n_customers(self) -> int:
        """Number of customers compressed."""
        return len(self.inverse)

    def __len__(self) -> int:
        return len(self.weight)


# A whole-number column is coded through a table of the values present (no hashing, no sort)
# when its range is at most this much above 4 per row; so is a combined key.
_DENSE_EXTRA = 1 << 20
# Combined keys beyond this do not fit an int64: such rows are sorted as they are.
_MAX_KEYS = 2**62


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each value among the column's sorted unique values, and those values.

    ``uniques[codes]`` gives ``values`` back exactly. Whole numbers in a modest range (days,
    weeks, counts) are ranked through a presence table in O(n); anything else is hashed with
    ``pandas.factorize`` and only the unique values are sorted.
    """
    n = len(values)
    if n and values.dtype.kind in "iuf":
        low, high = values.min(), values.max()
        whole = values.dtype.kind in "iu" or (
            bool(np.isfinite(low) and np.isfinite(high))
            and bool(np.all(values == np.floor(values)))
        )
        if whole and high - low < 4 * n + _DENSE_EXTRA:
            offsets = (values - low).astype(np.int64)
            present = np.zeros(int(high - low) + 1, dtype=bool)
            present[offsets] = True
            rank = np.cumsum(present, dtype=np.int64) - 1
            return rank[offsets], (low + np.flatnonzero(present)).astype(values.dtype)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    uniques = np.asarray(uniques)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank[codes], uniques[order]


def _unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of equal-length columns: (unique columns, counts, row of each input).

    The unique rows come sorted by the first column, then the second, and so on: lifetimes'
    likelihoods and predictions run markedly faster over sorted rows (scipy's ``hyp2f1`` and
    autograd's gathers), and the order is the same whatever the input order.
    """
    n = len(columns[0])
    coded = [_sorted_codes(np.asarray(column)) for column in columns]
    sizes = [max(len(uniques), 1) for _, uniques in coded]
    n_keys = math.prod(sizes)
    if n_keys > _MAX_KEYS:  # no room for one integer key: sort the codes themselves
        codes = np.column_stack([c for c, _ in coded]) if n else np.zeros((0, len(coded)), int)
        unique_codes, inverse, weight = np.unique(
            codes, axis=0, return_inverse=True, return_counts=True
        )
        unique_columns = [u[unique_codes[:, k]] for k, (_, u) in enumerate(coded)]
        return unique_columns, weight.astype(np.int64), inverse.reshape(-1).astype(np.int64)
    # One integer key per row, in the same lexicographic order as the rows.
    key = np.zeros(n, dtype=np.int64)
    for (codes, _), size in zip(coded, sizes, strict=True):
        key *= size
        key += codes
    if n_keys <= 4 * n + _DENSE_EXTRA:
        counts = np.bincount(key, minlength=n_keys)
        unique_keys = np.flatnonzero(counts)
        inverse = (np.cumsum(counts > 0, dtype=np.int64) - 1)[key]
        weight = counts[unique_keys]
    else:  # hash the keys, then sort the unique ones only
        first_seen, keys_seen = pd.factorize(key)
        keys_seen = np.asarray(keys_seen, dtype=np.int64)
        order = np.argsort(keys_seen)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        inverse = rank[first_seen]
        unique_keys = keys_seen[order]
        weight = np.bincount(inverse, minlength=len(order))
    unique_columns = []
    rest = unique_keys
    for (_, uniques), size in zip(reversed(coded), reversed(sizes), strict=True):
        unique_columns.append(uniques[rest % size])
        rest = rest // size
    return unique_columns[::-1], weight.astype(np.int64), inverse.astype(np.int64, copy=False)


def compress_customers(
    frequency: np.ndarray | pd.Series,
    recency: np.ndarray | pd.Series,
    T: np.ndarray | pd.Series,
    *,
    compress: bool = True,
) -> CustomerPatterns:
    """Compress customers to their unique ``(frequency, recency, T)`` rows with counts.

    Equal rows are equal floats: nothing is rounded, so a likelihood summed over the unique
    rows with these weights (lifetimes' ``weights=``) equals the sum over customers. The
    unique rows come sorted by frequency, recency and T, as ``numpy.unique(..., axis=0)``
    would give them (tests check), but in O(n) for whole days or weeks: each column is
    ranked through a table of the values present and the three ranks make one integer key,
    counted with ``numpy.bincount``.

    Parameters
    ----------
    frequency, recency, T : array-like
        One entry per customer.
    compress : bool, default True
        ``False`` keeps one row per customer (weights of 1), for checking the compressed fit.

    Returns
    -------
    CustomerPatterns
    """
    f = np.asarray(frequency, dtype=np.int64)
    r = np.asarray(recency, dtype=float)
    t = np.asarray(T, dtype=float)
    if not compress or len(f) == 0:
        n = len(f)
        return CustomerPatterns(f, r, t, np.ones(n, dtype=np.int64), np.arange(n))
    (f_unique, r_unique, t_unique), weight, inverse = _unique_rows(f, r, t)
    return CustomerPatterns(f_unique, r_unique, t_unique, weight, inverse)


# --- fitting ---------------------------------------------------------------------------------


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


def _picklable_fitter(fitter: Any) -> Any:
    """``fitter``, or a shallow copy without lifetimes' ``generate_new_data`` lambda.

    The kit's own fits never set it (see :func:`_purchase_fitter`); a fitter that went through
    lifetimes' ``fit`` has it, and standard pickle cannot store a lambda.
    """
    if "generate_new_data" not in getattr(fitter, "__dict__", {}):
        return fitter
    clone = copy.copy(fitter)
    del clone.generate_new_data
    for name, value in vars(fitter).items():
        if getattr(value, "__self__", None) is fitter:  # e.g. predict: bind it to the copy
            setattr(clone, name, getattr(clone, value.__name__))
    return clone


@dataclass(frozen=True)
class PurchaseModelFit:
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
        no standard errors and no ``generate_new_data`` (see the module notes).
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

    def __getstate__(self) -> dict[str, Any]:
        # Standard pickle: a fitter from lifetimes' own fit holds a lambda; drop it.
        return {**self.__dict__, "fitter": _picklable_fitter(self.fitter)}

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
    fit_once: Callable[[float], Any],
    penalizers: Sequence[float],
    *,
    model: str,
    failure: str,
    advice: str,
) -> tuple[Any, float, tuple[FitAttempt, ...]]:
    """Call ``fit_once(penalizer)`` for each penalizer until a fit has finite parameters.

    ``fit_once`` returns a fitted lifetimes object or raises (lifetimes' ``ConvergenceError``
    is a ``ValueError``). When every penalizer fails, :class:`CLVFitError` says ``failure``,
    the penalizers tried, the last reason and ``advice``.
    """
    if not penalizers:
        raise CLVInputError("penalizers must name at least one value (e.g. [0.0]).")
    attempts: list[FitAttempt] = []
    for penalizer in (float(p) for p in penalizers):
        try:
            fitter = fit_once(penalizer)
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


def _minimize_as_lifetimes(fitter: Any, args: tuple[Any, ...], n_params: int) -> np.ndarray:
    """lifetimes' ``BaseFitter._fit`` without its Hessian: the optimum, in log-parameters.

    The same call of scipy's ``minimize`` as lifetimes' ``fit`` makes for BG/NBD, MBG/NBD and
    Gamma-Gamma (BFGS on autograd's value and gradient of the fitter's own
    ``_negative_log_likelihood``, lifetimes' start of 0.1 in every log-parameter and its
    ``tol`` of 1e-7), so the parameters are lifetimes' to the last bit. lifetimes then takes
    autograd's Hessian for standard errors, which the kit never shows: a quarter to a third of
    the fit, left out. Raises lifetimes' ``ConvergenceError`` when scipy reports a failure.
    """
    from autograd import value_and_grad
    from lifetimes.utils import ConvergenceError
    from scipy.optimize import minimize

    output = minimize(
        value_and_grad(fitter._negative_log_likelihood),
        jac=True,
        method=None,
        tol=1e-7,
        x0=0.1 * np.ones(n_params),
        args=args,
        options={"disp": False},
        bounds=None,
    )
    if not output.success:
        raise ConvergenceError(
            f"The model did not converge ({output.message}). Try adding a larger penalizer."
        )
    fitter._negative_log_likelihood_ = output.fun
    fitter._hessian_ = None
    return np.asarray(output.x, dtype=float)


def _purchase_fitter(
    model: str,
    penalizer: float,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
) -> Any:
    """Fit lifetimes' fitter for ``model`` to unique rows with weights (time in model units).

    What lifetimes' ``fit`` does, minus what the kit never uses: the Hessian and standard
    errors (BG/NBD, MBG/NBD) and the ``generate_new_data`` lambda (which standard pickle
    cannot store). The time scaling, likelihood and optimiser are lifetimes' own; Pareto/NBD
    runs lifetimes' own ``_fit`` (Nelder-Mead, no Hessian).
    """
    lifetimes = _import_lifetimes()
    fitter_class = getattr(lifetimes, _FITTER_CLASSES[model])
    scale = 1.0 / T.max()  # lifetimes' _scale_time: the largest T becomes 1
    scaled = (frequency, recency * scale, T * scale, weights)
    with _lifetimes_call() as caught:
        if model != "pareto":
            fitter = fitter_class(penalizer_coef=penalizer)
            log_params = _minimize_as_lifetimes(fitter, (*scaled, penalizer), 4)
            params = pd.Series(np.exp(log_params), index=list(PARAMETER_NAMES[model]))
            params["alpha"] /= scale
        else:
            # lifetimes' Pareto/NBD objective is the weighted total over the mean weight: so
            # that the penalizer means what it means for the other models (and does not change
            # with the compression), it is scaled by the number of rows.
            fitter = fitter_class(penalizer_coef=penalizer * len(weights))
            options = dict(PARETO_FIT_OPTIONS)
            values, fitter._negative_log_likelihood_ = fitter._fit(
                (*scaled, fitter.penalizer_coef),
                1,  # iterative_fitting: one run, from the start below
                np.ones(4),
                4,
                True,  # verbose: makes scipy warn when Nelder-Mead stops before converging
                options.pop("tol", 1e-4),
                "Nelder-Mead",
                options.pop("maxiter", 2000),
                **options,
            )
            fitter._hessian_ = None
            params = pd.Series(values, index=list(PARAMETER_NAMES[model]))
            params["alpha"] /= scale
            params["beta"] /= scale
    stopped = [str(w.message) for w in caught if str(w.message).startswith(_NOT_CONVERGED)]
    if stopped:
        raise ValueError(f"Nelder-Mead did not converge: {stopped[0]}")
    fitter._scale = scale
    fitter.params_ = params
    fitter.data = pd.DataFrame(
        {"frequency": frequency, "recency": recency, "T": T, "weights": weights}
    )
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


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
    n_repeat: int,
    started: float,
) -> PurchaseModelFit:
    """:func:`fit_purchase_model` on customers already checked and compressed."""
    title = MODEL_TITLES[model]
    frequency = patterns.frequency
    recency = patterns.recency / time_unit_days
    T = patterns.T / time_unit_days
    weights = patterns.weight
    fitter, penalizer, attempts = _fit_with_penalizers(
        lambda penalizer: _purchase_fitter(model, penalizer, frequency, recency, T, weights),
        penalizers,
        model=model,
        failure=f"{title} did not converge on {patterns.n_customers:,} customers",
        advice="CLV is unavailable with this model: try another model (bgnbd, pareto, "
        "mbgnbd) or a longer order history.",
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
) -> PurchaseModelFit:
    """Fit BG/NBD, Pareto/NBD or MBG/NBD to customers' frequency, recency and T.

    lifetimes' fitter runs on the unique (frequency, recency, T) rows with their counts as
    ``weights``. Pareto/NBD uses :data:`PARETO_FIT_OPTIONS` and a start of ones.

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

    Returns
    -------
    PurchaseModelFit

    Raises
    ------
    CLVUnavailableError
        No buyers, or fewer than ``min_repeat_customers`` repeat buyers.
    CLVFitError
        No penalizer gave a converged fit with finite parameters.

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
    title = MODEL_TITLES[model]
    rows = _buyer_columns(summary, what=f"{title} fit", period_days=period_days)
    frequency = rows["frequency"].to_numpy(dtype=np.int64)
    n_repeat = int(np.count_nonzero(frequency > 0))
    _check_repeat_buyers(
        len(rows), n_repeat, min_repeat_customers, what=title, period_days=period_days
    )
    patterns = compress_customers(
        frequency, rows["recency"].to_numpy(float), rows["T"].to_numpy(float), compress=compress
    )
    return _fit_purchase_patterns(
        patterns,
        model=model,
        time_unit_days=time_unit_days,
        period_days=period_days,
        penalizers=penalizers,
        n_repeat=n_repeat,
        started=started,
    )


# --- spend --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendModelFit:
    """A fitted Gamma-Gamma spend model.

    Attributes
    ----------
    params : dict of str to float
        ``p``, ``q`` and ``gamma`` (lifetimes calls ``gamma`` ``v``).
    log_likelihood : float
        Total over the customers fitted, without the penalizer.
    n_customers : int
        Customers fitted: a repeat purchase and a positive mean repeat spend.
    n_nonpositive_spend : int
        Repeat customers left out because their mean repeat spend is zero or negative (the
        model is defined for positive spend only).
    frequency_monetary_corr : float
        Pearson correlation of frequency and mean spend among the customers fitted. The
        model assumes spend is independent of frequency; near 0 is what it needs (CDNOW
        sample: 0.11).
    penalizer : float
    attempts : tuple of FitAttempt
    fitter : lifetimes.GammaGammaFitter
        The fitted object; its ``data`` holds the unique (frequency, monetary_value) rows
        and their ``weights``. It has no standard errors (see the module notes).
    """

    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    n_nonpositive_spend: int
    frequency_monetary_corr: float
    penalizer: float
    attempts: tuple[FitAttempt, ...]
    fitter: Any = field(repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # Standard pickle: a fitter from lifetimes' own fit holds a lambda; drop it.
        return {**self.__dict__, "fitter": _picklable_fitter(self.fitter)}

    @property
    def population_mean(self) -> float:
        """Mean spend per purchase of a customer with no usable spend history: p·gamma/(q-1)."""
        p, q, gamma = self.params["p"], self.params["q"], self.params["gamma"]
        return p * gamma / (q - 1.0)

    def expected_average_spend(
        self, frequency: Any, monetary_value: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Conditional expected spend per purchase, and its basis, per customer.

        Customers with a repeat purchase and a positive mean repeat spend get the
        Gamma-Gamma conditional expectation (Fader & Hardie 2013, equation (5)), a weighted
        mean of their own average and the population mean. The others (one-time buyers, and
        repeat buyers whose mean repeat spend is not positive) have no usable spend history
        and get the population mean, as the formula gives for frequency 0.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The expected spend, and ``"gamma_gamma"`` or ``"population_mean"`` per customer.
        """
        spend, usable = self._expected_average_spend(frequency, monetary_value)
        return spend, np.array(_SPEND_BASES, dtype=object)[np.where(usable, 0, 1)]

    def _expected_average_spend(
        self, frequency: Any, monetary_value: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """The expected spend per customer, and which customers have a usable spend history."""
        f = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        usable = (f > 0) & (m > 0)
        spend = np.full(f.shape, self.population_mean)
        # lifetimes' own conditional expectation, customer by customer (elementwise and cheap).
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            spend[usable] = self.fitter.conditional_expected_average_profit(f[usable], m[usable])
        return spend, usable

    def summary(self) -> dict[str, Any]:
        """Parameters and fit statistics as plain Python values (for JSON)."""
        return {
            "params": {k: float(v) for k, v in self.params.items()},
            "log_likelihood": float(self.log_likelihood),
            "n_customers": int(self.n_customers),
            "n_nonpositive_spend": int(self.n_nonpositive_spend),
            "frequency_monetary_corr": _json_float(self.frequency_monetary_corr),
            "population_mean": float(self.population_mean),
            "penalizer": float(self.penalizer),
        }


def fit_spend_model(
    summary: pd.DataFrame,
    *,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
) -> SpendModelFit:
    """Fit the Gamma-Gamma model to the repeat customers' mean spend.

    lifetimes' ``GammaGammaFitter`` runs on the unique (frequency, monetary_value) pairs with
    their counts as ``weights``.

    Parameters
    ----------
    summary : pandas.DataFrame
        With ``frequency`` and ``monetary_value`` (the mean net spend of the repeat purchase
        periods, as lifetimes defines it).
    penalizers : sequence of float
        Tried in turn until a fit converges.
    min_repeat_customers : int, default 30
        Fewer repeat customers with positive spend raise :class:`CLVUnavailableError`.

    Returns
    -------
    SpendModelFit

    Raises
    ------
    CLVUnavailableError
        Too few repeat customers with positive spend, or ``q <= 1`` (no finite mean spend).
    CLVFitError
        No penalizer gave a converged fit.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
    for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.

    Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
    http://www.brucehardie.com/notes/025/
    """
    for column in ("frequency", "monetary_value"):
        if column not in summary.columns:
            raise MissingColumnError(
                f"Gamma-Gamma fit: missing column {column!r}; pass the customer snapshot or "
                "features.repeat_purchase_summary."
            )
    f_all = summary["frequency"].to_numpy(dtype=float)
    m_all = summary["monetary_value"].to_numpy(dtype=float)
    repeat = np.nan_to_num(f_all) > 0
    usable = repeat & (m_all > 0)
    n_nonpositive = int(np.count_nonzero(repeat & ~(m_all > 0)))
    n_used = int(np.count_nonzero(usable))
    if n_used < min_repeat_customers:
        raise CLVUnavailableError(
            f"Gamma-Gamma spend model: only {n_used} customer(s) have a repeat purchase with "
            f"a positive mean spend ({n_nonpositive} more have zero or negative spend); it "
            f"needs at least {min_repeat_customers} (config clv.min_repeat_customers), so "
            "CLV is unavailable for this data rather than made up."
        )
    f = f_all[usable]
    m = m_all[usable]
    (f_unique, m_unique), weights, _ = _unique_rows(f, m)
    lifetimes = _import_lifetimes()
    f_float = f_unique.astype(float)  # as lifetimes' fit converts it

    def fit_once(penalizer: float) -> Any:
        # lifetimes' GammaGammaFitter.fit without the Hessian and standard errors.
        fitter = lifetimes.GammaGammaFitter(penalizer_coef=penalizer)
        with _lifetimes_call():
            log_params = _minimize_as_lifetimes(fitter, (f_float, m_unique, weights, penalizer), 3)
        fitter.params_ = pd.Series(np.exp(log_params), index=["p", "q", "v"])
        fitter.data = pd.DataFrame(
            {"monetary_value": m_unique, "frequency": f_float, "weights": weights}
        )
        return fitter

    fitter, penalizer, attempts = _fit_with_penalizers(
        fit_once,
        penalizers,
        model="gamma_gamma",
        failure=f"Gamma-Gamma did not converge on {n_used:,} repeat customers",
        advice="Spend, and so CLV, is unavailable.",
    )
    p, q, gamma = (float(fitter.params_[name]) for name in ("p", "q", "v"))
    if q <= 1.0:
        raise CLVUnavailableError(
            f"Gamma-Gamma spend model: q = {q:.3f} <= 1, so the fitted spend distribution has "
            "no finite mean and CLV would be made up; CLV is unavailable for this data."
        )
    with _lifetimes_call():
        mean_nll = float(
            lifetimes.GammaGammaFitter._negative_log_likelihood(
                np.log([p, q, gamma]), f_unique, m_unique, weights, 0.0
            )
        )
        corr = float(np.corrcoef(f, m)[0, 1]) if n_used > 1 else float("nan")
    return SpendModelFit(
        params={"p": p, "q": q, "gamma": gamma},
        log_likelihood=-mean_nll * n_used,  # lifetimes returns the mean over customers
        n_customers=n_used,
        n_nonpositive_spend=n_nonpositive,
        frequency_monetary_corr=corr,
        penalizer=penalizer,
        attempts=attempts,
        fitter=fitter,
    )


# --- customer lifetime value ----------------------------------------------------------------------


@dataclass(frozen=True)
class CLVForecast:
    """Per-customer CLV and the models behind it.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by customer_id, one row per customer who bought (potential customers have no
        CLV: the models start at a first purchase). Columns ``frequency``, ``recency``, ``T``
        (days), ``monetary_value``, ``expected_purchases`` (repeat purchase periods over the
        horizon, undiscounted), ``p_alive``, ``expected_avg_spend``, ``spend_basis``
        (``gamma_gamma`` or ``population_mean``) and ``clv`` (discounted).
    purchase_fit : PurchaseModelFit
    spend_fit : SpendModelFit
    horizon_days : float
    monthly_discount_rate : float
    month_days : float
    """

    table: pd.DataFrame
    purchase_fit: PurchaseModelFit
    spend_fit: SpendModelFit
    horizon_days: float
    monthly_discount_rate: float
    month_days: float


def customer_clv(
    snapshot_or_summary: pd.DataFrame,
    *,
    model: str | PurchaseModelFit = "pareto",
    horizon_days: float = 365.0,
    monthly_discount_rate: float = 0.01,
    month_days: float = DEFAULT_MONTH_DAYS,
    spend_model: SpendModelFit | None = None,
    time_unit_days: float = 7.0,
    period_days: int = 1,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
) -> CLVForecast:
    """Expected purchases, P(alive), expected spend and discounted CLV per customer.

    The horizon is cut into months of ``month_days`` (the last one possibly shorter). The
    expected purchases of month ``k`` are ``E[X(t_k)] - E[X(t_{k-1})]`` from the purchase
    model's conditional expectation, valued at the Gamma-Gamma expected spend and discounted
    by ``(1 + monthly_discount_rate) ** k``. This is lifetimes'
    ``GammaGammaFitter.customer_lifetime_value`` (which takes a whole number of months and a
    fixed month of 4.345 weeks or 30 days), with the horizon in days.

    Parameters
    ----------
    snapshot_or_summary : pandas.DataFrame
        The customer snapshot or a repeat purchase summary (``frequency``, ``recency``,
        ``T`` in days, ``monetary_value``), indexed by customer_id.
    model : str or PurchaseModelFit, default "pareto"
        A fitted model, or the name of one to fit on these customers.
    horizon_days : float, default 365
    monthly_discount_rate : float, default 0.01
    month_days : float, default 365.25 / 12
    spend_model : SpendModelFit, optional
        Fitted on these customers when omitted.
    time_unit_days, period_days, penalizers, min_repeat_customers
        Passed to :func:`fit_purchase_model` and :func:`fit_spend_model` when they fit;
        ``period_days`` is taken from ``model`` when it is a fit.

    Returns
    -------
    CLVForecast

    Raises
    ------
    CLVUnavailableError, CLVFitError
        When a model cannot be fitted, or a prediction is not finite (never returned as NaN).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
    for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
    """
    if not horizon_days > 0:
        raise CLVInputError(f"horizon_days must be positive, got {horizon_days}.")
    if not month_days > 0:
        raise CLVInputError(f"month_days must be positive, got {month_days}.")
    if not monthly_discount_rate > -1:
        raise CLVInputError(
            f"monthly_discount_rate must be above -1, got {monthly_discount_rate}; "
            "0.01 means 1% a month."
        )
    if "monetary_value" not in snapshot_or_summary.columns:
        raise MissingColumnError(
            "customer CLV: missing column 'monetary_value'; pass the customer snapshot or "
            "features.repeat_purchase_summary."
        )
    started = time.perf_counter()
    if isinstance(model, PurchaseModelFit):
        period_days = model.period_days
    rows = _buyer_columns(snapshot_or_summary, what="customer CLV", period_days=period_days)
    f = rows["frequency"].to_numpy(dtype=float)
    r = rows["recency"].to_numpy(dtype=float)
    t = rows["T"].to_numpy(dtype=float)
    m = rows["monetary_value"].to_numpy(dtype=float)
    # One compression serves the fit and every prediction (the model is the slow part).
    patterns = compress_customers(f, r, t)
    if isinstance(model, PurchaseModelFit):
        purchase_fit = model
    else:
        # fit_purchase_model on these rows, which are already checked and compressed.
        _check_fit_options(model, period_days, time_unit_days)
        n_repeat = int(np.count_nonzero(f > 0))
        _check_repeat_buyers(
            len(rows),
            n_repeat,
            min_repeat_customers,
            what=MODEL_TITLES[model],
            period_days=period_days,
        )
        purchase_fit = _fit_purchase_patterns(
            patterns,
            model=model,
            time_unit_days=time_unit_days,
            period_days=period_days,
            penalizers=penalizers,
            n_repeat=n_repeat,
            started=started,
        )
    if spend_model is None:
        spend_model = fit_spend_model(
            rows, penalizers=penalizers, min_repeat_customers=min_repeat_customers
        )

    n_months = max(1, math.ceil(horizon_days / month_days - 1e-9))
    boundaries = np.minimum(np.arange(1, n_months + 1) * month_days, horizon_days)
    # Expected purchases up to each month end, on the unique rows.
    cumulative = np.column_stack(
        [purchase_fit._expected_purchases_unique(day, patterns) for day in boundaries]
    )
    monthly = np.diff(np.column_stack([np.zeros(len(patterns)), cumulative]), axis=1)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, n_months + 1, dtype=float)
    discounted_purchases = (monthly @ discount)[patterns.inverse]
    expected = cumulative[:, -1][patterns.inverse]
    p_alive = purchase_fit._on_unique(purchase_fit.fitter.conditional_probability_alive, patterns)[
        patterns.inverse
    ]
    spend, usable = spend_model._expected_average_spend(f, m)
    clv = spend * discounted_purchases

    table = pd.DataFrame(
        {
            "frequency": f.astype(np.int64),
            "recency": r,
            "T": t,
            "monetary_value": m,
            "expected_purchases": expected,
            "p_alive": p_alive,
            "expected_avg_spend": spend,
            "spend_basis": pd.Categorical.from_codes(
                np.where(usable, 0, 1).astype(np.int8), categories=pd.Index(_SPEND_BASES)
            ),
            "clv": clv,
        },
        index=rows.index,
    )
    numeric = table[["expected_purchases", "p_alive", "expected_avg_spend", "clv"]].to_numpy()
    bad = ~np.isfinite(numeric).all(axis=1)
    if bad.any():
        raise CLVFitError(
            f"{purchase_fit.title}: predictions are not finite for {int(bad.sum())} of "
            f"{len(table):,} customers (e.g. customer_id {table.index[bad][:3].tolist()}); CLV "
            "is unavailable with this model rather than returned as NaN. Try another model.",
            model=purchase_fit.model,
        )
    return CLVForecast(
        table=table,
        purchase_fit=purchase_fit,
        spend_fit=spend_model,
        horizon_days=float(horizon_days),
        monthly_discount_rate=float(monthly_discount_rate),
        month_days=float(month_days),
    )


# --- backtest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CLVBacktest:
    """Purchase models fitted on a calibration period and scored on the holdout after it.

    Attributes
    ----------
    calibration_end, holdout_end : pandas.Timestamp
        The last day of each period (both whole days included).
    time_unit_days : float
    period_days : int
        Days per purchase period (1: purchase days, 7: purchase weeks ending on
        ``calibration_end``); every count below is of purchase periods.
    holdout_days : int
    fits : dict of str to PurchaseModelFit
        Every model that converged, by name.
    failures : dict of str to str
        Models that could not be fitted, with the reason.
    metrics : pandas.DataFrame
        One row per model (see :func:`clv_backtest`).
    chosen : str
        The model with the smallest holdout MAE.
    reason : str
        One line saying why, e.g. ``"Pareto/NBD: holdout MAE 0.610 vs BG/NBD 0.630 ..."``.
    customers : pandas.DataFrame
        Per cohort customer: calibration ``frequency``, ``recency``, ``T`` (days),
        ``holdout_actual`` and ``predicted_<model>``.
    tracking : pandas.DataFrame
        Per period end (``day``): ``actual`` cumulative repeat purchase periods of the cohort
        and ``expected_<model>`` (sum over customers of the expected purchases since their
        first purchase).
    by_frequency : pandas.DataFrame
        Holdout purchases per customer by calibration frequency (0 to 6 and "7+"): actual
        mean and ``predicted_<model>`` mean.
    """

    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    time_unit_days: float
    period_days: int
    holdout_days: int
    fits: dict[str, PurchaseModelFit]
    failures: dict[str, str]
    metrics: pd.DataFrame
    chosen: str
    reason: str
    customers: pd.DataFrame
    tracking: pd.DataFrame
    by_frequency: pd.DataFrame

    selection_metric: str = "mae"

    def to_dict(self) -> dict[str, Any]:
        """Dates, parameters, log-likelihoods and metrics as plain Python values (for JSON)."""
        models: dict[str, Any] = {}
        for name, fit in self.fits.items():
            entry = fit.summary()
            entry["metrics"] = {
                str(column): _json_value(self.metrics.at[name, column])
                for column in self.metrics.columns
            }
            models[name] = entry
        return {
            "calibration_end": self.calibration_end.strftime("%Y-%m-%d"),
            "holdout_end": self.holdout_end.strftime("%Y-%m-%d"),
            "time_unit_days": float(self.time_unit_days),
            "period_days": int(self.period_days),
            "holdout_days": int(self.holdout_days),
            "n_customers": len(self.customers),
            "chosen_model": self.chosen,
            "reason": self.reason,
            "selection_metric": "per-customer mean absolute error of holdout repeat purchases",
            "models": models,
            "failures": dict(self.failures),
        }


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(float(value))
    return value


def _purchase_periods(
    orders: pd.DataFrame, *, as_of: pd.Timestamp, anchor_day: int, period_days: int
) -> pd.DataFrame:
    """Unique (customer_id, day) of purchases up to ``as_of``, ``day`` the last of its period.

    Periods of ``period_days`` end on ``anchor_day``, the calibration end, as
    :func:`segmentation.features.repeat_purchase_summary` counts them; later ones follow on.
    Sorted by customer_id and day.
    """
    days = purchase_days(orders, as_of=as_of)
    customer = days["customer_id"]
    day = days["day"].to_numpy(dtype=np.int64)
    day = anchor_day - period_days * ((anchor_day - day) // period_days)
    # Sorted by customer and day, and moving a day to its period's end keeps that order: a
    # repeated (customer, period) is the row before it.
    keep = run_start_mask(customer)
    if len(day) > 1:
        keep[1:] |= day[1:] != day[:-1]
    return pd.DataFrame({"customer_id": customer[keep].reset_index(drop=True), "day": day[keep]})


def default_backtest_dates(
    orders: pd.DataFrame,
    *,
    holdout_days: int = 273,
    calibration_end: str | pd.Timestamp | None = None,
    holdout_end: str | pd.Timestamp | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Backtest dates, filling in the ones not given.

    ``holdout_end`` defaults to the last order day and ``calibration_end`` to ``holdout_end``
    minus ``holdout_days``, shortened to half the days from the first order day to
    ``holdout_end`` (both included) when there are fewer than twice the holdout. On CDNOW
    (1997-01-01 to 1998-06-30, 546 days) this gives 1997-09-30, as in the papers.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    holdout_days : int, default 273
        39 weeks, as in Fader, Hardie & Lee (2005).
    calibration_end, holdout_end : str or pandas.Timestamp, optional
        Dates already chosen; returned as days.

    Returns
    -------
    (pandas.Timestamp, pandas.Timestamp)
        ``calibration_end``, ``holdout_end``.

    Raises
    ------
    CLVInputError
        A date that cannot be read, or a history too short to split.
    """
    cal_end = _parse_day(calibration_end, "calibration_end")
    hold_end = _parse_day(holdout_end, "holdout_end")
    stamps = orders.loc[orders["customer_id"].notna(), "order_ts"].dropna()
    if stamps.empty:
        raise CLVInputError("orders: no order with a customer_id and an order_ts to backtest on.")
    first = pd.Timestamp(stamps.min()).normalize()
    if hold_end is None:
        hold_end = pd.Timestamp(stamps.max()).normalize()
    if cal_end is None:
        days = (hold_end - first).days + 1  # both ends included
        holdout = min(int(holdout_days), days // 2)
        if holdout < 1:
            raise CLVInputError(
                f"orders: the order history from {first:%Y-%m-%d} to {hold_end:%Y-%m-%d} "
                f"holds {days} day(s); a backtest needs at least two days of history."
            )
        cal_end = hold_end - pd.Timedelta(days=holdout)
    return cal_end, hold_end


def _parse_day(value: str | pd.Timestamp | None, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        day = pd.Timestamp(value)
    except ValueError:
        day = None
    if day is None or pd.isna(day):
        raise CLVInputError(f"{name}: cannot read {value!r} as a date; use YYYY-MM-DD.")
    return day.normalize()


def _calibration_summary(
    orders: pd.DataFrame, *, calibration_end: pd.Timestamp, period_days: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The backtest cohort's frequency, recency and T, with their purchase periods.

    The summary is :func:`segmentation.features.repeat_purchase_summary` (``as_of`` the
    calibration end, ``period_days``) restricted to those three columns (tests check it),
    counted from the calibration purchase periods the tracking curve needs anyway, which
    saves a second pass over the orders.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray, numpy.ndarray)
        The summary indexed by customer_id (sorted), the day of every calibration purchase
        period (sorted by customer and day), and which of those is a customer's first.
    """
    end_day = day_number(calibration_end)
    periods = _purchase_periods(
        orders, as_of=calibration_end, anchor_day=end_day, period_days=period_days
    )
    days = periods["day"].to_numpy(dtype=np.int64)
    # Sorted by customer and day: a customer's first period is the first of their rows and
    # their last period the row before the next customer's first.
    first_row = run_start_mask(periods["customer_id"])
    first = np.flatnonzero(first_row)
    last = np.append(first[1:], len(days))[: len(first)] - 1
    summary = pd.DataFrame(
        {
            "frequency": (last - first).astype(np.int64),
            "recency": (days[last] - days[first]).astype(float),
            "T": (end_day - days[first]).astype(float),
        },
        index=pd.Index(periods["customer_id"].iloc[first].array, name="customer_id"),
    )
    return summary, days, first_row


def clv_backtest(
    orders: pd.DataFrame,
    *,
    calibration_end: str | pd.Timestamp,
    holdout_end: str | pd.Timestamp,
    model: str = "auto",
    time_unit_days: float = 7.0,
    period_days: int = 1,
    penalizers: Sequence[float] = DEFAULT_PENALIZERS,
    min_repeat_customers: int = 30,
) -> CLVBacktest:
    """Fit purchase models on a calibration period and score them on the holdout after it.

    The cohort is every customer whose first purchase is on or before ``calibration_end``;
    they are summarised with :func:`segmentation.features.repeat_purchase_summary` up to
    ``calibration_end``, in purchase periods of ``period_days`` ending on ``calibration_end``.
    Their holdout purchases are the purchase periods (of days as
    :func:`segmentation.features.order_purchases` nets orders) after ``calibration_end`` up to
    and including ``holdout_end``; the periods run on from ``calibration_end``, so none
    straddles it, and the last one may be cut short by ``holdout_end``.

    ``metrics`` has one row per model: ``log_likelihood``; ``holdout_actual`` and
    ``holdout_predicted`` (sum of conditional expectations) with ``holdout_error``
    (predicted / actual - 1); ``cumulative_actual`` and ``cumulative_expected`` at
    ``holdout_end`` from the tracking curve, with ``cumulative_error``; ``mae``, ``rmse`` and
    ``correlation`` of holdout purchases per customer; ``zero_repeat_customers`` with their
    ``zero_repeat_actual_mean`` and ``zero_repeat_predicted_mean``; and ``penalizer``.

    The model is chosen by the smallest ``mae``: the mean absolute error per customer of
    holdout repeat purchases, the error a per-customer ranking (CLV tiers, churn risk) makes.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    calibration_end, holdout_end : str or pandas.Timestamp
        Last days of the two periods.
    model : {"auto", "bgnbd", "pareto", "mbgnbd"}, default "auto"
        ``"auto"`` fits all three and chooses; a name fits that one only.
    time_unit_days : float, default 7
        Days per model time unit; also the tracking period (rounded to whole periods).
    period_days : int, default 1
        1 counts purchase days, as the papers and the CDNOW figures do; 7 counts purchase
        weeks, which fits a million customers far faster (config
        ``clv.backtest.period_days``, 7 by default; see the module notes).
    penalizers, min_repeat_customers
        Passed to :func:`fit_purchase_model`.

    Returns
    -------
    CLVBacktest

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    _check_model(model, allow_auto=True)
    cal_end = _parse_day(calibration_end, "calibration_end")
    hold_end = _parse_day(holdout_end, "holdout_end")
    if cal_end is None or hold_end is None:
        raise CLVInputError("clv_backtest needs calibration_end and holdout_end dates.")
    if hold_end <= cal_end:
        raise CLVInputError(
            f"holdout_end {hold_end:%Y-%m-%d} must be after calibration_end {cal_end:%Y-%m-%d}."
        )
    holdout_days = (hold_end - cal_end).days
    _check_period_days(period_days)

    # Purchase periods: calibration from the calibration view, holdout from the holdout view,
    # so a refund booked after calibration_end does not rewrite the calibration period.
    cal_end_day = day_number(cal_end)
    hold_end_day = day_number(hold_end)
    summary, cal_period_days, first_row = _calibration_summary(
        orders, calibration_end=cal_end, period_days=period_days
    )
    first_day = pd.Series(cal_period_days[first_row])
    cal_repeat_days = cal_period_days[~first_row]
    cohort = summary.index
    f = summary["frequency"].to_numpy(dtype=np.int64)
    r = summary["recency"].to_numpy(dtype=float)
    t = summary["T"].to_numpy(dtype=float)

    names = MODEL_NAMES if model == "auto" else (model,)
    fits: dict[str, PurchaseModelFit] = {}
    failures: dict[str, str] = {}
    # One compression serves every model and its predictions.
    patterns = compress_customers(f, r, t)
    for name in names:
        started = time.perf_counter()
        _check_fit_options(name, period_days, time_unit_days)
        _check_repeat_buyers(
            len(f),
            int(np.count_nonzero(f > 0)),
            min_repeat_customers,
            what=MODEL_TITLES[name],
            period_days=period_days,
        )
        try:
            fits[name] = _fit_purchase_patterns(
                patterns,
                model=name,
                time_unit_days=time_unit_days,
                period_days=period_days,
                penalizers=penalizers,
                n_repeat=int(np.count_nonzero(f > 0)),
                started=started,
            )
        except CLVFitError as error:
            failures[name] = str(error)
    if not fits:
        raise CLVFitError(
            "no purchase model could be fitted: " + " | ".join(failures.values()),
            model=model,
        )

    later = _purchase_periods(
        orders, as_of=hold_end, anchor_day=cal_end_day, period_days=period_days
    )
    later = later.loc[later["day"].to_numpy() > cal_end_day]
    # Look up each customer once, not each of their periods (the rows are sorted by customer).
    later_starts = np.flatnonzero(run_start_mask(later["customer_id"]))
    position = np.repeat(
        cohort.get_indexer(pd.Index(later["customer_id"].iloc[later_starts].array)),
        np.diff(np.append(later_starts, len(later))),
    )
    later = later.loc[position >= 0]
    holdout_actual = pd.Series(
        np.bincount(position[position >= 0], minlength=len(cohort)), index=cohort
    )

    actual = holdout_actual.to_numpy(dtype=float)
    customers = pd.DataFrame(
        {"frequency": f, "recency": r, "T": t, "holdout_actual": actual.astype(np.int64)},
        index=summary.index,
    )

    # Tracking: cohort customers' first periods, and repeat purchase periods over calendar
    # time, at ends aligned on calibration_end so that every end closes whole periods.
    step = period_days * max(1, round(time_unit_days / period_days))
    start_day = int(first_day.min())
    first_end = cal_end_day - step * ((cal_end_day - start_day) // step)
    ends = np.arange(first_end, hold_end_day + 1, step, dtype=np.int64)
    if ends[-1] != hold_end_day:
        ends = np.append(ends, hold_end_day)
    holdout_days_seen = np.minimum(later["day"].to_numpy(), hold_end_day)
    repeat_days = np.sort(np.concatenate([cal_repeat_days, holdout_days_seen]))
    first_values, first_counts = np.unique(first_day.to_numpy(dtype=np.int64), return_counts=True)
    elapsed = ends[:, None] - first_values[None, :]
    tracking = pd.DataFrame(
        {
            "day": pd.to_datetime(ends, unit="D"),
            "actual": np.searchsorted(repeat_days, ends, side="right").astype(np.int64),
        },
        index=pd.RangeIndex(1, len(ends) + 1, name="period"),
    )
    cal_position = int(np.searchsorted(ends, cal_end_day, side="right")) - 1

    rows: dict[str, dict[str, float]] = {}
    zero = f == 0
    for name, fit in fits.items():
        predicted = fit._expected_purchases_unique(holdout_days, patterns)[patterns.inverse]
        customers[f"predicted_{name}"] = predicted
        expected_curve = (
            fit.expected_purchases_since_first(np.maximum(elapsed, 0)) * first_counts
        ).sum(axis=1)
        tracking[f"expected_{name}"] = expected_curve
        residual = predicted - actual
        with np.errstate(all="ignore"):
            corr = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 else np.nan
        expected_at_cal = float(
            (
                fit.expected_purchases_since_first(np.maximum(cal_end_day - first_values, 0))
                * first_counts
            ).sum()
        )
        rows[name] = {
            "n_customers": float(len(f)),
            "log_likelihood": fit.log_likelihood,
            "holdout_actual": float(actual.sum()),
            "holdout_predicted": float(predicted.sum()),
            "holdout_error": float(predicted.sum() / actual.sum() - 1.0)
            if actual.sum() > 0
            else np.nan,
            "holdout_expected_unconditional": float(expected_curve[-1] - expected_at_cal),
            "cumulative_actual": float(tracking["actual"].iloc[-1]),
            "cumulative_expected": float(expected_curve[-1]),
            "cumulative_error": float(expected_curve[-1] / tracking["actual"].iloc[-1] - 1.0)
            if tracking["actual"].iloc[-1] > 0
            else np.nan,
            "mae": float(np.mean(np.abs(residual))),
            "rmse": float(np.sqrt(np.mean(residual**2))),
            "correlation": corr,
            "zero_repeat_customers": float(np.count_nonzero(zero)),
            "zero_repeat_actual_mean": float(actual[zero].mean()) if zero.any() else np.nan,
            "zero_repeat_predicted_mean": float(predicted[zero].mean()) if zero.any() else np.nan,
            "penalizer": fit.penalizer,
        }
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index.name = "model"
    for column in ("n_customers", "zero_repeat_customers"):
        metrics[column] = metrics[column].astype(np.int64)
    tracking.attrs["calibration_period"] = cal_position + 1

    # The first model in MODEL_NAMES order wins a tie.
    chosen = min(fits, key=lambda name: (metrics.loc[name, "mae"], MODEL_NAMES.index(name)))
    reason = _choice_reason(chosen, metrics, holdout_days, period_days, failures)

    buckets = np.minimum(f, 7)
    labels = np.array([str(k) for k in range(7)] + ["7+"], dtype=object)[buckets]
    grouped = customers.assign(calibration_frequency=labels).groupby(
        "calibration_frequency", sort=False
    )
    by_frequency = grouped.agg(
        customers=("holdout_actual", "size"), actual=("holdout_actual", "mean")
    )
    for name in fits:
        by_frequency[f"predicted_{name}"] = grouped[f"predicted_{name}"].mean()
    order = [k for k in [*(str(k) for k in range(7)), "7+"] if k in by_frequency.index]
    by_frequency = by_frequency.reindex(order)

    return CLVBacktest(
        calibration_end=cal_end,
        holdout_end=hold_end,
        time_unit_days=float(time_unit_days),
        period_days=period_days,
        holdout_days=holdout_days,
        fits=fits,
        failures=failures,
        metrics=metrics,
        chosen=chosen,
        reason=reason,
        customers=customers,
        tracking=tracking,
        by_frequency=by_frequency,
    )


def backtest_from_config(
    orders: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    calibration_end: str | pd.Timestamp | None = None,
    holdout_end: str | pd.Timestamp | None = None,
    model: str | None = None,
    period_days: int | None = None,
) -> CLVBacktest:
    """:func:`clv_backtest` with every option the caller leaves out taken from the config.

    The dates default as :func:`default_backtest_dates` says (with ``clv.backtest.holdout_days``);
    the model and the purchase period come from ``clv.backtest``, the rest from ``clv``.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders; rows after ``holdout_end`` are ignored.
    config : mapping
        :func:`segmentation.config.load_config` output.
    calibration_end, holdout_end : str or pandas.Timestamp, optional
    model : {"auto", "bgnbd", "pareto", "mbgnbd"}, optional
    period_days : int, optional

    Returns
    -------
    CLVBacktest
    """
    settings = config_section(config, "clv")
    backtest = settings.get("backtest", {})
    calibration, holdout = default_backtest_dates(
        orders,
        holdout_days=int(backtest.get("holdout_days", 273)),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
    )
    return clv_backtest(
        orders,
        calibration_end=calibration,
        holdout_end=holdout,
        model=model or str(backtest.get("model", "auto")),
        time_unit_days=float(settings.get("time_unit_days", 7)),
        period_days=int(backtest.get("period_days", 7) if period_days is None else period_days),
        penalizers=[float(p) for p in settings.get("penalizers", DEFAULT_PENALIZERS)],
        min_repeat_customers=int(settings.get("min_repeat_customers", 30)),
    )


def _choice_reason(
    chosen: str,
    metrics: pd.DataFrame,
    holdout_days: int,
    period_days: int,
    failures: Mapping[str, str],
) -> str:
    title = MODEL_TITLES[chosen]
    maes = dict(zip(metrics.index, metrics["mae"].to_numpy(dtype=float), strict=True))
    mae = maes[chosen]
    others = [
        f"{MODEL_TITLES[str(name)]} {value:.3f}" for name, value in maes.items() if name != chosen
    ]
    period = _period_name(period_days)
    basis = (
        f"(mean absolute error per customer of repeat purchase {period}s in the "
        f"{holdout_days}-day holdout; lower is better)"
    )
    if not others:
        reason = f"{title}: the only model fitted; holdout MAE {mae:.3f} {basis}"
    else:
        reason = f"{title}: holdout MAE {mae:.3f} vs {', '.join(others)} {basis}"
    if failures:
        reason += "; not fitted: " + ", ".join(MODEL_TITLES[name] for name in failures)
    return reason


# --- schemes --------------------------------------------------------------------------------------


def _increasing_pair(value: Any, *, where: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise CLVInputError(
            f"config {where}: expected two numbers such as [0.5, 0.8], found {value!r}."
        ) from None
    if not 0 < low < high < 1:
        raise CLVInputError(
            f"config {where}: expected two increasing numbers between 0 and 1, found {value!r}."
        )
    return low, high


def _forecast_from_config(
    snapshot: pd.DataFrame, config: Mapping[str, Any], *, scheme: str
) -> CLVForecast:
    settings = config_section(config, "clv")
    model = str(settings.get("model", "pareto"))
    _check_model(model, allow_auto=False)
    try:
        return customer_clv(
            snapshot,
            model=model,
            horizon_days=float(settings.get("horizon_days", 365)),
            monthly_discount_rate=float(settings.get("monthly_discount_rate", 0.01)),
            month_days=float(settings.get("month_days", DEFAULT_MONTH_DAYS)),
            time_unit_days=float(settings.get("time_unit_days", 7)),
            period_days=int(settings.get("period_days", 1)),
            penalizers=[float(p) for p in settings.get("penalizers", DEFAULT_PENALIZERS)],
            min_repeat_customers=int(settings.get("min_repeat_customers", 30)),
        )
    except (CLVUnavailableError, CLVFitError) as error:
        raise SchemeUnavailable(scheme, str(error)) from error


def _buyer_positions(snapshot: pd.DataFrame, forecast: CLVForecast) -> np.ndarray:
    if not snapshot.index.is_unique:
        raise CLVInputError("snapshot: customer_id (the index) has duplicates.")
    # The forecast's rows are the snapshot's buyers in snapshot order (_buyer_columns): when
    # that checks out, their positions are the buyers' mask, with no lookup of a million ids.
    buyers = snapshot["T"].notna().to_numpy(dtype=bool)
    if "is_potential" in snapshot.columns:
        buyers = buyers & ~snapshot["is_potential"].fillna(False).astype(bool).to_numpy(dtype=bool)
    positions = np.flatnonzero(buyers)
    if snapshot.index[positions].equals(forecast.table.index):
        return positions
    return snapshot.index.get_indexer(forecast.table.index)


def _forecast_details(forecast: CLVForecast) -> dict[str, Any]:
    return {
        "purchase_model": forecast.purchase_fit.summary(),
        "spend_model": forecast.spend_fit.summary(),
        "horizon_days": forecast.horizon_days,
        "monthly_discount_rate": forecast.monthly_discount_rate,
        "customer_clv": forecast.table,
    }


def clv_tier_scheme(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """CLV tiers 低/中/高价值 from the discounted CLV of each buyer; 潜在客户 below them.

    ``config["clv_tier"]["method"]`` is ``"quantile"`` (CLV below the first quantile of
    ``quantiles`` is low, from the second on high) or ``"cumulative_share"`` (customers in
    descending CLV order: those holding the first ``cumulative_shares[0]`` of total CLV are
    high, the next ``cumulative_shares[1]`` mid, the rest low). Potential customers, who never
    bought, have no CLV under these models, which start at a first purchase: they are their
    own lowest segment, ``potential``.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        :func:`segmentation.config.load_config` output (sections ``clv`` and ``clv_tier``).
    random_state : int, default 0
        Unused: the fit is deterministic.
    previous : Segmentation, optional
        Unused: tiers are recomputed from this snapshot.

    Returns
    -------
    Segmentation
        ``details`` holds the thresholds, both models' parameters and the per-customer
        ``customer_clv`` table.

    Raises
    ------
    SchemeUnavailable
        Too few repeat buyers, or a model that cannot be fitted.
    """
    section = config_section(config, "clv_tier")
    forecast = _forecast_from_config(snapshot, config, scheme="clv_tier")
    segments = config_segments(config, "clv_tier", ["potential", "low", "mid", "high"])
    clv = forecast.table["clv"].to_numpy(dtype=float)
    method = str(section.get("method", "quantile"))
    if method == "quantile":
        q_low, q_high = _increasing_pair(section.get("quantiles"), where="clv_tier.quantiles")
        low_cut, high_cut = (float(v) for v in np.quantile(clv, [q_low, q_high]))
        # 0, 1 or 2 cuts reached; picking from three objects makes no string per customer.
        reached = (clv >= low_cut).astype(np.int8) + (clv >= high_cut)
        tiers = np.array(["low", "mid", "high"], dtype=object)[reached]
        thresholds = {"quantiles": [q_low, q_high], "clv_cuts": [low_cut, high_cut]}
    elif method == "cumulative_share":
        shares = [float(v) for v in section.get("cumulative_shares", [])]
        if len(shares) != 3 or min(shares) < 0 or not math.isclose(sum(shares), 1.0):
            raise CLVInputError(
                "config clv_tier.cumulative_shares: expected three shares (high, mid, low) "
                f"summing to 1, such as [0.7, 0.2, 0.1], found {shares!r}."
            )
        order = np.argsort(-clv, kind="stable")
        total = float(clv.sum())
        # A customer belongs to the tier in which their CLV starts, so the top one is high.
        before = (np.cumsum(clv[order]) - clv[order]) / total if total > 0 else np.ones(len(clv))
        ranked = np.where(
            before < shares[0], "high", np.where(before < shares[0] + shares[1], "mid", "low")
        )
        tiers = np.empty(len(clv), dtype=object)
        tiers[order] = ranked
        thresholds = {"cumulative_shares": shares}
    else:
        raise CLVInputError(
            f"config clv_tier.method: {method!r} is not known; use quantile or cumulative_share."
        )
    keys = np.full(len(snapshot), "potential", dtype=object)
    keys[_buyer_positions(snapshot, forecast)] = tiers
    title = section.get("title", {"zh": "CLV价值分层", "en": "CLV tiers"})
    return make_segmentation(
        scheme="clv_tier",
        title=title,
        snapshot=snapshot,
        keys=keys,
        segments=segments,
        details={"method": method, **thresholds, **_forecast_details(forecast)},
    )


def churn_risk_scheme(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Churn risk 高/中/低风险 from each buyer's P(alive); 潜在客户 below them.

    P(alive) below ``config["churn_risk"]["p_alive_thresholds"][0]`` is high risk, from the
    second threshold on low risk. Categories run from the lowest value up: ``potential``,
    ``high_risk``, ``mid_risk``, ``low_risk``. Under BG/NBD every one-time buyer has
    P(alive) = 1 (the model lets customers drop out only after a repeat purchase), so they
    would all be low risk; Pareto/NBD and MBG/NBD, the default, do not have this property.
    When the snapshot already has a ``p_alive`` column (the registry adds the ``clv_tier``
    forecast), it is used as it is instead of fitting the same model a second time.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        :func:`segmentation.config.load_config` output (sections ``clv`` and ``churn_risk``).
    random_state : int, default 0
        Unused: the fit is deterministic.
    previous : Segmentation, optional
        Unused.

    Returns
    -------
    Segmentation

    Raises
    ------
    SchemeUnavailable
        Too few repeat buyers, or a model that cannot be fitted.
    """
    section = config_section(config, "churn_risk")
    low, high = _increasing_pair(
        section.get("p_alive_thresholds"), where="churn_risk.p_alive_thresholds"
    )
    segments = config_segments(
        config, "churn_risk", ["potential", "high_risk", "mid_risk", "low_risk"]
    )
    keys = np.full(len(snapshot), "potential", dtype=object)
    details: dict[str, Any] = {"p_alive_thresholds": [low, high]}
    if "p_alive" in snapshot.columns:
        # The registry passes on the clv_tier forecast: one fit serves both schemes.
        p_alive_given = snapshot["p_alive"].to_numpy(dtype=float)
        buyers = np.flatnonzero(~np.isnan(p_alive_given))
        p_alive = p_alive_given[buyers]
        model = str(config_section(config, "clv").get("model", "pareto"))
        details["p_alive_source"] = "snapshot column p_alive (the clv_tier forecast)"
    else:
        forecast = _forecast_from_config(snapshot, config, scheme="churn_risk")
        p_alive = forecast.table["p_alive"].to_numpy(dtype=float)
        buyers = _buyer_positions(snapshot, forecast)
        model = forecast.purchase_fit.model
        details.update(_forecast_details(forecast))
    # 0, 1 or 2 thresholds not undercut (NaN undercuts none, as np.where would have it).
    reached = (~(p_alive < low)).astype(np.int8) + ~(p_alive < high)
    keys[buyers] = np.array(["high_risk", "mid_risk", "low_risk"], dtype=object)[reached]
    if model == "bgnbd":
        details["note_en"] = "BG/NBD gives every one-time buyer P(alive) = 1 (low risk)."
        details["note_zh"] = "BG/NBD模型下，只购买过一次的客户P(存活)恒为1（低风险）。"
    if len(p_alive) and float(np.min(p_alive)) >= 0.99:
        # Said, not hidden: a fit with no drop-out puts every buyer in one tier.
        details["note_en"] = (
            "The model finds no drop-out in this history (P(alive) ≥ 0.99 for every buyer), "
            "so churn risk does not separate customers here."
        )
        details["note_zh"] = (
            "模型在这段历史中没有发现客户流失（所有买家P(存活) ≥ 0.99），流失风险分层在此无法区分客户。"
        )
    title = section.get("title", {"zh": "流失风险分层", "en": "Churn risk"})
    return make_segmentation(
        scheme="churn_risk",
        title=title,
        snapshot=snapshot,
        keys=keys,
        segments=segments,
        details=details,
    )


CLV_SCHEMES: dict[str, Callable[..., Segmentation]] = {
    "clv_tier": clv_tier_scheme,
    "churn_risk": churn_risk_scheme,
}


# --- simulation and benchmark ----------------------------------------------------------------------


def simulate_bgnbd_summary(
    n_customers: int,
    *,
    r: float = 0.2425945,
    alpha: float = 4.4136019,
    a: float = 0.7929199,
    b: float = 2.4258881,
    cohort_days: int = 84,
    observation_days: int = 546,
    time_unit_days: float = 7.0,
    period_days: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate customers who buy by a BG/NBD process, summarised from daily data.

    Each customer has a purchase rate ``lambda ~ Gamma(r, alpha)`` per time unit and a dropout
    probability ``p ~ Beta(a, b)``; they first buy on a day drawn uniformly from the first
    ``cohort_days`` days, buy again after exponential gaps, and after each repeat purchase
    drop out with probability ``p``. Purchases on the same day are one purchase day (or, with
    ``period_days`` 7, in the same week, weeks ending on the last day observed), and the
    history is observed for ``observation_days`` days, as a daily export would be.

    Parameters
    ----------
    n_customers : int
    r, alpha, a, b : float
        BG/NBD parameters per ``time_unit_days``; the defaults are Fader, Hardie & Lee's
        (2005) CDNOW estimates in weeks.
    cohort_days : int, default 84
        Days over which first purchases are spread (CDNOW: the 12 weeks of 1997 Q1).
    observation_days : int, default 546
        Days observed from the first cohort day (CDNOW: 78 weeks).
    time_unit_days : float, default 7
    period_days : int, default 1
    seed : int, default 0
        The same seed gives the same customers at every ``period_days``.

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency`` and ``T`` in days, as
        :func:`segmentation.features.repeat_purchase_summary` counts them with
        ``period_days``, and ``first_day`` (0-based); indexed by a RangeIndex named
        customer_id.
    """
    if n_customers < 1:
        raise CLVInputError(f"n_customers must be at least 1, got {n_customers}.")
    if not 0 < cohort_days <= observation_days:
        raise CLVInputError(
            f"need 0 < cohort_days <= observation_days, got {cohort_days} and {observation_days}."
        )
    _check_period_days(period_days)
    end_day = observation_days - 1

    def period_end(day: np.ndarray) -> np.ndarray:
        return end_day - period_days * ((end_day - day) // period_days)

    rng = np.random.default_rng(seed)
    rate_per_day = rng.gamma(r, 1.0 / alpha, n_customers) / time_unit_days
    dropout = rng.beta(a, b, n_customers)
    first_day = rng.integers(0, cohort_days, n_customers)
    clock = first_day + rng.uniform(0.0, 1.0, n_customers)
    first_period = period_end(first_day)
    last_period = first_period.copy()
    frequency = np.zeros(n_customers, dtype=np.int64)
    active = np.flatnonzero(rate_per_day > 0)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate_per_day[active]
        active = active[clock[active] < observation_days]
        period = period_end(np.floor(clock[active]).astype(np.int64))
        new_period = period != last_period[active]
        frequency[active[new_period]] += 1
        last_period[active[new_period]] = period[new_period]
        active = active[rng.uniform(0.0, 1.0, active.size) >= dropout[active]]
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last_period - first_period).astype(float),
            "T": (end_day - first_period).astype(float),
            "first_day": first_day,
        },
        index=pd.RangeIndex(n_customers, name="customer_id"),
    )


def lifetimes_summary(orders: pd.DataFrame, *, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """lifetimes' own ``summary_data_from_transaction_data`` of the orders, for comparison.

    Every order row with a customer id up to the end of ``as_of`` is a transaction (lifetimes
    has no notion of an order's rows or of refunds), counted in purchase days (``freq="D"``)
    with ``amount`` as the monetary value. This is the baseline the customer snapshot is
    timed against (``segmentation bench``); the kit itself never calls it.

    Parameters
    ----------
    orders : pandas.DataFrame
        Canonical orders.
    as_of : str or pandas.Timestamp
        The observation end; the whole of its day is included.

    Returns
    -------
    pandas.DataFrame
        lifetimes' result: indexed by customer_id, ``frequency``, ``recency``, ``T`` (days)
        and ``monetary_value``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    _import_lifetimes()
    from lifetimes.utils import summary_data_from_transaction_data

    rows = orders.loc[orders["customer_id"].notna(), ["customer_id", "order_ts", "amount"]]
    with _lifetimes_call():
        summary: pd.DataFrame = summary_data_from_transaction_data(
            rows,
            "customer_id",
            "order_ts",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(as_of).normalize(),
            freq="D",
        )
    return summary


def benchmark_compressed_fit(
    n_customers: int,
    *,
    model: str = "bgnbd",
    period_days: int = 1,
    seed: int = 0,
    baseline: bool = True,
    time_unit_days: float = 7.0,
) -> dict[str, Any]:
    """Time lifetimes on the compressed rows against lifetimes on one row per customer.

    Both fits are :func:`fit_purchase_model` with the same options (Pareto/NBD with
    :data:`PARETO_FIT_OPTIONS`), on simulated BG/NBD customers counted in ``period_days``;
    only ``compress`` differs. Plain lifetimes' Pareto/NBD takes minutes from a few hundred
    thousand customers up.

    Parameters
    ----------
    n_customers : int
    model : {"bgnbd", "pareto", "mbgnbd"}, default "bgnbd"
    period_days : int, default 1
        1 counts purchase days, 7 purchase weeks (see :func:`simulate_bgnbd_summary`).
    seed : int, default 0
    baseline : bool, default True
        ``False`` times the compressed fit only.
    time_unit_days : float, default 7

    Returns
    -------
    dict
        ``model``, ``period_days``, ``n_customers``, ``n_patterns`` (unique rows),
        ``compressed_seconds``, ``compressed_params`` and, with the baseline,
        ``uncompressed_seconds``, ``uncompressed_params``, ``speedup`` and
        ``max_relative_param_difference``.
    """
    summary = simulate_bgnbd_summary(
        n_customers, seed=seed, time_unit_days=time_unit_days, period_days=period_days
    )
    options: dict[str, Any] = {
        "model": model,
        "time_unit_days": time_unit_days,
        "period_days": period_days,
        "min_repeat_customers": 1,
    }
    _import_lifetimes()  # once, outside both timings
    started = time.perf_counter()
    fit = fit_purchase_model(summary, **options)
    compressed_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "model": model,
        "period_days": period_days,
        "n_customers": n_customers,
        "n_patterns": fit.n_patterns,
        "compressed_seconds": compressed_seconds,
        "compressed_params": fit.params,
    }
    if not baseline:
        return result
    started = time.perf_counter()
    reference = fit_purchase_model(summary, compress=False, **options)
    uncompressed_seconds = time.perf_counter() - started
    result.update(
        uncompressed_seconds=uncompressed_seconds,
        uncompressed_params=reference.params,
        speedup=uncompressed_seconds / compressed_seconds,
        max_relative_param_difference=max(
            abs(fit.params[k] / reference.params[k] - 1.0) for k in fit.params
        ),
    )
    return result
