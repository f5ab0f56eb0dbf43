"""The report's tables of the clusters, the CLV backtest and forecast, migrations and
crosstabs: headers in the report's language, values formatted by kind
(:func:`segmentation.formatting.styled`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from segmentation.clv import MODEL_TITLES, CLVBacktest
from segmentation.formatting import styled
from segmentation.report._rules import FEATURE_NAMES, PARAMETER_SYMBOLS
from segmentation.schemes.base import Segmentation
from segmentation.schemes.migration import Migration

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "agreement_table",
    "backtest_metrics_table",
    "cluster_medians_table",
    "cluster_stability_table",
    "clv_forecast_table",
    "crosstab_table",
    "fitted_parameters_table",
    "k_choice_table",
    "migration_table",
]

# header (zh, en) and kind of each column of the k choice (clustering.choose_k)
_K_COLUMNS: dict[str, tuple[str, str, str]] = {
    "silhouette": ("轮廓系数", "silhouette", "score"),
    "calinski_harabasz": ("Calinski–Harabasz 指数", "Calinski–Harabasz", "decimal"),
    "davies_bouldin": ("Davies–Bouldin 指数", "Davies–Bouldin", "score"),
    "jaccard_mean": ("平均 Jaccard", "mean Jaccard", "score"),
    "jaccard_min": ("最低 Jaccard", "lowest Jaccard", "score"),
    "n_unstable": ("不稳定簇数", "unstable clusters", "count"),
    "smallest_share": ("最小簇占比", "smallest cluster share", "percent"),
    "chosen": ("选中", "chosen", "flag"),
}
_K = {"zh": "k（簇数）", "en": "k"}
_CLUSTER = {"zh": "簇", "en": "cluster"}
_MEDIAN = {"zh": "{}（中位数）", "en": "median {}"}
_FEATURE_KINDS = {"recency_days": "days", "monetary_total": "money", "clv": "money"}
_STABILITY = {
    "stable": {"zh": "稳定", "en": "stable"},
    "doubtful": {"zh": "存疑", "en": "doubtful"},
    "unstable": {"zh": "不稳定", "en": "unstable"},
    "not measured": {"zh": "未测量", "en": "not measured"},
}
_STABILITY_HEADERS = {"zh": ("平均 Jaccard", "稳定性"), "en": ("mean Jaccard", "stability")}

# label (zh, en) and kind of each row of the backtest's metrics; {period} is days or weeks
_METRIC_ROWS: dict[str, tuple[str, str, str]] = {
    "n_customers": ("校准期客户数", "customers in the calibration", "count"),
    "log_likelihood": ("对数似然", "log-likelihood", "decimal"),
    "holdout_actual": ("预测期实际复购{period}数合计", "holdout repeat {period}s, actual", "count"),
    "holdout_predicted": (
        "预测期预测复购{period}数合计",
        "holdout repeat {period}s, predicted",
        "decimal",
    ),
    "holdout_error": ("合计相对误差", "relative error of the total", "percent"),
    "cumulative_error": (
        "累计跟踪相对误差",
        "relative error of the cumulative tracking",
        "percent",
    ),
    "mae": ("每客户平均绝对误差（MAE）", "mean absolute error per customer (MAE)", "score"),
    "rmse": ("每客户均方根误差（RMSE）", "root mean squared error per customer (RMSE)", "score"),
    "correlation": ("预测与实际的相关系数", "correlation of predicted and actual", "score"),
    "baseline_mae": ("朴素基线的 MAE", "naive baseline's MAE", "score"),
    "beats_baseline": ("优于朴素基线", "beats the naive baseline", "flag"),
    "zero_repeat_customers": ("校准期零复购客户数", "customers without a repeat purchase", "count"),
    "zero_repeat_actual_mean": (
        "其预测期平均复购（实际）",
        "their mean holdout repeats, actual",
        "score",
    ),
    "zero_repeat_predicted_mean": (
        "其预测期平均复购（预测）",
        "their mean holdout repeats, predicted",
        "score",
    ),
    "penalizer": ("惩罚项", "penalizer", "score"),
}
_PERIOD_WORD = {7: {"zh": "周", "en": "week"}, 1: {"zh": "天", "en": "day"}}
_METRIC = {"zh": "指标", "en": "metric"}
_CHOSEN = {"zh": "（选中）", "en": " (chosen)"}
_PARAMETER = {"zh": "参数", "en": "parameter"}
_FORECAST_COLUMNS: dict[str, tuple[str, str]] = {
    "mean": ("平均", "mean"),
    "25%": ("25% 分位", "25th percentile"),
    "50%": ("中位数", "median"),
    "75%": ("75% 分位", "75th percentile"),
    "max": ("最大", "highest"),
}
_FORECAST_ROWS = {
    "clv": "money",
    "expected_purchases": "decimal",
    "expected_avg_spend": "money",
    "p_alive": "score",
}
_FORECAST = {"zh": "预测（每位买家）", "en": "forecast (per buyer)"}
_CROSSTAB_CORNER = {
    "zh": "{rows}（行）/ {columns}（列）",
    "en": "{rows} (rows) / {columns} (columns)",
}
_MIGRATION_CORNER = {
    "zh": "上月（行）→ 本月（列）",
    "en": "last month (rows) → this month (columns)",
}


def _header(columns: Mapping[str, tuple[str, ...]], key: str, lang: str) -> str:
    """The ``lang`` header of ``key`` in a table of (zh, en, ...) headers."""
    zh, en = columns[key][:2]
    return zh if lang == "zh" else en


def k_choice_table(clusters: Segmentation, *, lang: str) -> Styler:
    """The scores of every k tried (:func:`segmentation.clustering.choose_k`)."""
    table = clusters.details["k_table"]
    shown = [c for c in _K_COLUMNS if c in table.columns]
    headers = {c: _header(_K_COLUMNS, c, lang) for c in shown}
    display = table[shown].rename(columns=headers).rename_axis(_K[lang])
    return styled(display, {headers[c]: _K_COLUMNS[c][2] for c in shown})


def _cluster_names(clusters: Segmentation, keys: pd.Index, lang: str) -> pd.Index:
    names = clusters.profile[f"name_{lang}"]
    return pd.Index([names.get(key, key) for key in keys], name=_CLUSTER[lang])


def cluster_medians_table(clusters: Segmentation, *, lang: str) -> Styler:
    """The median of each clustering feature per cluster, as the snapshot has it (the means
    are in the profile above it)."""
    profile = clusters.details["feature_profile"]
    features = [c.removesuffix("_median") for c in profile.columns if c.endswith("_median")]
    headers = {f: _MEDIAN[lang].format(FEATURE_NAMES.get(f, {}).get(lang, f)) for f in features}
    table = profile[[f"{f}_median" for f in features]]
    table.columns = [headers[f] for f in features]
    table.index = _cluster_names(clusters, profile.index, lang)
    return styled(table, {headers[f]: _FEATURE_KINDS.get(f, "decimal") for f in features})


def cluster_stability_table(clusters: Segmentation, *, lang: str) -> Styler:
    """Each cluster's mean bootstrap Jaccard and its stability verdict."""
    jaccard, verdict = clusters.details["jaccard"], clusters.details["stability"]
    mean_header, verdict_header = _STABILITY_HEADERS[lang]
    table = pd.DataFrame(
        {
            mean_header: jaccard.to_numpy(),
            verdict_header: [_STABILITY.get(v, {}).get(lang, v) for v in verdict],
        },
        index=_cluster_names(clusters, jaccard.index, lang),
    )
    return styled(table, {mean_header: "score", verdict_header: "text"})


