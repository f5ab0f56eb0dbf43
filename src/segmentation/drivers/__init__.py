"""What relates to next-period value (回归分析): on the backtest's calibration snapshot, whether
a customer buys in the next horizon (logistic regression) and how much they spend (a linear
model of log1p revenue), with robust 95% intervals from ``statsmodels``, and a held-out
check against a naive baseline and a gradient-boosting model from scikit-learn.

Every coefficient is an association in the data, not a cause.
"""

from segmentation.drivers._design import DesignMatrix, Term, design_matrix
from segmentation.drivers._holdout import HeldOutCheck, held_out_check
from segmentation.drivers._models import (
    DriversResult,
    drivers_analysis,
    drivers_from_config,
    fit_purchase_model,
    fit_spend_model,
)

__all__ = [
    "DesignMatrix",
    "DriversResult",
    "HeldOutCheck",
    "Term",
    "design_matrix",
    "drivers_analysis",
    "drivers_from_config",
    "fit_purchase_model",
    "fit_spend_model",
    "held_out_check",
]
