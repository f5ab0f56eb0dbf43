"""The Gamma-Gamma spend model, fitted on the repeat customers' unique (frequency, spend) rows.

The fit is lifetimes' ``GammaGammaFitter`` as :mod:`segmentation.clv._lifetimes` runs it: on
the unique rows with their counts as ``weights``, without the Hessian and standard errors,
within ``clv.fit_limits`` (:class:`segmentation.clv._lifetimes.FitLimits`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._compress import _unique_rows
from segmentation.clv._lifetimes import (
    FitLimits,
    _FitBudget,
    _import_lifetimes,
    _lifetimes_call,
    _minimize_as_lifetimes,
    _PicklableFit,
    default_fit_limits,
)
from segmentation.clv._purchase import DEFAULT_PENALIZERS, FitAttempt, _fit_with_penalizers
from segmentation.errors import CLVUnavailableError, MissingColumnError

__all__ = [
    "_SPEND_BASES",
    "SpendModelFit",
    "_gamma_gamma_fitter",
    "_json_float",
    "_spend_customers",
    "fit_spend_model",
]

_SPEND_BASES = ("gamma_gamma", "population_mean")


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class SpendModelFit(_PicklableFit):
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
        and their ``weights``. It has no standard errors (see :mod:`segmentation.clv._lifetimes`).
    """

    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    n_nonpositive_spend: int
    frequency_monetary_corr: float
    penalizer: float
    attempts: tuple[FitAttempt, ...]
    fitter: Any = field(repr=False)

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
    fit_limits: FitLimits | None = None,
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
    fit_limits : FitLimits, optional
        Iterations per attempt and wall time of the fit; the built-in config's
        ``clv.fit_limits`` when omitted.

    Returns
    -------
    SpendModelFit

    Raises
    ------
    CLVUnavailableError
        Too few repeat customers with positive spend, or ``q <= 1`` (no finite mean spend).
    CLVFitError
        No penalizer gave a converged fit within ``fit_limits.max_iterations``, or the fit
        ran past ``fit_limits.max_seconds``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
    for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.

    Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
    http://www.brucehardie.com/notes/025/
    """
    frequency, spend, n_nonpositive = _spend_customers(summary, min_repeat_customers)
    n_used = len(frequency)
    (f_unique, m_unique), weights, _ = _unique_rows(frequency, spend)
    lifetimes = _import_lifetimes()
    f_float = f_unique.astype(float)  # as lifetimes' fit converts it
    fitter, penalizer, attempts = _fit_with_penalizers(
        lambda penalizer, budget: _gamma_gamma_fitter(
            penalizer, f_float, m_unique, weights, budget
        ),
        penalizers,
        model="gamma_gamma",
        title="Gamma-Gamma",
        failure=f"Gamma-Gamma did not converge on {n_used:,} repeat customers",
        advice="Spend, and so CLV, is unavailable.",
        fit_limits=fit_limits or default_fit_limits(),
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
        corr = float(np.corrcoef(frequency, spend)[0, 1]) if n_used > 1 else float("nan")
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


def _spend_customers(
    summary: pd.DataFrame, min_repeat_customers: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Frequency and mean spend of the repeat customers with a positive mean spend.

    Also how many repeat customers are left out for a zero or negative mean spend.
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
    return f_all[usable], m_all[usable], n_nonpositive


def _gamma_gamma_fitter(
    penalizer: float,
    frequency: np.ndarray,
    monetary_value: np.ndarray,
    weights: np.ndarray,
    budget: _FitBudget,
    start: dict[str, float] | None = None,
) -> Any:
    """lifetimes' ``GammaGammaFitter.fit`` on unique rows, without the Hessian and standard
    errors; ``start`` (``p``, ``q``, ``gamma``) replaces lifetimes' start, for a bootstrap."""
    fitter = _import_lifetimes().GammaGammaFitter(penalizer_coef=penalizer)
    x0 = None if start is None else np.log([start["p"], start["q"], start["gamma"]])
    with _lifetimes_call():
        log_params = _minimize_as_lifetimes(
            fitter, (frequency, monetary_value, weights, penalizer), 3, budget=budget, start=x0
        )
    fitter.params_ = pd.Series(np.exp(log_params), index=["p", "q", "v"])
    fitter.data = pd.DataFrame(
        {"monetary_value": monetary_value, "frequency": frequency, "weights": weights}
    )
    return fitter
