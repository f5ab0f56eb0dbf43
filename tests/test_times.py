"""Times as the shop's wall clock, and dates beyond what can be stored (issue #18).

Rule: a time with an offset is converted to the shop's time zone (config
``ingest.shop_time_zone``, default Asia/Shanghai) before its day is taken; a time without one
is the shop's wall-clock time as it is. The reference is the standard library's
``datetime.astimezone`` with :mod:`zoneinfo`, one value at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.cli import main
from segmentation.config import default_config
from segmentation.errors import InvalidOptionError
from segmentation.ingest import ingest
from segmentation.ingest._values import parse_datetimes

KEY = b"test-key"
SHANGHAI = "Asia/Shanghai"
# Zones with odd offsets (+05:45, +12:45) and daylight saving (both hemispheres, 30-minute
# shifts on Lord Howe) as well as the default.
ZONES = [
    SHANGHAI,
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
]
HEADER = "订单号,客户ID,下单时间,实付金额\n"


def shop_time(instant: datetime, zone: str) -> datetime:
    """The reference: the instant on the shop's wall clock, without its zone."""
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def written(instant: datetime, offset_minutes: int, style: int) -> str:
    """``instant`` as an export might write it at ``offset_minutes`` from UTC."""
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    body = local.strftime("%Y-%m-%dT%H:%M:%S" if style % 2 == 0 else "%Y-%m-%d %H:%M:%S")
    if style >= 2 and local.microsecond:
        body += f".{local.microsecond:06d}"
    if offset_minutes == 0 and style in (0, 3):
        return body + "Z"
    colon = ":" if style != 1 else ""
    return f"{body}{sign}{hours:02d}{colon}{minutes:02d}"


def test_the_same_instant_with_two_offsets_is_one_stored_time(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        HEADER + "SO1,C1,2024-03-01T19:30:45+08:00,10\nSO2,C2,2024-03-01T11:30:45Z,20\n",
        encoding="utf-8",
    )
    stored = ingest(tmp_path, pii_key=KEY).orders["order_ts"]
    assert stored.tolist() == 2 * [pd.Timestamp("2024-03-01 19:30:45")]


def test_offsets_decide_the_shop_day_across_midnight(tmp_path: Path) -> None:
    # 16:30 UTC is 00:30 the next day in Shanghai; 23:59 +08:00 stays on its day; a time
    # without an offset is Shanghai time already.
    (tmp_path / "orders.csv").write_text(
        HEADER + "SO1,C1,2024-02-29T16:30:00Z,10\n"
        "SO2,C1,2024-02-29T23:59:00+08:00,10\n"
        "SO3,C1,2024-02-29 16:30:00,10\n"
        "SO4,C1,2024-03-01T01:00:00+09:00,10\n",
        encoding="utf-8",
    )
    orders = ingest(tmp_path, pii_key=KEY).orders.set_index("order_id")["order_ts"]
    assert orders.to_dict() == {
        "SO3": pd.Timestamp("2024-02-29 16:30"),
        "SO2": pd.Timestamp("2024-02-29 23:59"),
        "SO4": pd.Timestamp("2024-03-01 00:00"),
        "SO1": pd.Timestamp("2024-03-01 00:30"),
    }


