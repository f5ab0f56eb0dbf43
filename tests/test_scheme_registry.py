"""The registry's hand-off of the CLV tiers' forecast to the schemes after it (issue #23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.schemes.registry import _served


def _snapshot() -> pd.DataFrame:
    """Five customers: b and d never bought (T missing), e is a potential customer."""
    return pd.DataFrame(
        {
            "T": [30.0, np.nan, 12.0, np.nan, 5.0, 8.0],
            "is_potential": [False, False, False, False, True, False],
        },
        index=pd.Index(["a", "b", "c", "d", "e", "f"], dtype="string", name="customer_id"),
    )


def _forecast(ids: list[str]) -> pd.DataFrame:
    values = np.arange(1.0, len(ids) + 1.0)
    return pd.DataFrame(
        {"clv": values * 10.5, "p_alive": values / 8.0, "expected": values},
        index=pd.Index(ids, dtype="string", name="customer_id"),
    )


@pytest.mark.parametrize(
    "ids",
    [
        ["a", "c", "f"],  # the buyers in snapshot order: found by their mask
        ["f", "a", "c"],  # another order: looked up
        ["a", "c"],  # fewer rows than buyers: looked up
        ["a", "c", "zz"],  # an id the snapshot does not hold: reindexed
        [],
    ],
)
def test_the_forecast_lands_on_the_rows_reindex_puts_it(ids: list[str]) -> None:
    snapshot, forecast = _snapshot(), _forecast(ids)
    expected = forecast[["clv", "p_alive"]].reindex(snapshot.index)
    served = _served(snapshot, forecast)
    assert list(served) == ["clv", "p_alive"]
    for name, values in served.items():
        assert values.dtype == np.float64
        # Bit for bit, NaN where the customer has no forecast.
        assert np.array_equal(values, expected[name].to_numpy(), equal_nan=True)


def test_by_hand() -> None:
    served = _served(_snapshot(), _forecast(["a", "c", "f"]))
    assert np.array_equal(served["clv"], [10.5, np.nan, 21.0, np.nan, np.nan, 31.5], equal_nan=True)
    assert np.array_equal(
        served["p_alive"], [0.125, np.nan, 0.25, np.nan, np.nan, 0.375], equal_nan=True
    )
