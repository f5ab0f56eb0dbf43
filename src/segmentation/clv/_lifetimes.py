"""The lifetimes shim: the only module of the kit that imports lifetimes.

lifetimes is imported only inside functions, through :func:`_import_lifetimes`, which restores
the pandas option and the warning filters that importing lifetimes changes; every call into
lifetimes runs inside :func:`_lifetimes_call`, which also keeps its prints off stdout.

The fits are what lifetimes' ``fit`` does (its time scaling, its likelihood, scipy's
``minimize`` with lifetimes' method, start and tolerance: :func:`_minimize_as_lifetimes`),
minus what the kit never uses: the Hessian and standard errors it computes after optimising
(a quarter to a third of a BG/NBD fit) and the ``generate_new_data`` lambda. So every object
the package returns (fits, forecasts, the backtest, the schemes' details) pickles with the
standard library's ``pickle`` (no ``dill``); :class:`_PicklableFit` drops the lambda from a
fitter that went through lifetimes' own ``fit``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "_PicklableFit",
    "_import_lifetimes",
    "_lifetimes_call",
    "_minimize_as_lifetimes",
    "_picklable_fitter",
]


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


def _picklable_fitter(fitter: Any) -> Any:
    """``fitter``, or a shallow copy without lifetimes' ``generate_new_data`` lambda.

    The kit's own fits never set it (see :func:`segmentation.clv._purchase._purchase_fitter`);
    a fitter that went through lifetimes' ``fit`` has it, and standard pickle cannot store a
    lambda.
    """
    if "generate_new_data" not in getattr(fitter, "__dict__", {}):
        return fitter
    clone = copy.copy(fitter)
    del clone.generate_new_data
    for name, value in vars(fitter).items():
        if getattr(value, "__self__", None) is fitter:  # e.g. predict: bind it to the copy
            setattr(clone, name, getattr(clone, value.__name__))
    return clone


class _PicklableFit:
    """Base of the fitted models: pickled without the lifetimes fitter's lambda."""

    fitter: Any

    def __getstate__(self) -> dict[str, Any]:
        # Standard pickle: a fitter from lifetimes' own fit holds a lambda; drop it.
        return {**self.__dict__, "fitter": _picklable_fitter(self.fitter)}


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