def test_the_shop_time_zone_comes_from_the_config(tmp_path: Path) -> None:
    assert default_config()["ingest"]["shop_time_zone"] == SHANGHAI
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "orders.csv").write_text(
        HEADER + "SO1,C1,2024-03-01T16:30:00Z,10\nSO2,C1,2024-03-01 16:30:00,10\n",
        encoding="utf-8",
    )
    config = tmp_path / "london.yaml"
    config.write_text("ingest: {shop_time_zone: Europe/London}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["ingest", str(tmp_path / "in"), "--out", str(out), "--config", str(config)]) == 0
    stored = pd.read_parquet(out / "orders.parquet")["order_ts"].tolist()
    assert stored == 2 * [pd.Timestamp("2024-03-01 16:30")]  # GMT in March


def test_an_unknown_time_zone_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(HEADER + "SO1,C1,2024-03-01,10\n", encoding="utf-8")
    with pytest.raises(InvalidOptionError, match=r"'Asia/Shangai'.*ingest\.shop_time_zone"):
        ingest(tmp_path, pii_key=KEY, time_zone="Asia/Shangai")


def test_typed_zoned_times_are_converted_to_the_shop_zone(tmp_path: Path) -> None:
    # Parquet with a zoned column: the instant, on the shop's clock (not the column's own).
    stamps = pa.array(
        [pd.Timestamp("2024-03-01 23:30", tz="Europe/Paris")] * 2,
        type=pa.timestamp("us", tz="Europe/Paris"),
    )
    table = pa.table(
        {
            "订单号": ["SO1", "SO2"],
            "客户ID": ["C1", "C2"],
            "下单时间": stamps,
            "实付金额": [1.0, 2.0],
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    stored = ingest(tmp_path, pii_key=KEY).orders["order_ts"].tolist()
    assert stored == 2 * [pd.Timestamp("2024-03-02 06:30")]


# --- the generator: random instants, random offsets, every way of writing them ---------------

OFFSETS = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: 15 * q)  # minutes


@st.composite
def near_shop_midnight(draw: st.DrawFn, zone: str) -> datetime:
    """An instant within three hours of midnight on the shop's clock."""
    day = draw(
        st.dates(min_value=datetime(1995, 1, 1).date(), max_value=datetime(2060, 12, 31).date())
    )
    minutes = draw(st.integers(min_value=-180, max_value=180))
    seconds = draw(st.integers(min_value=0, max_value=59))
    micro = draw(st.sampled_from([0, 0, 500_000, 123_456]))
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return (midnight + timedelta(minutes=minutes, seconds=seconds, microseconds=micro)).astimezone(
        UTC
    )


ANY_INSTANT = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
)


@st.composite
def mixed_column(draw: st.DrawFn) -> tuple[str, list[str], list[datetime]]:
    """A shop zone, a column of times (with random offsets and styles, some without an offset,
    some missing) and the shop times the reference expects."""
    zone = draw(st.sampled_from(ZONES))
    n = draw(st.integers(min_value=1, max_value=30))
    texts: list[str] = []
    expected: list[datetime] = []
    for _ in range(n):
        instant = draw(st.one_of(near_shop_midnight(zone), ANY_INSTANT))
        kind = draw(st.sampled_from(["offset", "offset", "offset", "naive"]))
        if kind == "naive":
            wall = instant.replace(tzinfo=None)  # a naive time is the shop's time as written
            texts.append(wall.strftime("%Y-%m-%d %H:%M:%S"))
            expected.append(wall.replace(microsecond=0))
            continue
        style = draw(st.integers(min_value=0, max_value=3))
        if style < 2:
            instant = instant.replace(microsecond=0)  # written without a fraction
        texts.append(written(instant, draw(OFFSETS), style))
        expected.append(shop_time(instant, zone))
    return zone, texts, expected


@settings(max_examples=400, deadline=None)
@given(case=mixed_column())
def test_any_mix_of_offsets_gives_the_reference_shop_time(
    case: tuple[str, list[str], list[datetime]],
) -> None:
    zone, texts, expected = case
    parsed = parse_datetimes(pa.chunked_array([texts]), time_zone=zone)
    assert not parsed.failed.any()
    assert not parsed.out_of_range.any()
    assert parsed.values.tolist() == [np.datetime64(e, "ns").item() for e in expected]
    days = parsed.values.astype("datetime64[D]").tolist()
    assert days == [e.date() for e in expected]


@settings(max_examples=200, deadline=None)
@given(
    instant=st.sampled_from(ZONES).flatmap(near_shop_midnight),
    offsets=st.lists(OFFSETS, min_size=2, max_size=6),
    style=st.integers(min_value=0, max_value=3),
)
def test_one_instant_in_any_offsets_is_one_stored_time(
    instant: datetime, offsets: list[int], style: int
) -> None:
    if style < 2:
        instant = instant.replace(microsecond=0)
    texts = [written(instant, offset, style) for offset in offsets]
    parsed = parse_datetimes(pa.chunked_array([texts]), time_zone=SHANGHAI)
    assert len(set(parsed.values.tolist())) == 1
    assert parsed.values[0] == np.datetime64(shop_time(instant, SHANGHAI), "ns")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mixed_column())
