"""The lifetimes shim: the only module of the kit that imports lifetimes.

lifetimes is imported only inside functions, through :func:`_import_lifetimes`, which restores
the pandas option and the warning filters that importing lifetimes changes; every call into
lifetimes runs inside :func:`_lifetimes_call`, which also keeps its prints off stdout.

The fits are what lifetimes' ``fit`` does (its time scaling, its likelihood, scipy's
``minimize`` with lifetimes' method, start and tolerance: :func:`_minimize_as_lifetimes` for
BG/NBD, MBG/NBD and Gamma-Gamma), minus what the kit never uses: the Hessian and standard
errors it computes after optimising (a quarter to a third of a BG/NBD fit) and the
``generate_new_data`` lambda. So every object the package returns (fits, forecasts, the
backtest, the schemes' details) pickles with the standard library's ``pickle`` (no ``dill``);
:class:`_PicklableFit` drops the lambda from a fitter that went through lifetimes' own ``fit``.
Pareto/NBD is the one exception to lifetimes' optimiser: its likelihood is lifetimes' own, but
:func:`_pareto_minimize` minimises it by L-BFGS-B where lifetimes runs Nelder-Mead (the same
optimum in a third to a fifth of the likelihood evaluations).

No fit runs unbounded (:class:`FitLimits`, config ``clv.fit_limits``): scipy's ``maxiter``
bounds each optimisation, and the objective itself checks the fit's deadline on every
evaluation, raising :class:`TimeoutError` once it has passed. The deadline is in the fit's CPU
time (``time.thread_time`` of the fitting thread, plus what the Pareto/NBD likelihood's worker
threads spent), not the wall clock, so whether a model is available
does not depend on what else the machine runs (on 2 cores shared by a dozen processes a
Pareto/NBD fit of 2.3 s CPU took 21 s of wall time). lifetimes' ``fit`` takes no
``callback``, and a scipy ``callback`` runs only once an iteration, after every likelihood
evaluation of its line search; the objective is the one hook that stops any optimiser
within one evaluation of the deadline.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import config_section, default_config
from segmentation.errors import CLVInputError

__all__ = [
    "PARALLEL_MIN_ROWS",
    "FitLimits",
    "_FitBudget",
    "_PicklableFit",
    "_import_lifetimes",
    "_lifetimes_call",
    "_minimize_as_lifetimes",
    "_pareto_minimize",
    "_picklable_fitter",
    "default_fit_limits",
]


@dataclass(frozen=True)
class FitLimits:
    """How far one model fit may run: the config's ``clv.fit_limits``.

    A fit that reaches either limit is left out with its reason, as a fit that does not
    converge is: the backtest then chooses among the other models, and a scheme that needed
    the model is unavailable.

    Attributes
    ----------
    max_iterations : int
        Optimiser iterations per attempt (each penalizer tried is an attempt): scipy's
        ``maxiter`` for BFGS (BG/NBD, MBG/NBD, Gamma-Gamma) and L-BFGS-B (Pareto/NBD).
        An attempt that reaches it has not converged, and the next penalizer is tried.
    max_seconds : float
        CPU time of a model's whole fit (the fitting thread's and its likelihood workers'),
        every attempt included; when it has passed, the fit stops within one likelihood
        evaluation and no further penalizer is tried.
    threads : int, default 2
        Threads that share a Pareto/NBD likelihood's rows (from :data:`PARALLEL_MIN_ROWS`
        rows up). Any number gives the same fit, to the bit.
    """

    max_iterations: int
    max_seconds: float
    threads: int = 2

    def __post_init__(self) -> None:
        iterations, seconds = self.max_iterations, self.max_seconds
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, int | np.integer)
            or iterations < 1
            or isinstance(seconds, bool)
            or not isinstance(seconds, int | float | np.integer | np.floating)
            or not 0 < seconds < np.inf
            or isinstance(self.threads, bool)
            or not isinstance(self.threads, int | np.integer)
            or self.threads < 1
        ):
            raise CLVInputError(
                f"config clv.fit_limits: found max_iterations={iterations!r}, max_seconds="
                f"{seconds!r}, threads={self.threads!r}; give a whole number of iterations of "
                "at least 1, a positive, finite number of seconds and a whole number of "
                "threads of at least 1, e.g. {max_iterations: 2000, max_seconds: 60, threads: 2}."
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FitLimits:
        """The limits of ``config`` (:func:`segmentation.config.load_config` output)."""
        limits = config_section(config, "clv")["fit_limits"]
        return cls(
            max_iterations=limits["max_iterations"],
            max_seconds=limits["max_seconds"],
            threads=limits["threads"],
        )

    def start(self) -> _FitBudget:
        """A budget whose clock starts now, in this thread's CPU time: one model's fit."""
        return _FitBudget(self, time.thread_time() + float(self.max_seconds))


@functools.cache
def default_fit_limits() -> FitLimits:
    """The built-in config's ``clv.fit_limits``: the limits of a fit called without any."""
    return FitLimits.from_config(default_config())