def backtest_metrics_table(backtest: CLVBacktest, *, lang: str) -> Styler:
    """The purchase models' holdout metrics: one row per metric, one column per model, the
    chosen model marked."""
    period = _PERIOD_WORD.get(backtest.period_days, {"zh": "期", "en": "period"})[lang]
    metrics = backtest.metrics
    shown = [m for m in _METRIC_ROWS if m in metrics.columns]
    labels = {m: _header(_METRIC_ROWS, m, lang).format(period=period) for m in shown}
    table = metrics[shown].T.astype(object)
    table.index = pd.Index([labels[m] for m in shown], name=_METRIC[lang])
    table.columns = [
        MODEL_TITLES[name] + (_CHOSEN[lang] if name == backtest.chosen else "")
        for name in metrics.index
    ]
    return styled(table, rows={labels[m]: _METRIC_ROWS[m][2] for m in shown})


def fitted_parameters_table(backtest: CLVBacktest, *, lang: str) -> Styler:
    """Each fitted purchase model's parameters, as the papers write them."""
    params = {name: fit.summary()["params"] for name, fit in backtest.fits.items()}
    # In the order the papers give them (r, alpha, a, b; r, alpha, s, beta), each once.
    names = list(dict.fromkeys(p for model in params.values() for p in model))
    table = pd.DataFrame(
        {MODEL_TITLES[m]: [values.get(p) for p in names] for m, values in params.items()},
        dtype=float,
    )
    table.index = pd.Index([PARAMETER_SYMBOLS.get(p, p) for p in names], name=_PARAMETER[lang])
    return styled(table, dict.fromkeys(table.columns, "parameter"))


def clv_forecast_table(clv_tier: Segmentation, *, lang: str) -> Styler:
    """The buyers' predicted CLV, purchases, spend per purchase and P(alive): mean,
    quartiles and highest."""
    forecast = clv_tier.details["customer_clv"]
    rows = [c for c in _FORECAST_ROWS if c in forecast.columns]
    summary = forecast[rows].describe().T[list(_FORECAST_COLUMNS)]
    summary.columns = [_header(_FORECAST_COLUMNS, c, lang) for c in _FORECAST_COLUMNS]
    labels = {c: FEATURE_NAMES[c][lang] for c in rows}
    summary.index = pd.Index([labels[c] for c in rows], name=_FORECAST[lang])
    return styled(summary, rows={labels[c]: _FORECAST_ROWS[c] for c in rows})


def crosstab_table(counts: pd.DataFrame, *, lang: str) -> Styler:
    """Customers by the segments of two schemes (:func:`segmentation.evaluate.crosstab`):
    the corner names both."""
    corner = _CROSSTAB_CORNER[lang].format(rows=counts.index.name, columns=counts.columns.name)
    return styled(counts.rename_axis(index=corner, columns=None))


def migration_table(migration: Migration, *, lang: str) -> Styler:
    """Customers by last month's segment (rows) and this month's (columns)."""
    counts = migration.named("counts", lang)
    return styled(counts.rename_axis(index=_MIGRATION_CORNER[lang], columns=None))


def agreement_table(agreement: pd.DataFrame, titles: Mapping[str, str]) -> Styler:
    """A square matrix of agreement between schemes, rows by number and title and columns by
    number only, so eleven schemes fit the page."""
    numbers = {name: str(i) for i, name in enumerate(agreement.index, start=1)}
    table = agreement.rename(columns=numbers)
    table.index = pd.Index([f"{numbers[n]}. {titles.get(n, n)}" for n in agreement.index], name="")
    return styled(table, dict.fromkeys(table.columns, "score"))
