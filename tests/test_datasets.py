"""The generated demo export and the CDNOW loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.datasets import (
    DEMO_LABEL,
    SimulatedPurchases,
    draw_customer_latents,
    draw_order_values,
    generate_demo,
    load_cdnow,
    simulate_bgnbd_purchases,
    write_demo_export,
)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = write_demo_export(tmp_path / "a", seed=7, n_customers=400, months=6)
    second = write_demo_export(tmp_path / "b", seed=7, n_customers=400, months=6)
    assert [p.name for p in first] == [p.name for p in second]
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    write_demo_export(tmp_path / "c", seed=8, n_customers=400, months=6)
    assert _digests(tmp_path / "c") != _digests(tmp_path / "a")


def test_default_demo_layout_encodings_and_label(demo_dir: Path) -> None:
    months = sorted(p.name for p in (demo_dir / "orders").glob("*.csv"))
    # 24 months ending 2026-10; contacts arrive over time, so the first file may start later.
    assert months[-1] == "orders_2026-10.csv"
    assert len(months) <= 24
    assert (demo_dir / "orders" / months[0]).read_bytes().startswith(b"\xef\xbb\xbf")  # BOM
    raw = (demo_dir / "customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gb18030").startswith("客户ID,姓名,手机号,微信号,添加时间")
    readme = (demo_dir / "README.txt").read_text(encoding="utf-8")
    assert DEMO_LABEL["zh"] in readme and DEMO_LABEL["en"] in readme


def test_demo_has_the_mess_real_exports_have() -> None:
    demo = generate_demo(seed=0)
    orders, customers = demo.orders, demo.customers
    assert len(customers) == 5000
    assert customers["客户ID"].is_unique
    # exactly the requested exact-duplicate rows, and no accidental ones
    assert int(orders.duplicated().sum()) == 25
    guests = orders["客户ID"].eq("")
    assert 0.01 < guests.mean() < 0.03
    refunds = orders["实付金额"] < 0
    assert refunds.sum() > 100
    # every refund row points at an order that was sold
    sold = set(orders.loc[~refunds, "订单号"])
    assert set(orders.loc[refunds, "订单号"]) <= sold
    # some orders are refunded in full: their lines net to zero
    net = orders.drop_duplicates().groupby("订单号")["实付金额"].sum()
    assert (net.abs() < 1e-9).sum() > 20
    # potential customers: contacts who never ordered
    buyers = set(orders.loc[~guests, "客户ID"])
    potential = set(customers["客户ID"]) - buyers
    assert 0.12 < len(potential) / len(customers) < 0.30
    assert buyers <= set(customers["客户ID"])
    # PII is shaped like the real thing, so masking downstream is exercised
    assert customers["手机号"].str.fullmatch(r"1[35789]\d{9}").all()
    assert customers["微信号"].str.fullmatch(r"wxid_[a-z0-9]{10}").all()
    assert set(demo.interactions["互动类型"]) == {
        "私聊消息",
        "朋友圈点赞",
        "群聊发言",
        "领取优惠券",
    }


def test_demo_purchases_follow_the_latent_rates() -> None:
    # BG/NBD signal: customers with a higher latent purchase rate buy more often.
    demo = generate_demo(seed=1, n_customers=3000)
    orders = demo.orders.drop_duplicates()
    orders = orders.loc[orders["客户ID"].ne("") & (orders["实付金额"] > 0)]
    counts = orders.groupby("客户ID")["订单号"].nunique()
    truth = demo.truth.set_index("customer_id").loc[counts.index]
    rho = pd.Series(truth["rate_per_day"].to_numpy()).corr(
        pd.Series(counts.to_numpy(dtype=float)), method="spearman"
    )
    assert rho > 0.3
    # and spend follows the latent mean spend (Gamma-Gamma)
    spend = orders.groupby("客户ID")["实付金额"].sum() / counts
    assert np.corrcoef(np.log(truth["mean_spend"]), np.log(spend))[0, 1] > 0.3


def test_size_is_a_parameter() -> None:
    demo = generate_demo(seed=0, n_customers=300, months=3)
    assert len(demo.customers) == 300
    ts = pd.to_datetime(demo.orders["下单时间"])
    assert ts.min() >= pd.Timestamp("2026-08-01") and ts.max() <= pd.Timestamp(
        "2026-10-31 23:59:59"
    )


def test_load_cdnow_master() -> None:
    cdnow = load_cdnow()
    assert len(cdnow) == 69_659
    assert cdnow["customer_id"].nunique() == 23_570
    assert list(cdnow.columns) == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert cdnow["date"].min() == pd.Timestamp("1997-01-01")
    assert cdnow["date"].max() == pd.Timestamp("1998-06-30")


def test_load_cdnow_sample_has_no_header_line() -> None:
    sample = load_cdnow(sample=True)
    assert len(sample) == 6_919
    assert sample["customer_id"].nunique() == 2_357
    assert sample.loc[0, "customer_id"] == "00004"  # the first line is data, not a header
    # totals cross-checked with awk over the raw file: $5 sums to 244091.94, $4 to 16479
    assert sample["dollar_value"].sum() == pytest.approx(244_091.94, abs=0.005)
    assert sample["number_of_cds"].sum() == 16_479


def test_loading_cdnow_does_not_import_lifetimes() -> None:
    # Importing lifetimes changes pandas options and warning filters; only the clv package may do it.
    import subprocess
    import sys

    script = (
        "import sys\nfrom segmentation.datasets import load_cdnow\nload_cdnow(sample=True)\n"
        "assert 'lifetimes' not in sys.modules, 'load_cdnow imported lifetimes'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1000:]


def test_the_simulator_draws_bgnbd_purchases_in_rounds() -> None:
    first_day = np.array([0.0, 5.0, np.inf, 50.0, 99.5])
    rate = np.full(5, 0.5)

    def simulate(seed: int, dropout: float, **options: bool) -> SimulatedPurchases:
        return simulate_bgnbd_purchases(
            np.random.default_rng(seed),
            first_day=first_day,
            rate=rate,
            dropout=np.full(5, dropout),
            end_day=100.0,
            **options,
        )

    purchases = simulate(0, 0.1)
    again = simulate(0, 0.1)
    np.testing.assert_array_equal(purchases.customer, again.customer)
    np.testing.assert_array_equal(purchases.day, again.day)
    # The first round is every buyer's first purchase, on its first day.
    np.testing.assert_array_equal(purchases.customer[:4], [0, 1, 3, 4])
    np.testing.assert_array_equal(purchases.day[:4], first_day[[0, 1, 3, 4]])
    assert (purchases.day < 100.0).all() and 2 not in purchases.customer
    assert purchases.dropout_day[2] == -np.inf
    for customer in (0, 1, 3, 4):
        days = purchases.day[purchases.customer == customer]
        assert (np.diff(days) > 0).all()
        dropped = purchases.dropout_day[customer]
        assert dropped == np.inf or dropped == days[-1]
    # A certain dropout ends every customer after the first purchase, unless the first
    # purchase cannot be followed by one (BG/NBD proper): then after the second.
    once = simulate(1, 1.0)
    assert list(once.customer) == [0, 1, 3, 4]
    twice = simulate(1, 1.0, dropout_after_first=False)
    assert np.bincount(twice.customer, minlength=5).max() == 2
    assert np.bincount(twice.customer, minlength=5)[2] == 0


def test_latent_customers_and_order_values_follow_the_priors() -> None:
    rng = np.random.default_rng(0)
    latents = draw_customer_latents(rng, 200_000)
    assert latents.rate.mean() == pytest.approx(0.75 / 34, rel=0.02)
    assert latents.dropout.mean() == pytest.approx(0.6 / 4.1, rel=0.02)
    np.testing.assert_array_equal(latents.mean_spend, 6.0 / latents.spend_nu)
    customer = np.repeat(np.arange(3), 20_000)
    values = draw_order_values(rng, latents.spend_nu, customer)
    assert values.reshape(3, -1).mean(axis=1) == pytest.approx(latents.mean_spend[:3], rel=0.03)
