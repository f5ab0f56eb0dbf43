"""Does the reading predict? Held-out AUC and R² of the linear models against a naive
baseline, with a gradient-boosting model and its permutation importance beside them."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.drivers._design import DesignMatrix
from segmentation.drivers._threads import one_thread

__all__ = ["MODELS", "HeldOutCheck", "held_out_check", "predictor_groups"]

#: The columns of :attr:`HeldOutCheck.scores`, in order.
MODELS: tuple[str, ...] = ("naive", "linear", "gradient_boosting")


@dataclass(frozen=True)
class HeldOutCheck:
    """The models fitted on some customers and scored on the others.

    Attributes
    ----------
    scores : pandas.DataFrame
        Rows ``purchase_auc`` and ``spend_r2``; columns :data:`MODELS`. The naive baseline
        says each customer does again what they did in the horizon before calibration
        (bought or not; log1p of what they spent).
    importance : pandas.DataFrame
        Per predictor (:func:`predictor_groups`), the gradient-boosting models' permutation
        importance on the held-out customers: the mean drop in AUC (``purchase``) and in R²
        (``spend``) when the predictor is shuffled, and its standard deviation over the
        repeats (``*_std``); the largest purchase drop first.
    n_train, n_test : int
    """

    scores: pd.DataFrame
    importance: pd.DataFrame
    n_train: int
    n_test: int


def held_out_check(
    design: DesignMatrix,
    *,
    bought: pd.Series,
    revenue: pd.Series,
    previous_bought: pd.Series,
    previous_revenue: pd.Series,
    settings: Mapping[str, Any],
    random_state: int = 0,
) -> HeldOutCheck:
    """Fit on a seeded share of the customers, score on the rest.

    Parameters
    ----------
    design : DesignMatrix
    bought, revenue : pandas.Series
        The outcomes over the horizon, aligned with ``design.values``.
    previous_bought, previous_revenue : pandas.Series
        The same over the horizon before calibration: the naive baseline.
    settings : mapping
        The config's ``drivers`` section (``held_out_share``, ``logit_max_iterations``,
        ``gradient_boosting``, ``permutation_repeats``, ``permutation_max_customers``).
    random_state : int, default 0

    Returns
    -------
    HeldOutCheck
    """
    # One thread: on a few busy cores OpenMP's spinning made the gradient boosting's predictions
    # a hundred times slower, and one thread makes the scores independent of the core count.
    with one_thread():
        return _check(
            design, bought, revenue, previous_bought, previous_revenue, settings, random_state
        )


def _check(
    design: DesignMatrix,
    bought: pd.Series,
    revenue: pd.Series,
    previous_bought: pd.Series,
    previous_revenue: pd.Series,
    settings: Mapping[str, Any],
    random_state: int,
) -> HeldOutCheck:
    """:func:`held_out_check`'s steps: split, fit, score, permute."""
    import statsmodels.api as sm
    from sklearn.metrics import r2_score, roc_auc_score
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    rng = np.random.default_rng(random_state)
    n = len(design.values)
    test = np.zeros(n, dtype=bool)
    test[rng.choice(n, round(n * float(settings["held_out_share"])), replace=False)] = True
    n_train = int((~test).sum())
    x = sm.add_constant(design.values.to_numpy(dtype=float), has_constant="add")
    y_buy = bought.to_numpy(dtype=float)
    y_spend = np.log1p(np.maximum(revenue.to_numpy(dtype=float), 0.0))
    iterations = int(settings["logit_max_iterations"])
    with warnings.catch_warnings():
        # statsmodels' "failed to converge. Check mle_retvals" names neither the model nor
        # what it means for the reader: said below in the kit's words.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        logit = sm.Logit(y_buy[~test], x[~test]).fit(disp=0, maxiter=iterations)
    if not logit.mle_retvals.get("converged", True):
        warnings.warn(
            f"drivers: the held-out check's logistic regression of buying did not converge "
            f"in {iterations} iterations on its {n_train:,} training "
            "customers (usually a predictor that nearly tells buyers from the others); its "
            "held-out AUC is that of where it stopped.",
            UserWarning,
            stacklevel=2,
        )
    ols = sm.OLS(y_spend[~test], x[~test]).fit()
    boosted_buy, boosted_spend = _boosted_models(
        x[:, 1:], y_buy, y_spend, test, settings=settings, random_state=random_state
    )
    naive_spend = np.log1p(np.maximum(previous_revenue.to_numpy(dtype=float), 0.0))
    scores = pd.DataFrame(
        {
            "naive": [
                roc_auc_score(y_buy[test], previous_bought.to_numpy(dtype=float)[test]),
                r2_score(y_spend[test], naive_spend[test]),
            ],
            "linear": [
                roc_auc_score(y_buy[test], logit.predict(x[test])),
                r2_score(y_spend[test], ols.predict(x[test])),
            ],
            "gradient_boosting": [
                roc_auc_score(y_buy[test], boosted_buy.predict_proba(x[test, 1:])[:, 1]),
                r2_score(y_spend[test], boosted_spend.predict(x[test, 1:])),
            ],
        },
        index=pd.Index(["purchase_auc", "spend_r2"], name="score"),
    )
    importance = _importance(
        design, x[test, 1:], y_buy[test], y_spend[test], (boosted_buy, boosted_spend),
        settings=settings, random_state=random_state,
    )  # fmt: skip
    return HeldOutCheck(scores, importance, n_train=n_train, n_test=n - n_train)


