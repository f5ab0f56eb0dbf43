"""As-of purity: what the kit says as of a day depends only on what was known by that day.

For any export and any day D, the snapshot and every rule scheme's labels as of D are the
same on the full export and on the export cut at D: orders and interactions after D removed,
and customers first seen after D removed, where "first seen" falls back to the customer's
first order row when the customers table has no date (ingest builds the table that way when
an export has no customers file).
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.config import load_config
from segmentation.features import as_of_cutoff, customer_snapshot
from segmentation.schemes.registry import run_schemes

START = pd.Timestamp("2024-01-01")
_CUSTOMERS = [f"c{i:02d}" for i in range(12)]

# (customer or guest, order number, day, amount): refunds negative, same-day orders, guests
_order = st.tuples(
    st.sampled_from([*_CUSTOMERS, None]),
    st.integers(0, 25),
    st.integers(0, 400),
    st.sampled_from([-30.0, 12.5, 40.0, 99.9, 250.0, 1200.0]),
)
# (customer, first seen day or None)
_listed = st.lists(
    st.tuples(st.sampled_from(_CUSTOMERS), st.one_of(st.none(), st.integers(0, 400))),
    max_size=12,
    unique_by=lambda row: row[0],
)
_interaction = st.tuples(
    st.sampled_from(_CUSTOMERS), st.integers(0, 400), st.sampled_from(["message", "like"])
)


def _export(
    orders: list[tuple], listed: list[tuple] | None, interactions: list[tuple]
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    order_frame = pd.DataFrame(
        {
            "customer_id": pd.Series([o[0] for o in orders], dtype="string"),
            "order_id": pd.Series([f"o{o[1]}" for o in orders], dtype="string"),
            "order_ts": [START + pd.Timedelta(days=o[2], hours=10) for o in orders],
            "amount": [o[3] for o in orders],
        }
    ).sort_values("order_ts", kind="stable", ignore_index=True)
    customers = None
    if listed is not None:
        customers = pd.DataFrame(
            {
                "customer_id": pd.Series([c for c, _ in listed], dtype="string"),
                "first_seen_ts": pd.to_datetime(
                    [None if d is None else START + pd.Timedelta(days=d) for _, d in listed]
                ),
            }
        )
    log = None
    if interactions:
        log = pd.DataFrame(
            {
                "customer_id": pd.Series([i[0] for i in interactions], dtype="string"),
                "ts": [START + pd.Timedelta(days=i[1], hours=9) for i in interactions],
                "kind": pd.Series([i[2] for i in interactions], dtype="string"),
            }
        )
    return order_frame, customers, log


def cut_at(
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    day: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The export as it stood at the end of ``day``."""
    cutoff = as_of_cutoff(day)
    kept_orders = orders.loc[orders["order_ts"] < cutoff].reset_index(drop=True)
    if customers is not None:
        first_order = orders.groupby("customer_id")["order_ts"].min()
        # reindex, not map: map of an empty Series of times (guests only) fails in pandas
        first_order_of_listed = first_order.reindex(customers["customer_id"]).astype(
            "datetime64[ns]"
        )
        first_seen = customers["first_seen_ts"].fillna(
            pd.Series(first_order_of_listed.to_numpy(), index=customers.index)
        )
        customers = customers.loc[first_seen.isna() | (first_seen < cutoff)].reset_index(drop=True)
    if interactions is not None:
        interactions = interactions.loc[interactions["ts"] < cutoff].reset_index(drop=True)
    return kept_orders, customers, interactions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(_order, min_size=1, max_size=40),
    listed=st.one_of(st.none(), _listed),
    interactions=st.lists(_interaction, max_size=15),
    day=st.integers(0, 420),
)
def test_the_snapshot_as_of_a_day_never_sees_later_data(
    orders: list[tuple], listed: list[tuple] | None, interactions: list[tuple], day: int
) -> None:
    full = _export(orders, listed, interactions)
    as_of = START + pd.Timedelta(days=day)
    pd.testing.assert_frame_equal(
        customer_snapshot(*full, as_of=as_of),
        customer_snapshot(*cut_at(*full, as_of), as_of=as_of),
        check_exact=True,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(_order, min_size=5, max_size=40),
    listed=st.one_of(st.none(), _listed),
    day=st.integers(60, 420),
)
def test_every_rule_schemes_labels_as_of_a_day_never_see_later_data(
    orders: list[tuple], listed: list[tuple] | None, day: int
) -> None:
    full = _export(orders, listed, [])
    as_of = START + pd.Timedelta(days=day)
    config = load_config()
    got = run_schemes(customer_snapshot(*full, as_of=as_of), as_of=as_of, config=config)
    cut = run_schemes(
        customer_snapshot(*cut_at(*full, as_of), as_of=as_of), as_of=as_of, config=config
    )
    assert sorted(got.segmentations) == sorted(cut.segmentations)
    for name, segmentation in got.segmentations.items():
        pd.testing.assert_series_equal(segmentation.labels, cut.segmentations[name].labels)


def test_online_retail_calibration_snapshot_holds_no_customer_before_their_first_order(
    online_retail_path: object,
) -> None:
    from segmentation.ingest import ingest

    result = ingest(online_retail_path)
    as_of = pd.Timestamp("2011-09-01")
    snapshot = customer_snapshot(result.orders, result.customers, result.interactions, as_of=as_of)
    first_row = (
        result.orders.dropna(subset=["customer_id"])
        .groupby(result.orders["customer_id"].dropna().astype(str))["order_ts"]
        .min()
    )
    later = first_row.index[first_row >= as_of_cutoff(as_of)]
    assert len(later) > 1_000  # the customers who first order after the day
    assert not snapshot.index.isin(later).any()
    # with no customers file, a customer is known through an order row by the day
    assert snapshot.index.isin(first_row.index[first_row < as_of_cutoff(as_of)]).all()
    assert len(snapshot) == int((first_row < as_of_cutoff(as_of)).sum())
