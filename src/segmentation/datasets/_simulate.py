"""The one BG/NBD + Gamma-Gamma simulator: the demo export and the benchmarks' synthetic exports
both draw their customers, purchases and order values from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.errors import InvalidOptionError

__all__ = [
    "CustomerLatents",
    "SimulatedPurchases",
    "draw_customer_latents",
    "draw_order_values",
    "simulate_bgnbd_purchases",
    "simulate_bgnbd_summary",
]

#: Gamma-Gamma shape of an order's value: ``z ~ Gamma(ORDER_VALUE_SHAPE, scale=1/nu)``.
ORDER_VALUE_SHAPE = 6.0


@dataclass(frozen=True)
class CustomerLatents:
    """Each customer's latent parameters, what the BG/NBD and Gamma-Gamma models estimate.

    Attributes
    ----------
    rate : numpy.ndarray
        Purchases per day while alive (BG/NBD's ``lambda``).
    dropout : numpy.ndarray
        Probability of dropping out after a purchase (BG/NBD's ``p``).
    spend_nu : numpy.ndarray
        Gamma-Gamma's ``nu``: order values are ``Gamma(6, scale=1/nu)``.
    """

    rate: np.ndarray
    dropout: np.ndarray
    spend_nu: np.ndarray

    @property
    def mean_spend(self) -> np.ndarray:
        """Expected value of an order, ``6 / nu``."""
        return ORDER_VALUE_SHAPE / self.spend_nu


@dataclass(frozen=True)
class SimulatedPurchases:
    """Purchases drawn by :func:`simulate_bgnbd_purchases`, in rounds.

    Attributes
    ----------
    customer : numpy.ndarray
        Index of the buying customer, one per purchase: every buyer's first purchase
        (customers ascending), then every second purchase, and so on.
    day : numpy.ndarray
        Day of each purchase (float, days since the start of the history).
    dropout_day : numpy.ndarray
        Per customer: the day of the purchase after which they dropped out; ``inf`` for a
        buyer still alive at the end, ``-inf`` for a customer who never bought.
    """

    customer: np.ndarray
    day: np.ndarray
    dropout_day: np.ndarray


def draw_customer_latents(rng: np.random.Generator, n_customers: int) -> CustomerLatents:
    """Draw every customer's purchase rate, dropout probability and spend from their priors.

    ``lambda ~ Gamma(0.75, scale=1/34)`` purchases per day, ``p ~ Beta(0.6, 3.5)`` and
    ``nu ~ Gamma(3.5, scale=1/104)`` (orders of about ¥250), drawn in that order.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator to draw from; three arrays of ``n_customers`` draws are taken from it.
    n_customers : int

    Returns
    -------
    CustomerLatents
    """
    return CustomerLatents(
        rate=rng.gamma(0.75, 1 / 34.0, n_customers),
        dropout=rng.beta(0.6, 3.5, n_customers),
        spend_nu=rng.gamma(3.5, 1 / 104.0, n_customers),
    )


def draw_order_values(
    rng: np.random.Generator, spend_nu: np.ndarray, customer: np.ndarray
) -> np.ndarray:
    """Draw one Gamma-Gamma order value per purchase: ``z ~ Gamma(6, scale=1/nu[customer])``.

    Parameters
    ----------
    rng : numpy.random.Generator
    spend_nu : numpy.ndarray
        Per customer, :attr:`CustomerLatents.spend_nu`.
    customer : numpy.ndarray
        The buying customer of each purchase, e.g. :attr:`SimulatedPurchases.customer`.

    Returns
    -------
    numpy.ndarray
        One value per purchase, in the order of ``customer``.
    """
    return rng.gamma(ORDER_VALUE_SHAPE, 1.0 / spend_nu[customer])


def simulate_bgnbd_purchases(
    rng: np.random.Generator,
    *,
    first_day: np.ndarray,
    rate: np.ndarray,
    dropout: np.ndarray,
    end_day: float,
    dropout_after_first: bool = True,
) -> SimulatedPurchases:
    """Simulate every customer's purchases by a BG/NBD process, vectorised over customers.

    A customer first buys on ``first_day``; after each purchase they drop out with
    probability ``dropout``, else buy again after an exponential gap of mean ``1 / rate``
    days, until ``end_day``. One loop step is one purchase round, vectorised over the
    customers still buying: a million customers take a few seconds.

    Each round draws, in this order, one uniform per customer still buying (the dropout)
    and one exponential per customer who stays (the gap), so the same generator state gives
    the same purchases.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator to draw from.
    first_day : numpy.ndarray
        Per customer, the day of the first purchase; a customer whose first day is not
        before ``end_day`` (``np.inf`` for one who never buys) has no purchase.
    rate : numpy.ndarray
        Per customer, purchases per day while alive.
    dropout : numpy.ndarray
        Per customer, the probability of dropping out after a purchase.
    end_day : float
        The end of the history: purchases fall strictly before it.
    dropout_after_first : bool, default True
        ``True``: a customer may drop out right after the first purchase (the demo and the
        benchmarks). ``False``: only after repeat purchases, as BG/NBD's likelihood has it
        (Fader, Hardie & Lee 2005); the first round then draws no dropout.

    Returns
    -------
    SimulatedPurchases

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    who = np.flatnonzero(first_day < end_day)
    day = first_day[who]
    dropout_day = np.full(len(first_day), -np.inf)
    dropout_day[who] = np.inf
    rounds_who, rounds_day = [], []
    first_round = True
    while who.size:
        rounds_who.append(who)
        rounds_day.append(day)
        if dropout_after_first or not first_round:
            stays = rng.uniform(0, 1, who.size) >= dropout[who]
            dropout_day[who[~stays]] = day[~stays]
            who, day = who[stays], day[stays]
        first_round = False
        # Scaled by the mean gap, not divided by the rate: the last bit differs, and the
        # demo's recorded outputs were drawn this way.
        day = day + rng.exponential(1.0 / rate[who])
        inside = day < end_day
        who, day = who[inside], day[inside]
    return SimulatedPurchases(
        customer=np.concatenate(rounds_who) if rounds_who else np.zeros(0, dtype=np.int64),
        day=np.concatenate(rounds_day) if rounds_day else np.zeros(0),
        dropout_day=dropout_day,
    )


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
    _check_summary_options(n_customers, cohort_days, observation_days, period_days)
    end_day = observation_days - 1
    rng = np.random.default_rng(seed)
    rate_per_day = rng.gamma(r, 1.0 / alpha, n_customers) / time_unit_days
    dropout = rng.beta(a, b, n_customers)
    first_day = rng.integers(0, cohort_days, n_customers)
    purchases = simulate_bgnbd_purchases(
        rng,
        first_day=first_day + rng.uniform(0.0, 1.0, n_customers),
        rate=rate_per_day,
        dropout=dropout,
        end_day=observation_days,
        dropout_after_first=False,
    )
    # Periods end on the last day observed: weeks (period_days 7) are counted backwards.
    period = end_day - period_days * (
        (end_day - np.floor(purchases.day).astype(np.int64)) // period_days
    )
    order = np.lexsort((period, purchases.customer))
    customer, period = purchases.customer[order], period[order]
    distinct = np.ones(len(customer), dtype=bool)
    distinct[1:] = (customer[1:] != customer[:-1]) | (period[1:] != period[:-1])
    periods = np.bincount(customer[distinct], minlength=n_customers)
    last = np.ones(len(customer), dtype=bool)  # each customer's latest period
    last[:-1] = customer[1:] != customer[:-1]
    last_period = np.zeros(n_customers, dtype=np.int64)
    last_period[customer[last]] = period[last]
    first_period = end_day - period_days * ((end_day - first_day) // period_days)
    return pd.DataFrame(
        {
            "frequency": (periods - 1).astype(np.int64),
            "recency": (last_period - first_period).astype(float),
            "T": (end_day - first_period).astype(float),
            "first_day": first_day,
        },
        index=pd.RangeIndex(n_customers, name="customer_id"),
    )


def _check_summary_options(
    n_customers: int, cohort_days: int, observation_days: int, period_days: int
) -> None:
    if n_customers < 1:
        raise InvalidOptionError(f"n_customers must be at least 1, got {n_customers}.")
    if not 0 < cohort_days <= observation_days:
        raise InvalidOptionError(
            f"need 0 < cohort_days <= observation_days, got {cohort_days} and {observation_days}."
        )
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days < 1:
        raise InvalidOptionError(
            f"period_days must be a whole number of days, 1 or more; got {period_days!r}."
        )