def _boosted_models(
    x: np.ndarray,
    y_buy: np.ndarray,
    y_spend: np.ndarray,
    test: np.ndarray,
    *,
    settings: Mapping[str, Any],
    random_state: int,
) -> tuple[Any, Any]:
    """scikit-learn's histogram gradient boosting, fitted on the training customers."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    options = {key: settings["gradient_boosting"][key] for key in settings["gradient_boosting"]}
    buy = HistGradientBoostingClassifier(random_state=random_state, **options)
    spend = HistGradientBoostingRegressor(random_state=random_state, **options)
    return buy.fit(x[~test], y_buy[~test]), spend.fit(x[~test], y_spend[~test])


def _importance(
    design: DesignMatrix,
    x_test: np.ndarray,
    y_buy: np.ndarray,
    y_spend: np.ndarray,
    models: tuple[Any, Any],
    *,
    settings: Mapping[str, Any],
    random_state: int,
) -> pd.DataFrame:
    """Permutation importance of each predictor on (a seeded sample of) the held-out
    customers: an attribute's yes/no columns are shuffled together (the rows move as one),
    so a region is scored as one predictor, not level by level."""
    from sklearn.metrics import r2_score, roc_auc_score

    limit = int(settings["permutation_max_customers"])
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(x_test))
    if len(rows) > limit:
        rows = np.sort(rng.choice(len(rows), limit, replace=False))
    x, repeats = x_test[rows], int(settings["permutation_repeats"])
    groups = predictor_groups(design)
    y_buy, y_spend = y_buy[rows], y_spend[rows]
    scorers = {
        "purchase": (models[0], lambda m, v: roc_auc_score(y_buy, m.predict_proba(v)[:, 1])),
        "spend": (models[1], lambda m, v: r2_score(y_spend, m.predict(v))),
    }
    found: dict[str, list[float]] = {}
    for name, (model, score) in scorers.items():
        drops = _permutation_drops(model, x, groups, score, repeats=repeats, rng=rng)
        found[name] = [float(np.mean(d)) for d in drops]
        found[f"{name}_std"] = [float(np.std(d)) for d in drops]
    table = pd.DataFrame(found, index=pd.Index(list(groups), name="predictor"))
    order = np.lexsort((np.arange(len(table)), -table["purchase"].to_numpy()))
    return table.iloc[order]


def predictor_groups(design: DesignMatrix) -> dict[str, list[int]]:
    """The design's columns by predictor: an attribute (all its levels) is one predictor;
    every other column (a number, an interaction kind, a tag) is its own."""
    groups: dict[str, list[int]] = {}
    for position, (column, term) in enumerate(design.terms.items()):
        key = term.feature if term.unit == "level" else column
        groups.setdefault(key, []).append(position)
    return groups


def _permutation_drops(
    model: Any,
    x: np.ndarray,
    groups: Mapping[str, list[int]],
    score: Any,
    *,
    repeats: int,
    rng: np.random.Generator,
) -> list[list[float]]:
    """Per group, the score's drop in each repeat when the group's columns are shuffled."""
    reference = score(model, x)
    drops = []
    for columns in groups.values():
        shuffled = x.copy()
        found = []
        for _ in range(repeats):
            shuffled[:, columns] = x[rng.permutation(len(x))][:, columns]
            found.append(reference - score(model, shuffled))
        drops.append(found)
    return drops
