"""The drivers models: logistic regression of buying and a linear model of log1p spend, with
heteroskedasticity-robust (HC1) 95% intervals from ``statsmodels``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmentation.drivers._design import DesignMatrix, Term, design_matrix
from segmentation.drivers._holdout import HeldOutCheck, held_out_check
from segmentation.drivers._threads import one_thread
from segmentation.errors import DataUnavailableError
from segmentation.evaluate import future_outcomes

__all__ = [
    "COVARIANCE",
    "DriversResult",
    "drivers_analysis",
    "drivers_from_config",
    "fit_purchase_model",
    "fit_spend_model",
]

#: statsmodels' covariance type: White's heteroskedasticity-robust errors with the n/(n-k)
#: small-sample factor.
COVARIANCE = "HC1"


@dataclass(frozen=True)
class DriversResult:
    """What related to buying and spending in the horizon after calibration.

    Attributes
    ----------
    calibration_end : pandas.Timestamp
    horizon_days : int
    n_customers : int
        Buyers known at calibration (the customers modelled).
    sample_size : int or None
        The seeded sample the models ran on, or None when they ran on every buyer.
    buy_rate, mean_revenue : float
        The share of the modelled customers who bought in the horizon, and their mean
        revenue in it.
    terms : dict of str to Term
    pooled : dict of str to list of str
        Attribute levels pooled into one "other" level.
    purchase, spend : pandas.DataFrame or None
        :func:`fit_purchase_model` and :func:`fit_spend_model`, or None with the reason in
        ``unavailable``.
    held_out : HeldOutCheck or None
    unavailable : dict of str to str
        ``"purchase"``, ``"spend"`` or ``"held_out"`` to why it is missing.
    """

    calibration_end: pd.Timestamp
    horizon_days: int
    n_customers: int
    sample_size: int | None
    buy_rate: float
    mean_revenue: float
    terms: dict[str, Term]
    pooled: dict[str, list[str]]
    purchase: pd.DataFrame | None
    spend: pd.DataFrame | None
    held_out: HeldOutCheck | None
    unavailable: dict[str, str] = field(default_factory=dict)


def fit_purchase_model(
    design: DesignMatrix, bought: pd.Series, *, max_iterations: int
) -> pd.DataFrame:
    """Logistic regression of buying in the horizon on the design, robust 95% intervals.

    Parameters
    ----------
    design : DesignMatrix
    bought : pandas.Series
        Bought in the horizon (bool), aligned with ``design.values``.
    max_iterations : int
        The fit's iteration limit (config ``drivers.logit_max_iterations``); a fit that has
        not converged by then is refused.

    Returns
    -------
    pandas.DataFrame
        Per term: ``coef`` (log-odds per unit), ``lower`` and ``upper`` (its 95% interval,
        HC1), ``p_value``; ``effect``, ``effect_lower``, ``effect_upper``: the average
        marginal effect on the chance of buying (0.021 = 2.1 percentage points; for a yes/no
        column the average change from no to yes) with its 95% interval.

    Raises
    ------
    DataUnavailableError
        When everyone (or no one) bought, or the model cannot be fitted (e.g. a column
        separates buyers from the others perfectly).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    y = bought.to_numpy(dtype=float)
    if y.min() == y.max():
        raise DataUnavailableError(
            f"{'every' if y[0] else 'no'} customer modelled bought in the horizon: nothing "
            "to tell buyers from the others"
        )
    x = sm.add_constant(design.values, has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=RuntimeWarning)
            # Not converging is refused below with the reason: statsmodels' own warning
            # ("Check mle_retvals") would only repeat it to the reader, less clearly.
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            result = sm.Logit(y, x).fit(disp=0, maxiter=max_iterations, cov_type=COVARIANCE)
        margins = result.get_margeff(at="overall", method="dydx", dummy=True).summary_frame()
    except (np.linalg.LinAlgError, RuntimeWarning, ValueError) as error:
        raise DataUnavailableError(f"the purchase model could not be fitted: {error}") from error
    if not result.mle_retvals.get("converged", True):
        raise DataUnavailableError(
            f"the purchase model did not converge in {max_iterations} iterations"
        )
    table = _coefficients(result, list(design.values.columns))
    table["effect"] = margins.iloc[:, 0].to_numpy()
    table["effect_lower"] = margins.iloc[:, 4].to_numpy()
    table["effect_upper"] = margins.iloc[:, 5].to_numpy()
    return table


def fit_spend_model(design: DesignMatrix, revenue: pd.Series) -> pd.DataFrame:
    """Linear model of log1p(revenue in the horizon) on the design, robust 95% intervals.

    Parameters
    ----------
    design : DesignMatrix
    revenue : pandas.Series
        Revenue in the horizon (net; negatives count as 0), aligned with ``design.values``.

    Returns
    -------
    pandas.DataFrame
        Per term: ``coef``, ``lower``, ``upper`` (95%, HC1), ``p_value``; ``effect``,
        ``effect_lower``, ``effect_upper``: ``exp(coef) - 1``, the relative change in
        1 + revenue per unit (0.12 = 12% more).
    """
    import statsmodels.api as sm

    y = np.log1p(np.maximum(revenue.to_numpy(dtype=float), 0.0))
    x = sm.add_constant(design.values, has_constant="add")
    result = sm.OLS(y, x).fit(cov_type=COVARIANCE)
    table = _coefficients(result, list(design.values.columns))
    for column, source in (
        ("effect", "coef"),
        ("effect_lower", "lower"),
        ("effect_upper", "upper"),
    ):
        table[column] = np.expm1(table[source].to_numpy())
    return table


