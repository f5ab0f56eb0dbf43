"""On the demo export the campaign section finds what was planted: wake-up messages to sleeping
customers added buyers, member news to loyal customers added none."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segmentation.campaigns import CampaignResults, contact_outcomes, measure_campaigns
from segmentation.config import load_config
from segmentation.datasets import generate_demo
from segmentation.datasets._campaign import CONTROL_SHARE
from segmentation.ingest import IngestResult, ingest
from segmentation.report import campaign_sections
from segmentation.report._campaign_text import start_a_log
from segmentation.report.playbook import playbook_table

AS_OF = "2026-10-31"


@pytest.fixture(scope="module")
def demo_ingested(demo_dir: Path) -> IngestResult:
    return ingest(demo_dir, pii_key=b"test-key")


@pytest.fixture(scope="module")
def measured(demo_ingested: IngestResult) -> CampaignResults:
    r = demo_ingested
    assert r.campaigns is not None
    return measure_campaigns(
        r.campaigns, r.orders, r.customers, r.interactions, as_of=AS_OF, config=load_config()
    )


@pytest.fixture(scope="module")
def true_effects(demo_ingested: IngestResult, measured: CampaignResults) -> pd.DataFrame:
    """Per campaign and segment, the effect on the treated: what they did with the planted
    purchases minus what the same customers did without them (the kit's own counting)."""
    planted = set(generate_demo(seed=0).campaign_orders)
    r = demo_ingested
    assert r.campaigns is not None
    organic = r.orders.loc[~r.orders["order_id"].astype(str).isin(planted).to_numpy()]
    without = contact_outcomes(r.campaigns, organic, windows_days=[14, 30], as_of=AS_OF)
    with_ = measured.outcomes
    effects = with_[["campaign_id", "segment", "group"]].copy()
    for days in (14, 30):
        effects[f"buyers_{days}"] = with_[f"bought_{days}"] - without[f"bought_{days}"]
        effects[f"revenue_{days}"] = with_[f"revenue_{days}"] - without[f"revenue_{days}"]
    treated = effects.loc[effects["group"] == "treated"]
    return treated.groupby(["campaign_id", "segment"], observed=True).mean(numeric_only=True)


def test_demo_log_is_read_whole(demo_ingested: IngestResult) -> None:
    info = demo_ingested.quality["tables"]["campaigns"]
    assert info["rows_in"] == info["rows_kept"] == 1451
    assert info["groups"] == {"control": 230, "treated": 1221}
    assert info["channels"] == {"community": 750, "wecom_private": 701}
    control_share = info["groups"]["control"] / info["rows_kept"]
    assert control_share == pytest.approx(CONTROL_SHARE, abs=0.02)


def test_each_segment_interval_contains_the_planted_effect(
    measured: CampaignResults, true_effects: pd.DataFrame
) -> None:
    table = measured.table.loc[measured.table["verdict"] != "too_small"]
    assert sorted(
        {(c, s) for c, s in zip(table["campaign_id"], table["segment"], strict=True)}
    ) == [
        ("2026-09-沉睡唤醒", "sleeping"),
        ("2026-09-老客关怀", "loyal"),
    ]
    for _, row in table.iterrows():
        days = int(row["window_days"])
        truth = true_effects.loc[(row["campaign_id"], row["segment"])]
        assert row["uplift_low"] <= truth[f"buyers_{days}"] <= row["uplift_high"], row
        revenue = truth[f"revenue_{days}"]
        assert row["revenue_uplift_low"] <= revenue <= row["revenue_uplift_high"], row


def test_sleeping_gained_and_loyal_did_not(
    measured: CampaignResults, true_effects: pd.DataFrame
) -> None:
    rows = measured.table.set_index(["campaign_id", "segment", "window_days"])
    sleeping = rows.loc[("2026-09-沉睡唤醒", "sleeping", 30)]
    loyal = rows.loc[("2026-09-老客关怀", "loyal", 30)]
    # Planted: a quarter of reached sleeping customers buy once more (0.19 in the kit's
    # counting, as some would have bought anyway); nothing for loyal customers.
    assert true_effects.loc[("2026-09-沉睡唤醒", "sleeping"), "buyers_30"] == pytest.approx(
        0.193, abs=0.001
    )
    assert np.all(true_effects.xs("2026-09-老客关怀")[["buyers_14", "buyers_30"]] == 0.0)
    assert sleeping["uplift_low"] > 0 and sleeping["verdict"] == "keep"
    assert loyal["uplift_low"] <= 0.0 <= loyal["uplift_high"]
    assert loyal["verdict"] == "change"
    assert (sleeping["n_treated"], sleeping["n_control"]) == (548, 114)
    assert (loyal["n_treated"], loyal["n_control"]) == (615, 103)


# --- the report section's sentences, checked against the numbers they state -----------------


def fake_analysis(results: CampaignResults) -> SimpleNamespace:
    """What the section reads of a month's analysis: the campaigns, and the scheme's segments."""
    scheme = SimpleNamespace(profile=results.segments.names)
    return SimpleNamespace(
        campaigns=results, current=SimpleNamespace(segmentations={"lifecycle": scheme})
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_sentence_states_its_rows_numbers(measured: CampaignResults, lang: str) -> None:
    analysis = fake_analysis(measured)
    sentences = campaign_sections.campaign_sentences(analysis, lang=lang)  # type: ignore[arg-type]
    rows = measured.table.loc[measured.table["window_days"] == 30].reset_index(drop=True)
    assert len(sentences) == len(rows) == 10
    names = measured.segments.names[f"name_{lang}"]
    for sentence, (_, row) in zip(sentences, rows.iterrows(), strict=True):
        assert names[row["segment"]] in sentence
        channel = {"wecom_private": {"zh": "企微私聊", "en": "WeCom private chat"},
                   "community": {"zh": "社群", "en": "community group"}}[row["channel"]][lang]  # fmt: skip
        assert channel in sentence
        if row["n_control"] < 30:
            assert row["verdict"] == "too_small"
            assert f"{int(row['n_control'])} " in sentence
            assert ("无法判断" if lang == "zh" else "too small to tell") in sentence
            continue
        stated = [float(x) for x in re.findall(r"[+-]\d+\.\d", sentence)]
        assert stated == [
            round(100 * row["uplift"], 1),
            round(100 * row["uplift_low"], 1),
            round(100 * row["uplift_high"], 1),
        ]
        assert f"{row['incremental_revenue']:,.2f}" in sentence
        keep = row["uplift_low"] > 0
        assert (("保持" if lang == "zh" else "keep it") in sentence) == keep
        assert (("调整" if lang == "zh" else "change it") in sentence) == (not keep)
    sleeping = next(s for s in sentences if names["sleeping"] in s and channel_of(s, lang))
    assert ("+14.7" in sleeping) and ("+6.6" in sleeping) and ("+20.9" in sleeping)


def channel_of(sentence: str, lang: str) -> bool:
    return ("企微私聊" if lang == "zh" else "WeCom private chat") in sentence


def test_playbook_shows_last_months_effect_beside_each_action(measured: CampaignResults) -> None:
    analysis = fake_analysis(measured)
    settings = load_config()
    effects = campaign_sections.measured_effects(
        analysis,  # type: ignore[arg-type]
        "lifecycle",
        lang="en",
        settings=settings,
    )
    assert effects is not None
    assert effects["sleeping"].startswith(
        "WeCom private chat: +14.7 pp of buyers in 30 days (+6.6 to +20.9), keep it"
    )
    assert effects["loyal"].endswith(
        "community group: -7.9 pp of buyers in 30 days (-18.0 to +2.5), change it"
    )
    assert effects["new"] == "—"  # no campaign reached new customers
    other = campaign_sections.measured_effects(
        analysis,  # type: ignore[arg-type]
        "value_tier",
        lang="en",
        settings=settings,
    )
    assert other is None
    plan = pd.DataFrame(
        {
            "priority": [1, 2],
            "name_en": ["Sleeping", "New"],
            "size": [100, 50],
            "previous_size": [90.0, np.nan],
            "value_per_customer": [10.0, 5.0],
            "value_at_stake": [1000.0, 250.0],
            "action_en": ["Wake up", "Welcome"],
            "channel_en": ["WeCom 1:1 chat", "WeCom group"],
            "cadence_en": ["monthly", "weekly"],
        },
        index=pd.Index(["sleeping", "new"]),
    )
    table = playbook_table(plan, lang="en", effects=effects)
    assert list(table.columns)[6:8] == ["action", "last month's measured effect"]
    assert table["last month's measured effect"].tolist() == [effects["sleeping"], "—"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_without_a_log_the_section_says_how_to_start_one(lang: str) -> None:
    text = start_a_log(lang=lang, control_share=0.1, windows=[14, 30])
    assert "segmentation holdout" in text and "10%" in text and "14 / 30" in text
    assert "contact_list.csv" in text and "control_list.csv" in text
    analysis = SimpleNamespace(campaigns=None)
    assert campaign_sections.campaign_sentences(analysis, lang=lang) == []  # type: ignore[arg-type]