@dataclass(frozen=True)
class _FitBudget:
    """The limits of one model's fit and the moment it must stop: ``deadline`` in the
    fitting thread's CPU time (``time.thread_time``), to which the CPU seconds its worker
    threads spent (:meth:`add_worker_seconds`) count too."""

    limits: FitLimits
    deadline: float
    worker_seconds: list[float] = field(default_factory=lambda: [0.0])

    def add_worker_seconds(self, seconds: float) -> None:
        """Count ``seconds`` of a worker thread's CPU time against the deadline."""
        self.worker_seconds[0] += seconds

    def bounded(self, objective: Callable[..., Any]) -> Callable[..., Any]:
        """``objective``, raising :class:`TimeoutError` when called after the deadline."""

        def checked(*args: Any) -> Any:
            if time.thread_time() + self.worker_seconds[0] > self.deadline:
                raise TimeoutError(self.timeout_message())
            return objective(*args)

        return checked

    def timeout_message(self) -> str:
        return (
            f"fit stopped after {self.limits.max_seconds:g} s of CPU time "
            "(clv.fit_limits.max_seconds)"
        )

    def minimize(
        self,
        objective: Callable[..., Any],
        x0: np.ndarray,
        args: tuple[Any, ...],
        *,
        options: Mapping[str, Any] | None = None,
        **keywords: Any,
    ) -> Any:
        """scipy's ``minimize`` of ``objective`` within the budget, ``options`` added to its
        ``maxiter``; raises lifetimes' ``ConvergenceError`` when it stops at
        ``max_iterations`` or reports another failure."""
        from lifetimes.utils import ConvergenceError
        from scipy.optimize import minimize

        max_iterations = int(self.limits.max_iterations)
        # L-BFGS-B takes no ``disp`` (deprecated in scipy 1.15); it prints nothing anyway.
        quiet = {} if keywords.get("method") == "L-BFGS-B" else {"disp": False}
        output = minimize(
            self.bounded(objective),
            x0=x0,
            args=args,
            options={**quiet, "maxiter": max_iterations, **(options or {})},
            **keywords,
        )
        if output.success:
            return output
        if int(output.nit) >= max_iterations:
            raise ConvergenceError(
                f"stopped after {max_iterations:,} iterations (clv.fit_limits.max_iterations)"
            )
        raise ConvergenceError(
            f"The model did not converge ({output.message}). Try adding a larger penalizer."
        )


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