def _coefficients(result: Any, names: list[str]) -> pd.DataFrame:
    """Coefficients, 95% intervals and p-values of a statsmodels fit, the constant left out."""
    interval = np.asarray(result.conf_int(alpha=0.05))
    return pd.DataFrame(
        {
            "coef": np.asarray(result.params)[1:],
            "lower": interval[1:, 0],
            "upper": interval[1:, 1],
            "p_value": np.asarray(result.pvalues)[1:],
        },
        index=pd.Index(names, name="term"),
    )


def drivers_analysis(
    snapshot: pd.DataFrame,
    outcomes: pd.DataFrame,
    orders: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    *,
    calibration_end: str | pd.Timestamp,
    horizon_days: int,
    settings: Mapping[str, Any],
    random_state: int = 0,
) -> DriversResult:
    """Model the horizon after calibration from what was known at calibration.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The calibration snapshot; its buyers (not ``is_potential``) are modelled.
    outcomes : pandas.DataFrame
        :func:`segmentation.evaluate.future_outcomes` after calibration (``bought``,
        ``revenue``).
    orders : pandas.DataFrame
        Canonical orders: the naive baseline's horizon before calibration.
    interactions : pandas.DataFrame, optional
        Interactions per kind over the ``horizon_days`` up to calibration are predictors.
    calibration_end : str or pandas.Timestamp
    horizon_days : int
    settings : mapping
        The config's ``drivers`` section.
    random_state : int, default 0
        Seeds the sample of customers, the held-out split and the gradient boosting.

    Returns
    -------
    DriversResult
    """
    # One thread for BLAS and OpenMP: the models are small matrices, where threads spinning
    # on a few busy cores cost more than they give, and one thread fixes the sums' order.
    with one_thread():
        return _drivers(
            snapshot, outcomes, orders, interactions, pd.Timestamp(calibration_end).normalize(),
            horizon_days, settings, random_state,
        )  # fmt: skip


def _drivers(
    snapshot: pd.DataFrame,
    outcomes: pd.DataFrame,
    orders: pd.DataFrame,
    interactions: pd.DataFrame | None,
    calibration_end: pd.Timestamp,
    horizon_days: int,
    settings: Mapping[str, Any],
    random_state: int,
) -> DriversResult:
    """:func:`drivers_analysis`'s steps: sample, design, fit, check."""
    buyers = snapshot.loc[~snapshot["is_potential"].to_numpy(dtype=bool)]
    limit, sample_size = int(settings["max_customers"]), None
    if len(buyers) > limit:
        rng = np.random.default_rng(random_state)
        buyers = buyers.iloc[np.sort(rng.choice(len(buyers), limit, replace=False))]
        sample_size = limit
    design = design_matrix(
        buyers,
        interactions,
        as_of=calibration_end,
        interaction_days=horizon_days,
        min_level_customers=int(settings["min_level_customers"]),
        max_tags=int(settings["max_tags"]),
    )
    after = outcomes.reindex(buyers.index)
    bought, revenue = after["bought"].fillna(False).astype(bool), after["revenue"].fillna(0.0)
    models, unavailable = _fit_models(
        design, bought, revenue, max_iterations=int(settings["logit_max_iterations"])
    )
    held_out = None
    if models["purchase"] is not None:
        before = future_outcomes(
            orders,
            buyers.index,
            calibration_end=calibration_end - pd.Timedelta(days=horizon_days),
            horizon_days=horizon_days,
        )
        held_out = held_out_check(
            design,
            bought=bought,
            revenue=revenue,
            previous_bought=before["bought"],
            previous_revenue=before["revenue"],
            settings=settings,
            random_state=random_state,
        )
    return DriversResult(
        calibration_end=calibration_end,
        horizon_days=horizon_days,
        n_customers=int((~snapshot["is_potential"].to_numpy(dtype=bool)).sum()),
        sample_size=sample_size,
        buy_rate=float(bought.mean()),
        mean_revenue=float(revenue.mean()),
        terms=design.terms,
        pooled=design.pooled,
        purchase=models["purchase"],
        spend=models["spend"],
        held_out=held_out,
        unavailable=unavailable,
    )


def _fit_models(
    design: DesignMatrix, bought: pd.Series, revenue: pd.Series, *, max_iterations: int
) -> tuple[dict[str, pd.DataFrame | None], dict[str, str]]:
    """Both models, each None with the reason when the data cannot support it."""
    models: dict[str, pd.DataFrame | None] = {"purchase": None, "spend": None}
    unavailable: dict[str, str] = {}
    try:
        models["purchase"] = fit_purchase_model(design, bought, max_iterations=max_iterations)
    except DataUnavailableError as error:
        unavailable["purchase"] = unavailable["held_out"] = str(error)
    models["spend"] = fit_spend_model(design, revenue)
    return models, unavailable


def drivers_from_config(
    snapshot: pd.DataFrame,
    outcomes: pd.DataFrame,
    orders: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    *,
    calibration_end: str | pd.Timestamp,
    horizon_days: int,
    config: Mapping[str, Any],
    random_state: int = 0,
) -> tuple[DriversResult | None, str]:
    """:func:`drivers_analysis` with the config's ``drivers`` settings, or None and the reason
    when there is no buyer to model."""
    try:
        result = drivers_analysis(
            snapshot,
            outcomes,
            orders,
            interactions,
            calibration_end=calibration_end,
            horizon_days=horizon_days,
            settings=config["drivers"],
            random_state=random_state,
        )
    except DataUnavailableError as error:
        return None, str(error)
    return result, ""
