"""The hold-out helper: a seeded, stratified control group per segment, and the two lists."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.campaigns import HOLDOUT_HEADERS, draw_holdout, write_holdout
from segmentation.cli import main
from segmentation.errors import InvalidOptionError
from segmentation.ingest import ingest

ACTIONS = pd.DataFrame(
    {"action": ["唤醒：关怀消息加定向优惠券", "会员权益"], "channel": ["企微私聊", "企微社群"]},
    index=pd.Index(["sleeping", "loyal"]),
)


def labels(sizes: dict[str, int]) -> pd.Series:
    keys = [k for k, n in sizes.items() for _ in range(n)]
    ids = [f"C{i:05d}" for i in range(len(keys))]
    return pd.Series(keys, index=pd.Index(ids))


def test_draw_is_reproducible_with_its_seed_and_differs_with_another() -> None:
    segments = labels({"sleeping": 437, "loyal": 121, "new": 50})
    first = draw_holdout(segments, ACTIONS, campaign_id="2026-11", random_state=3)
    again = draw_holdout(
        segments.sample(frac=1.0, random_state=1), ACTIONS, campaign_id="2026-11", random_state=3
    )
    other = draw_holdout(segments, ACTIONS, campaign_id="2026-11", random_state=4)
    pd.testing.assert_frame_equal(first.assignments, again.assignments)
    assert not first.assignments["group"].equals(other.assignments["group"])
    # Only segments with an action are drawn: 437 + 121 customers, 44 + 12 held out.
    assert len(first.assignments) == 558
    assert first.summary.set_index("segment")["control"].to_dict() == {"sleeping": 44, "loyal": 12}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=5),
    share=st.floats(min_value=0.0, max_value=0.5),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_each_segment_control_share_within_one_customer_of_target(
    sizes: list[int], share: float, seed: int
) -> None:
    keys = [f"s{i}" for i in range(len(sizes))]
    segments = labels(dict(zip(keys, sizes, strict=True)))
    actions = pd.DataFrame({"action": "a", "channel": "短信"}, index=pd.Index(keys))
    draw = draw_holdout(segments, actions, campaign_id="c", control_share=share, random_state=seed)
    counts = draw.assignments.groupby("segment")["group"].apply(lambda g: (g == "control").sum())
    for key, n in zip(keys, sizes, strict=True):
        held = int(counts.get(key, 0))
        assert abs(held - share * n) <= 1.0
    assert len(draw.assignments) == sum(sizes)


def test_bad_share_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="control share"):
        draw_holdout(labels({"sleeping": 5}), ACTIONS, campaign_id="c", control_share=1.0)


def test_lists_read_back_as_a_campaign_log(tmp_path: Path) -> None:
    segments = labels({"sleeping": 40, "loyal": 20})
    draw = draw_holdout(segments, ACTIONS, campaign_id="2026-11-唤醒", random_state=0)
    written = write_holdout(draw, tmp_path / "lists", segment_names={"sleeping": "沉睡客户"})
    contact = pd.read_csv(written["treated"], encoding="utf-8-sig", dtype=str)
    control = pd.read_csv(written["control"], encoding="utf-8-sig", dtype=str)
    assert list(contact.columns) == list(HOLDOUT_HEADERS.values())
    assert (len(contact), len(control)) == (54, 6)
    assert set(control["分组"]) == {"对照组"} and set(contact["分组"]) == {"实验组"}
    assert set(contact["分层"]) == {"沉睡客户", "loyal"}
    # Filled in with the day of contact, the two lists are next month's campaign log.
    orders = pd.DataFrame(
        {
            "订单号": [f"SO{i}" for i in range(len(segments))],
            "客户ID": segments.index,
            "下单时间": "2026-10-01 10:00:00",
            "实付金额": 100.0,
        }
    )
    orders.to_csv(tmp_path / "orders.csv", index=False)
    log = pd.concat([contact, control]).assign(触达时间="2026-11-03 10:00:00")
    log.to_csv(tmp_path / "log.csv", index=False)
    result = ingest([tmp_path / "orders.csv", tmp_path / "log.csv"], pii_key=b"k")
    assert result.campaigns is not None
    assert result.campaigns["group"].value_counts().to_dict() == {"treated": 54, "control": 6}
    assert result.campaigns["channel"].value_counts().to_dict() == {
        "wecom_private": 40,
        "community": 20,
    }


def test_pseudonymous_ids_follow_the_id_policy(tmp_path: Path) -> None:
    segments = labels({"sleeping": 10})
    draw = draw_holdout(segments, ACTIONS, campaign_id="c", random_state=0)
    written = write_holdout(draw, tmp_path, id_transform=lambda ids: "cust_" + ids.str.lower())
    contact = pd.read_csv(written["treated"], encoding="utf-8-sig", dtype=str)
    control = pd.read_csv(written["control"], encoding="utf-8-sig", dtype=str)
    assert sorted([*contact["客户ID"], *control["客户ID"]]) == [f"cust_c{i:05d}" for i in range(10)]


# --- segmentation holdout -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from segmentation.datasets import write_demo_export

    out = tmp_path_factory.mktemp("small-demo")
    write_demo_export(out, seed=3, n_customers=600)
    return out


def test_cli_holdout_writes_both_lists(
    small_export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGMENTATION_PII_KEY", "cli-key")
    args = [
        "holdout",
        str(small_export),
        "--campaign",
        "2026-11-唤醒",
        "--segments",
        "sleeping,loyal",
    ]
    assert main([*args, "--out", str(tmp_path / "a"), "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("campaign 2026-11-唤醒 as of 2026-10-31, seed 5: sleeping ")
    contact = pd.read_csv(tmp_path / "a" / "contact_list.csv", encoding="utf-8-sig", dtype=str)
    control = pd.read_csv(tmp_path / "a" / "control_list.csv", encoding="utf-8-sig", dtype=str)
    both = pd.concat([contact, control])
    assert set(both["分层"]) == {"沉睡客户", "忠诚客户"}
    for _, rows in both.groupby("分层"):
        assert abs((rows["分组"] == "对照组").sum() - 0.1 * len(rows)) <= 1.0
    assert main([*args, "--out", str(tmp_path / "b"), "--seed", "5"]) == 0
    again = (tmp_path / "b" / "control_list.csv").read_bytes()
    assert again == (tmp_path / "a" / "control_list.csv").read_bytes()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--segments", "sleepy"], "--segments: sleepy is not a segment of lifecycle"),
        (["--share", "1.5"], "control share (--share, campaigns.holdout.control_share): found 1.5"),
        (["--as-of", "2030-01-01"], "--as-of 2030-01-01: the data ends on 2026-10-31"),
        (["--as-of", "soon"], "--as-of: 'soon' is not a date"),
    ],
)
def test_cli_holdout_mistakes_are_one_line_and_exit_2(
    small_export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    says: str,
) -> None:
    code = main(["holdout", str(small_export), "--campaign", "c", "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("segmentation holdout: error: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err