def _minimize_as_lifetimes(
    fitter: Any,
    args: tuple[Any, ...],
    n_params: int,
    *,
    budget: _FitBudget,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """lifetimes' ``BaseFitter._fit`` without its Hessian: the optimum, in log-parameters.

    The same call of scipy's ``minimize`` as lifetimes' ``fit`` makes for BG/NBD, MBG/NBD and
    Gamma-Gamma (BFGS on autograd's value and gradient of the fitter's own
    ``_negative_log_likelihood``, lifetimes' start of 0.1 in every log-parameter and its
    ``tol`` of 1e-7), so the parameters are lifetimes' to the last bit; ``budget`` adds the
    iteration limit and the deadline. lifetimes then takes autograd's Hessian for standard
    errors, which the kit never shows: a quarter to a third of the fit, left out. Raises
    lifetimes' ``ConvergenceError`` when scipy reports a failure, :class:`TimeoutError` past
    the deadline.
    """
    from autograd import value_and_grad

    output = budget.minimize(
        value_and_grad(fitter._negative_log_likelihood),
        0.1 * np.ones(n_params) if start is None else np.asarray(start, dtype=float),
        args,
        jac=True,
        method=None,
        tol=1e-7,
        bounds=None,
    )
    fitter._negative_log_likelihood_ = output.fun
    fitter._hessian_ = None
    return np.asarray(output.x, dtype=float)


#: Rows from which the Pareto/NBD likelihood is shared among ``clv.fit_limits.threads``
#: threads. Below it one thread is faster: handing rows to a thread costs about 0.1 ms per
#: evaluation, and a bootstrap on CDNOW's ~1,000 unique rows runs ~15,000 evaluations.
PARALLEL_MIN_ROWS = 20_000
#: Each thread's rows start at a multiple of this many rows, so numpy's vectorised loops
#: (up to 8 float64 lanes) handle every row as they do in one call over all the rows.
_CHUNK_ALIGN = 64


class _ParetoObjective:
    """lifetimes' ``ParetoNBDFitter._negative_log_likelihood``, its rows on a thread pool.

    lifetimes' ``_conditional_log_likelihood`` (its own, unchanged) is computed row by row,
    so computing it over aligned blocks of rows on ``pool`` and joining the blocks gives the
    same array to the bit; the weighted total and the penalizer then run once over all the
    rows, in lifetimes' own order. ``scipy.special.hyp2f1`` and numpy release the GIL, so
    two threads take 0.54 of one's time on a million customers' purchase days (337,503
    rows). The workers' CPU time counts against ``budget``.
    """

    def __init__(self, fitter: Any, *, pool: Executor, threads: int, budget: _FitBudget):
        self.conditional = fitter._conditional_log_likelihood
        self.pool = pool
        self.threads = threads
        self.budget = budget

    def _block(self, params: np.ndarray, rows: tuple[np.ndarray, ...]) -> tuple[Any, float]:
        began = time.thread_time()
        with np.errstate(all="ignore"):  # numpy's error state is per thread
            values = self.conditional(params, *rows)
        return values, time.thread_time() - began

    def __call__(
        self,
        params: np.ndarray,
        freq: np.ndarray,
        rec: np.ndarray,
        T: np.ndarray,
        weights: np.ndarray,
        penalizer_coef: float,
    ) -> Any:
        # lifetimes' _negative_log_likelihood, line for line, but for the blocks.
        if np.any(np.asarray(params) <= 0.0):
            return np.inf
        freq, rec, T = np.asarray(freq), np.asarray(rec), np.asarray(T)
        size = -(-len(freq) // self.threads)
        size = -(-size // _CHUNK_ALIGN) * _CHUNK_ALIGN
        starts = range(size, len(freq), size)
        jobs = [
            self.pool.submit(
                self._block, params, (freq[i : i + size], rec[i : i + size], T[i : i + size])
            )
            for i in starts
        ]
        first, _ = self._block(params, (freq[:size], rec[:size], T[:size]))
        blocks = [first]
        for job in jobs:
            values, seconds = job.result()
            blocks.append(values)
            self.budget.add_worker_seconds(seconds)
        conditional_log_likelihood = np.concatenate(blocks)
        penalizer_term = penalizer_coef * sum(np.asarray(params) ** 2)
        return -(weights * conditional_log_likelihood).sum() / weights.mean() + penalizer_term


def _pareto_minimize(
    fitter: Any,
    args: tuple[Any, ...],
    *,
    options: Mapping[str, float],
    budget: _FitBudget,
    start: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The Pareto/NBD optimum of lifetimes' own likelihood, by L-BFGS-B over log-parameters.

    The objective is the fitter's own ``_negative_log_likelihood`` (its time-scaled
    parameters, weights and penalizer), unchanged. lifetimes minimises it by Nelder-Mead;
    L-BFGS-B on the log-parameters (finite-difference gradients: the likelihood's
    ``hyp2f1`` has no autograd derivative) reaches the same optimum in a third to a fifth of
    the likelihood evaluations, each of which is the whole cost of a fit: on the CDNOW sample
    145 evaluations against Nelder-Mead's 453 at ``tol=1e-8``, the objective 1e-11 lower;
    on a million customers' purchase days (337,503 unique rows) 140 against 638, 18 s
    against 107 s, the objective within 1.5e-7 of 1,447,204. ``start`` (time scaled)
    replaces lifetimes' start of ones and ``upper`` bounds the parameters from above (a
    bootstrap refit's). ``options`` are L-BFGS-B's ``ftol`` and ``gtol``
    (:data:`segmentation.clv.PARETO_FIT_OPTIONS`). From :data:`PARALLEL_MIN_ROWS` rows the
    likelihood's rows are shared among ``budget.limits.threads`` threads
    (:class:`_ParetoObjective`: the same value to the bit). Returns the optimum and the
    objective there.
    """
    x0 = np.zeros(4) if start is None else np.log(np.asarray(start, dtype=float))
    bounds = None
    if upper is not None:
        with np.errstate(divide="ignore"):
            bounds = [(None, None if not np.isfinite(u) else float(np.log(u))) for u in upper]
    threads = int(budget.limits.threads)
    with contextlib.ExitStack() as stack:
        objective = fitter._negative_log_likelihood
        if threads > 1 and len(args[0]) >= PARALLEL_MIN_ROWS:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=threads - 1))
            objective = _ParetoObjective(fitter, pool=pool, threads=threads, budget=budget)

        def in_logs(log_params: np.ndarray, *rest: Any) -> Any:
            return objective(np.exp(log_params), *rest)

        output = budget.minimize(
            in_logs, x0, args, method="L-BFGS-B", bounds=bounds, options=dict(options)
        )
    return np.exp(np.asarray(output.x, dtype=float)), float(output.fun)