def test_ingest_keeps_the_reference_day_of_every_order(
    case: tuple[str, list[str], list[datetime]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    zone, texts, expected = case
    folder = tmp_path_factory.mktemp("export")
    rows = "".join(f"SO{i},C{i % 3},{t},{i + 1}\n" for i, t in enumerate(texts))
    (folder / "orders.csv").write_text(HEADER + rows, encoding="utf-8")
    orders = ingest(folder, pii_key=KEY, time_zone=zone, earliest=None).orders
    stored = orders.set_index("order_id")["order_ts"]
    assert len(stored) == len(texts)
    for i, shop in enumerate(expected):
        assert stored[f"SO{i}"] == pd.Timestamp(shop)


def test_the_naive_iso_fast_path_is_unchanged() -> None:
    texts = ["2024-03-01 19:30:45", "2024-03-01T00:00:01", None, "2024-12-31"]
    parsed = parse_datetimes(pa.chunked_array([texts]), time_zone="America/New_York")
    assert parsed.values.tolist()[:2] == [
        pd.Timestamp("2024-03-01 19:30:45").value,
        pd.Timestamp("2024-03-01 00:00:01").value,
    ]
    assert np.isnat(parsed.values[2])
    assert not parsed.failed.any()


# --- dates beyond what can be stored: after as-of (or before earliest), whatever the year -----

FAR_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%Y%m%d",
    "%Y-%m-%dT%H:%M:%S",
]
GARBAGE = st.sampled_from(["hello", "2024-13-45", "31/02/2024x", "--", "年月日", "0000-00-00"])


@st.composite
def far_date(draw: st.DrawFn, *, late: bool) -> str:
    """A real date after 2262-04-11 (``late``) or before 1677-09-22, in a common format."""
    years = (2263, 9999) if late else (1000, 1676)
    year = draw(st.integers(min_value=years[0], max_value=years[1]))
    stamp = datetime(year, draw(st.integers(1, 12)), draw(st.integers(1, 28)), 10, 30, 5)
    text = stamp.strftime(draw(st.sampled_from(FAR_FORMATS))).replace(f"{year}", f"{year:04d}", 1)
    if draw(st.booleans()) and "T" in text:
        text += draw(st.sampled_from(["Z", "+08:00", "-05:30"]))
    return text


def test_a_year_2999_date_is_after_the_as_of_day(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        HEADER + "SO1,C1,2024-06-01 10:00:00,10\nSO2,C1,2999-01-01 10:00:00,10\n"
        "SO3,C1,2025-01-01,10\nSO4,C1,hello,10\n",
        encoding="utf-8",
    )
    bounded = ingest(tmp_path, pii_key=KEY, as_of="2024-12-31").quality["rows_quarantined"]
    assert bounded == {"unparsable_date": 1, "date_after_as_of": 2}
    unbounded = ingest(tmp_path, pii_key=KEY).quality["rows_quarantined"]
    assert unbounded == {"unparsable_date": 1, "date_out_of_range": 1}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(["good", "late", "early", "garbage"]), min_size=1, max_size=25),
    data=st.data(),
    bounded=st.booleans(),
)
def test_only_garbage_is_unparsable(
    kinds: list[str], data: st.DataObject, bounded: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    texts = {
        "good": lambda: "2024-06-01 10:00:00",
        "late": lambda: data.draw(far_date(late=True)),
        "early": lambda: data.draw(far_date(late=False)),
        "garbage": lambda: data.draw(GARBAGE),
    }
    folder = tmp_path_factory.mktemp("export")
    rows = "".join(f"SO{i},C1,{texts[kind]()},{i + 1}\n" for i, kind in enumerate(kinds))
    (folder / "orders.csv").write_text(HEADER + rows + "SOX,C1,2024-06-02,1\n", encoding="utf-8")
    if bounded:
        result = ingest(folder, pii_key=KEY, as_of="2024-12-31", earliest="1990-01-01")
        reason = {"late": "date_after_as_of", "early": "date_too_early"}
    else:
        result = ingest(folder, pii_key=KEY, earliest=None)
        reason = {"late": "date_out_of_range", "early": "date_out_of_range"}
    reason["garbage"] = "unparsable_date"
    expected: dict[str, int] = {}
    for kind in kinds:
        if kind != "good":
            expected[reason[kind]] = expected.get(reason[kind], 0) + 1
    assert result.quality["rows_quarantined"] == expected
    assert result.quality["rows_kept"] == kinds.count("good") + 1
