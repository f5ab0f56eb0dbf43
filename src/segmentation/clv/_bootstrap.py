"""Parameter uncertainty by a customer bootstrap over the compressed rows.

Resampling customers with replacement, each customer drawn a Poisson(1) number of times
(the Poisson bootstrap), gives each unique ``(frequency, recency, T)`` row of ``w`` customers
a Poisson(``w``) count: a resample is a new set of ``weights=`` on the same unique rows, so a
refit costs what the fit cost (less: it starts from the fitted parameters). The purchase
model and Gamma-Gamma are resampled separately, each over its own unique rows (Gamma-Gamma
assumes spend independent of purchasing).

Above ``max_fit_customers`` customers the refits run on a seeded sample of that many
customers (an m-out-of-n bootstrap): each draw's log-parameters are the full fit's plus the
sample refit's departure from the sample's own fit, shrunk by ``sqrt(m / n)``, the rate at
which a smooth estimator's spread narrows (Bickel, Götze & van Zwet 1997). Below it the
bootstrap is the ordinary one.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.clv._lifetimes import FitLimits
from segmentation.clv._purchase import PARAMETER_NAMES, PurchaseModelFit, _purchase_fitter
from segmentation.clv._spend import SpendModelFit, _gamma_gamma_fitter
from segmentation.config import config_section
from segmentation.errors import CLVInputError

__all__ = [
    "BOOTSTRAP_PARETO_CAP",
    "BOOTSTRAP_PARETO_OPTIONS",
    "BootstrapDraws",
    "IntervalSettings",
    "bootstrap_purchase",
    "bootstrap_spend",
    "purchase_with_params",
    "spend_with_params",
]


#: L-BFGS-B options of a Pareto/NBD refit, looser than the fit's
#: (:data:`segmentation.clv.PARETO_FIT_OPTIONS`): a refit only needs to land well inside the
#: spread it measures. On the CDNOW sample (100 refits) they give the 2.5/50/97.5% quantiles
#: of the fit's options within 5e-5 in 5.4 s against 6.7 s; ``ftol=1e-8`` moves beta's
#: median by 0.3%. (Nelder-Mead, lifetimes' optimiser, took 9.3 s at ``tol=1e-8``.)
BOOTSTRAP_PARETO_OPTIONS: dict[str, float] = {"ftol": 1e-10, "gtol": 1e-6}

#: A Pareto/NBD refit's ``s`` and ``beta`` stay at most this many times the fit's. Along the
#: likelihood's ridge (``s`` and ``beta`` growing together, ``s / beta`` fixed) the dropout
#: rates' spread shrinks to nothing and the likelihood barely changes; unbounded, a refit on
#: the demo's backtest walked it to ``s`` ~ 100, where each evaluation is ~20 times slower
#: and lifetimes' predictions are not finite, so the draw was lost anyway. On the demo
#: (2026-10-31, 100 refits) the bound keeps all 100 draws instead of 93 and the holdout
#: check takes 7.8 s instead of 40 s of CPU, its 95% interval 3,332-4,151 against
#: 3,359-4,154; the forecast's refits never reach it (the same intervals).
BOOTSTRAP_PARETO_CAP = 10.0


@dataclass(frozen=True)
class IntervalSettings:
    """The config's ``clv.intervals``: how many resamples, which levels, how much work.

    Attributes
    ----------
    resamples : int
        Bootstrap refits of each model.
    levels : tuple of float
        Central interval levels, e.g. ``(0.8, 0.95)``.
    max_customers : int
        Customers whose own intervals are computed (a seeded sample above it); segment and
        shop totals scale the sample's draws to every customer.
    max_fit_customers : int
        Customers a refit sees (see the module docstring).
    simulation_draws : int
        Simulated holdouts added to the parameter draws for a realised total's interval.
    reliability_bins : int
        Equal-width bins of the probability of buying in the reliability curve.
    probability_draws : int
        Monte Carlo draws per customer for a Pareto/NBD probability of buying.
    """

    resamples: int
    levels: tuple[float, ...]
    max_customers: int
    max_fit_customers: int
    simulation_draws: int
    reliability_bins: int
    probability_draws: int

    def __post_init__(self) -> None:
        counts = (
            self.resamples,
            self.max_customers,
            self.max_fit_customers,
            self.simulation_draws,
            self.reliability_bins,
            self.probability_draws,
        )
        levels = self.levels
        if any(isinstance(v, bool) or int(v) != v or v < 1 for v in counts) or not all(
            0 < float(v) < 1 for v in levels
        ):
            raise CLVInputError(
                f"config clv.intervals: found {dataclasses.asdict(self)}; counts must be whole "
                "numbers of at least 1 and levels between 0 and 1, e.g. levels [0.8, 0.95]."
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IntervalSettings:
        """The settings of ``config`` (:func:`segmentation.config.load_config` output)."""
        section = config_section(config, "clv")["intervals"]
        return cls(
            resamples=int(section["resamples"]),
            levels=tuple(float(v) for v in section["levels"]),
            max_customers=int(section["max_customers"]),
            max_fit_customers=int(section["max_fit_customers"]),
            simulation_draws=int(section["simulation_draws"]),
            reliability_bins=int(section["reliability_bins"]),
            probability_draws=int(section["probability_draws"]),
        )


@dataclass(frozen=True)
class BootstrapDraws:
    """Parameter draws of one model, one row per successful refit.

    Attributes
    ----------
    params : pandas.DataFrame
        One column per parameter (the model's own names), in model time units.
    n_failed : int
        Refits that did not converge within the fit limits (left out).
    n_customers, fit_customers : int
        Customers of the fit, and customers each refit saw (fewer above
        ``max_fit_customers``).
    """

    params: pd.DataFrame
    n_failed: int
    n_customers: int
    fit_customers: int


def purchase_with_params(
    fit: PurchaseModelFit, params: Mapping[str, float] | pd.Series
) -> PurchaseModelFit:
    """``fit`` with other parameters: its predictions then use them."""
    fitter = copy.copy(fit.fitter)
    fitter.params_ = pd.Series({name: float(params[name]) for name in PARAMETER_NAMES[fit.model]})
    return dataclasses.replace(fit, params=dict(fitter.params_), fitter=fitter)


def spend_with_params(fit: SpendModelFit, params: Mapping[str, float] | pd.Series) -> SpendModelFit:
    """``fit`` with other ``p``, ``q`` and ``gamma``."""
    fitter = copy.copy(fit.fitter)
    values = {"p": float(params["p"]), "q": float(params["q"]), "gamma": float(params["gamma"])}
    fitter.params_ = pd.Series([values["p"], values["q"], values["gamma"]], index=["p", "q", "v"])
    return dataclasses.replace(fit, params=values, fitter=fitter)


def _draw_params(
    refit: Callable[[np.ndarray, Mapping[str, float]], dict[str, float] | None],
    weight: np.ndarray,
    point: Mapping[str, float],
    *,
    resamples: int,
    max_fit_customers: int,
    rng: np.random.Generator,
) -> BootstrapDraws:
    """The bootstrap loop shared by both models: ``refit(weights, start)`` returns the
    parameters of a fit on the unique rows with those weights, or None when it fails."""
    n = int(weight.sum())
    names = list(point)
    base = np.log([float(point[name]) for name in names])
    shrink, centre, sample = 1.0, base, weight
    if n > max_fit_customers:
        sample = rng.multivariate_hypergeometric(weight, max_fit_customers)
        fitted = refit(sample, point)
        if fitted is not None:
            shrink = float(np.sqrt(max_fit_customers / n))
            centre = np.log([fitted[name] for name in names])
        else:  # the sample would not fit: resample every customer instead
            sample = weight
    rows, failed = [], 0
    for _ in range(resamples):
        fitted = refit(rng.poisson(sample), point)
        if fitted is None:
            failed += 1
            continue
        rows.append(np.exp(base + shrink * (np.log([fitted[k] for k in names]) - centre)))
    return BootstrapDraws(
        params=pd.DataFrame(np.array(rows).reshape(-1, len(names)), columns=names),
        n_failed=failed,
        n_customers=n,
        fit_customers=int(sample.sum()),
    )


def bootstrap_purchase(
    fit: PurchaseModelFit,
    *,
    resamples: int,
    random_state: int,
    max_fit_customers: int,
    fit_limits: FitLimits,
) -> BootstrapDraws:
    """Refit the purchase model on Poisson-bootstrap resamples of its customers.

    Parameters
    ----------
    fit : PurchaseModelFit
        The fit to resample; its fitter's ``data`` holds the unique rows and weights.
    resamples : int
    random_state : int
        Seeds the resamples: the same seed gives the same draws.
    max_fit_customers : int
        Above this many customers the refits run on a seeded sample (module docstring).
    fit_limits : FitLimits
        Each refit's limits, as a fit's; a refit past them is left out and counted.

    Returns
    -------
    BootstrapDraws

    References
    ----------
    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.

    Bickel, P. J., Götze, F. and van Zwet, W. R. (1997). Resampling fewer than n observations:
    gains, losses, and remedies for losses. Statistica Sinica 7, 1-31.
    """
    data = fit.fitter.data
    frequency = data["frequency"].to_numpy(dtype=float)
    recency = data["recency"].to_numpy(dtype=float)
    T = data["T"].to_numpy(dtype=float)

    def refit(weights: np.ndarray, start: Mapping[str, float]) -> dict[str, float] | None:
        keep = weights > 0
        try:
            fitter = _purchase_fitter(
                fit.model,
                fit.penalizer,
                frequency[keep],
                recency[keep],
                T[keep],
                weights[keep],
                fit_limits.start(),
                start=dict(start),
                pareto_options=BOOTSTRAP_PARETO_OPTIONS,
                pareto_cap=BOOTSTRAP_PARETO_CAP,
            )
        except (ValueError, ArithmeticError, TimeoutError):
            return None
        return _finite_params(fitter.params_)

    return _draw_params(
        refit,
        data["weights"].to_numpy(dtype=np.int64),
        fit.params,
        resamples=resamples,
        max_fit_customers=max_fit_customers,
        rng=np.random.default_rng(random_state),
    )


def bootstrap_spend(
    fit: SpendModelFit,
    *,
    resamples: int,
    random_state: int,
    max_fit_customers: int,
    fit_limits: FitLimits,
) -> BootstrapDraws:
    """Refit Gamma-Gamma on Poisson-bootstrap resamples of its customers.

    As :func:`bootstrap_purchase`, over the unique (frequency, mean spend) rows. A draw
    with ``q <= 1`` (no finite mean spend) counts as failed.
    """
    data = fit.fitter.data
    frequency = data["frequency"].to_numpy(dtype=float)
    spend = data["monetary_value"].to_numpy(dtype=float)

    def refit(weights: np.ndarray, start: Mapping[str, float]) -> dict[str, float] | None:
        keep = weights > 0
        try:
            fitter = _gamma_gamma_fitter(
                fit.penalizer,
                frequency[keep],
                spend[keep],
                weights[keep],
                fit_limits.start(),
                start=dict(start),
            )
        except (ValueError, ArithmeticError, TimeoutError):
            return None
        params = _finite_params(fitter.params_.rename({"v": "gamma"}))
        return params if params is not None and params["q"] > 1.0 else None

    return _draw_params(
        refit,
        data["weights"].to_numpy(dtype=np.int64),
        fit.params,
        resamples=resamples,
        max_fit_customers=max_fit_customers,
        rng=np.random.default_rng(random_state),
    )


def _finite_params(params: pd.Series) -> dict[str, float] | None:
    values = params.to_numpy(dtype=float)
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        return None
    return {str(k): float(v) for k, v in params.items()}
