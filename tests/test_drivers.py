"""Drivers of next-period value: known effects recovered, the demo's sentences and held-out
check (issue #20)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from segmentation.config import load_config
from segmentation.drivers import DesignMatrix, design_matrix, drivers_analysis, held_out_check
from segmentation.evaluate import future_outcomes
from segmentation.features import customer_snapshot
from segmentation.report._mining_text import held_out_sentences, model_sentences

from canonical_frames import DEMO_AS_OF, demo_frames

CALIBRATION = pd.Timestamp("2024-09-30")
HORIZON = 90


def _known_effects(n: int = 6000, seed: int = 7) -> tuple[pd.DataFrame, ...]:
    """Canonical tables where the log-odds of buying in the 90 days after calibration is
    -1 + 0.3 per private message in the 90 days before + 0.5 in region A (B is the most
    common region); nothing else matters."""
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{i:05d}" for i in range(n)], dtype="string")
    region = np.where(rng.uniform(size=n) < 0.4, "A", "B")
    messages = rng.poisson(1.5, n)
    past_day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), "D")
    buys = rng.uniform(size=n) < 1 / (1 + np.exp(-(-1 + 0.3 * messages + 0.5 * (region == "A"))))
    future_day = CALIBRATION + pd.to_timedelta(rng.integers(1, HORIZON, n), "D")
    amount = np.round(rng.lognormal(4, 0.5, n), 2)
    orders = pd.DataFrame(
        {
            "customer_id": pd.concat([ids, ids[buys]], ignore_index=True),
            "order_id": pd.Series([f"P{i}" for i in range(n)] + [f"F{i}" for i in range(int(buys.sum()))], dtype="string"),
            "order_ts": np.concatenate([past_day.to_numpy(), future_day[buys].to_numpy()]),
            "amount": np.concatenate([amount, amount[buys]]),
        }
    )  # fmt: skip
    customers = pd.DataFrame({"customer_id": ids, "region": pd.Series(region, dtype="string")})
    who = np.repeat(np.arange(n), messages)
    interactions = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[who],
            "ts": CALIBRATION - pd.to_timedelta(rng.integers(0, 80, len(who)), "D"),
            "kind": "message",
        }
    ).astype({"customer_id": "string", "kind": "string"})
    return orders, customers, interactions


def test_known_effects_lie_inside_the_95_percent_intervals() -> None:
    orders, customers, interactions = _known_effects()
    snapshot = customer_snapshot(orders, customers, interactions, as_of=CALIBRATION)
    outcomes = future_outcomes(
        orders, snapshot.index, calibration_end=CALIBRATION, horizon_days=HORIZON
    )
    result = drivers_analysis(
        snapshot,
        outcomes,
        orders,
        interactions,
        calibration_end=CALIBRATION,
        horizon_days=HORIZON,
        settings=load_config()["drivers"],
    )
    assert result.n_customers == 6000 and result.sample_size is None
    purchase = result.purchase
    assert purchase is not None
    assert result.terms["region=A"].baseline == "B"
    for term, truth in (("interactions:message", 0.3), ("region=A", 0.5)):
        row = purchase.loc[term]
        assert row["lower"] <= truth <= row["upper"], (term, row.to_dict())
        assert row["lower"] > 0  # and the effect is told apart from none
    # Spend to date and recency were drawn independently of buying: no effect to find.
    for term in ("monetary_total", "recency_days"):
        assert purchase.loc[term, "lower"] <= 0 <= purchase.loc[term, "upper"], term
    # Every customer ordered once: the order count is constant and left out of the design.
    assert "n_orders" not in purchase.index


def test_design_pools_rare_levels_against_the_most_common_one() -> None:
    snapshot = pd.DataFrame(
        {
            "recency_days": [30.0, 60.0, 90.0, 30.0, 60.0, 90.0],
            "region": ["x", "x", "x", "y", "y", "z"],
            "tags": ["a;b", "a", "b", "a", None, "a"],
        },
        index=pd.Index([f"c{i}" for i in range(6)], name="customer_id"),
    ).astype({"region": "string", "tags": "string"})
    design = design_matrix(
        snapshot, as_of="2024-01-01", interaction_days=90, min_level_customers=2, max_tags=5
    )
    # z has one customer: pooled into "(other)"; x (3 customers) is the baseline.
    assert design.pooled == {"region": ["z"]}
    assert list(design.values.columns) == [
        "recency_days", "region=y", "region=(other)", "tag:a", "tag:b",
    ]  # fmt: skip
    np.testing.assert_array_equal(design.values["recency_days"], [1, 2, 3, 1, 2, 3])
    np.testing.assert_array_equal(design.values["region=y"], [0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(design.values["tag:a"], [1, 1, 0, 1, 0, 1])
    assert design.terms["region=(other)"].baseline == "x"


@pytest.fixture(scope="module")
def demo_drivers():  # type: ignore[no-untyped-def]
    frames = demo_frames()
    horizon = 90
    calibration = pd.Timestamp(DEMO_AS_OF) - pd.Timedelta(days=horizon)
    snapshot = customer_snapshot(
        frames.orders, frames.customers, frames.interactions, as_of=calibration
    )
    outcomes = future_outcomes(
        frames.orders, snapshot.index, calibration_end=calibration, horizon_days=horizon
    )
    return drivers_analysis(
        snapshot,
        outcomes,
        frames.orders,
        frames.interactions,
        calibration_end=calibration,
        horizon_days=horizon,
        settings=load_config()["drivers"],
    )


def test_demo_sentences_state_the_numbers_of_their_table(demo_drivers) -> None:  # type: ignore[no-untyped-def]
    settings = load_config()["drivers"]
    purchase = demo_drivers.purchase
    sentences = model_sentences(demo_drivers, "purchase", lang="en", settings=settings)
    print("\n" + "\n".join(sentences))
    clear = purchase.loc[(purchase["lower"] > 0) | (purchase["upper"] < 0)]
    assert 0 < len(sentences) == min(len(clear), int(settings["max_sentences"]))
    # The first sentence is the largest clear effect, in percentage points, with its interval.
    largest = clear.loc[clear["effect"].abs().idxmax()]
    numbers = [float(x) for x in re.findall(r"[+-]\d+\.\d", sentences[0])]
    assert numbers == pytest.approx(
        [100 * largest[c] for c in ("effect", "effect_lower", "effect_upper")], abs=0.051
    )
    assert all("95% interval" in s for s in sentences)
    zh = model_sentences(demo_drivers, "purchase", lang="zh", settings=settings)
    assert len(zh) == len(sentences) and all("百分点" in s for s in zh)
    spend = model_sentences(demo_drivers, "spend", lang="en", settings=settings)
    print("\n".join(spend))
    assert spend and all("spend" in s for s in spend)


def test_demo_held_out_auc_beats_the_naive_baseline(demo_drivers) -> None:  # type: ignore[no-untyped-def]
    scores = demo_drivers.held_out.scores
    print("\n" + scores.to_string())
    sentences = held_out_sentences(demo_drivers, lang="en", settings=load_config()["drivers"])
    print("\n".join(sentences))
    assert scores.loc["purchase_auc", "linear"] > scores.loc["purchase_auc", "naive"] > 0.5
    assert scores.loc["spend_r2", "linear"] > scores.loc["spend_r2", "naive"]
    assert f"{scores.loc['purchase_auc', 'linear']:.3f}" in sentences[0]
    assert f"{scores.loc['purchase_auc', 'naive']:.3f}" in sentences[0]
    assert demo_drivers.held_out.n_test + demo_drivers.held_out.n_train == demo_drivers.n_customers
    importance = demo_drivers.held_out.importance
    # An attribute's levels are shuffled together: one row for the region.
    assert "region" in importance.index and not any(
        i.startswith("region=") for i in importance.index
    )


def test_a_held_out_fit_that_does_not_converge_is_said_in_the_kits_words() -> None:
    """statsmodels' "Maximum Likelihood optimization failed to converge. Check mle_retvals"
    reached the report's progress lines as it was; one predictor that tells buyers from the
    others (80 customers, every other one a buyer) makes the held-out logit diverge."""
    n = 80
    rng = np.random.default_rng(0)
    bought = np.arange(n) % 2 == 0
    index = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    values = pd.DataFrame(
        {
            "messages": np.where(bought, 3.0, 0.0) + rng.uniform(0, 1, n),
            "spend": rng.uniform(0, 1, n),
        },
        index=index,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = held_out_check(
            DesignMatrix(values=values, terms={}),
            bought=pd.Series(bought, index=index),
            revenue=pd.Series(np.where(bought, 50.0, 0.0), index=index),
            previous_bought=pd.Series(bought[::-1], index=index),
            previous_revenue=pd.Series(10.0, index=index),
            settings=load_config()["drivers"],
            random_state=0,
        )
    assert (check.n_train, check.n_test) == (56, 24)
    assert check.scores.loc["purchase_auc", "linear"] == 1.0
    assert [str(warning.message) for warning in caught] == [
        "drivers: the held-out check's logistic regression of buying did not converge in 100 "
        "iterations on its 56 training customers (usually a predictor that nearly tells "
        "buyers from the others); its held-out AUC is that of where it stopped."
    ]
