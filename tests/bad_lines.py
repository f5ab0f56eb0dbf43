"""Generators of exports with lines ingest must refuse one by one (issue #18).

Two families, each with the answer it must give computed from how it was built:

* :func:`planted_exports` builds order exports carrying personal data (phone numbers in
  every written form, WeChat ids, names) in every position and shape: in the columns mapped
  as personal data, in free-text columns ingest does not map (备注, 收货地址, 收货人), quoted
  with commas, quotes and line breaks, typed into the date cell, shifted by an extra field,
  on a short row, a cut-off last row, an unterminated quote, a line with NUL bytes, a GB18030
  line in a UTF-8 file, a line of thousands of fields. Nothing planted may reach an output.
* :func:`counted_exports` builds order exports from good rows, multi-line rows, blank lines
  and faulty lines, and the exact quarantine (line, reason, input rows) and counts ingest
  must report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

__all__ = [
    "COUNTED_HEADER",
    "PLANTED_HEADER",
    "CountedExport",
    "PlantedExport",
    "counted_exports",
    "planted_exports",
]

PLANTED_HEADER = ("订单号", "客户ID", "下单时间", "实付金额", "买家姓名", "手机号", "微信号")
# Free text ingest does not map: never copied anywhere.
FREE_TEXT = ("备注", "收货地址", "收货人")
_COLUMNS = len(PLANTED_HEADER) + len(FREE_TEXT)
_DATE = PLANTED_HEADER.index("下单时间")

_SURNAMES = "赵钱孙李周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施"
# Given-name characters no header, reason or label of the kit uses.
_GIVEN = "翠萱璇婧琰珂瑶瑾璐芊蕙媛"


def _phone_forms(digits: str) -> list[str]:
    return [
        digits,
        f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}",
        f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
        f"+86-{digits}",
        f"0086 {digits}",
        f"86{digits}",
    ]


@st.composite
def _phone(draw: st.DrawFn) -> tuple[str, str]:
    """A mainland mobile number as written, and its 11 digits."""
    digits = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    )
    return draw(st.sampled_from(_phone_forms(digits))), digits


_names = st.one_of(
    st.builds(
        lambda s, g: s + g, st.sampled_from(_SURNAMES), st.text(_GIVEN, min_size=2, max_size=2)
    ),
    st.from_regex(r"[A-Z][a-z]{4,7} [A-Z][a-z]{4,7}", fullmatch=True),
)
_wechat_ids = st.from_regex(r"wxid_[a-z0-9]{10,14}", fullmatch=True)


@dataclass
class PlantedExport:
    """An export's bytes and every personal value planted in it (as it must never appear)."""

    data: bytes = b""
    planted: set[str] = field(default_factory=set)
    shapes: list[str] = field(default_factory=list)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@st.composite
def _personal(draw: st.DrawFn, export: PlantedExport) -> dict[str, str]:
    """One of each kind of personal value, recorded as planted."""
    phone, digits = draw(_phone())
    name = draw(_names)
    wechat = draw(_wechat_ids)
    export.planted |= {phone, digits, name, wechat}
    return {"phone": phone, "name": name, "wechat": wechat}


@st.composite
def _row_fields(draw: st.DrawFn, export: PlantedExport, number: int) -> list[str]:
    """An aligned row: personal data in the personal columns and in free text."""
    person = draw(_personal(export))
    other = draw(_personal(export))
    remark = draw(
        st.sampled_from(
            [
                f"联系{other['name']}，电话{other['phone']}，微信{other['wechat']}",
                f'{other["name"]}, tel {other["phone"]}, "{other["wechat"]}"',
                f"送货前打{other['phone']}\n找{other['name']}",
            ]
        )
    )
    address = f"北京市朝阳区{draw(st.integers(1, 999))}号 {other['name']} {other['phone']}"
    fields = [
        f"SO{number}",
        f"C{number % 5}",
        f"2024-01-{1 + number % 28:02d} 10:00:00",
        f"{10 + number % 90}.50",
        person["name"],
        person["phone"],
        person["wechat"],
        remark,
        address,
        other["name"],
    ]
    return [_quoted(f) if any(c in f for c in ',"\n') or draw(st.booleans()) else f for f in fields]


_SHAPES = ("aligned", "gb18030", "date_cell", "shifted", "short", "nul", "wide")


@st.composite
def planted_exports(draw: st.DrawFn) -> PlantedExport:
    """An orders export (UTF-8) with personal data planted in every position and shape.

    The first row is always aligned and clean of faults, so the export has a usable row;
    the file may end with a cut-off row or an unterminated quote.
    """
    export = PlantedExport()
    lines = [",".join([*PLANTED_HEADER, *FREE_TEXT]).encode("utf-8")]
    lines.append(",".join(draw(_row_fields(export, 1))).encode("utf-8"))
    shapes = draw(st.lists(st.sampled_from(_SHAPES), min_size=1, max_size=8))
    faulty = 0
    for number, shape in enumerate(shapes, start=2):
        fields = draw(_row_fields(export, number))
        if shape in {"nul", "gb18030"}:
            faulty += 1
            if faulty > 2:  # more than half the lines faulty would refuse the file whole
                shape = "aligned"
        export.shapes.append(shape)
        lines.append(_shaped(draw, export, shape, fields))
    ending = draw(st.sampled_from(["newline", "cut_off", "unterminated_quote"]))
    export.shapes.append(ending)
    text = b"\n".join(lines)
    if ending == "newline":
        text += b"\n"
    else:
        person = draw(_personal(export))
        if ending == "cut_off":
            tail = f"SO999,C1,2024-01-05,10,{person['name']},{person['phone'][:7]}"
            # The cut-off keeps only part of the phone: plant that part too.
            export.planted.add(person["phone"][:7])
        else:
            at = draw(st.integers(0, _COLUMNS - 1))
            fields = ["SO999", "C1", "2024-01-05", "10", "", "", "", "", "", ""]
            fields[at] = '"' + f"{person['name']} {person['phone']}\n{person['wechat']}"
            tail = ",".join(fields[: at + 1]) + "\n" + f"{person['name']},{person['phone']}"
        text += b"\n" + tail.encode("utf-8")
    export.data = text
    return export


def _shaped(draw: st.DrawFn, export: PlantedExport, shape: str, fields: list[str]) -> bytes:
    if shape == "date_cell":
        # Personal data typed into the date cell: the row is aligned but its date fails.
        person = draw(_personal(export))
        fields[_DATE] = draw(st.sampled_from([person["phone"], person["wechat"]]))
    elif shape == "shifted":
        person = draw(_personal(export))
        extra = draw(st.sampled_from(list(person.values())))
        fields.insert(draw(st.integers(0, len(fields))), extra)
    elif shape == "short":
        del fields[draw(st.integers(0, len(fields) - 1))]
    elif shape == "nul":
        at = draw(st.integers(0, len(fields) - 1))
        fields[at] = fields[at][:1] + "\x00\x00" + fields[at][1:]
    elif shape == "wide":
        person = draw(_personal(export))
        fields += [person["phone"], person["name"], person["wechat"]] * draw(st.integers(100, 3000))
    line = ",".join(fields)
    if shape == "gb18030":
        return line.encode("gb18030")
    return line.encode("utf-8")


# --- counted exports --------------------------------------------------------------------------

COUNTED_HEADER = "订单号,客户ID,下单时间,商品名称,数量,单价,实付金额"


@dataclass
class CountedExport:
    """An export and what ingest must report of it."""

    data: bytes = b""
    # (line, reason, input rows) of every quarantine record, in line order.
    quarantine: list[tuple[int, str, int]] = field(default_factory=list)
    kept: int = 0
    blank_lines: int = 0

    @property
    def rows_in(self) -> int:
        return self.kept + sum(rows for _, _, rows in self.quarantine)


_ITEMS = ("good", "good", "good", "multiline", "blank", "long", "short", "bad_date", "nul", "gbk")


def _good(number: int, product: str = "茶叶礼盒") -> str:
    return f"SO{number},C{number % 7},2024-01-{1 + number % 28:02d},{product},1,10.5,10.5"


@st.composite
def counted_exports(draw: st.DrawFn) -> CountedExport:
    """Good rows, multi-line rows, blank and faulty lines, maybe an unterminated quote (only
    quote-free lines follow it) and maybe no line break at the end; with the answer."""
    items = ["good", *draw(st.lists(st.sampled_from(_ITEMS), max_size=25))]
    while items.count("nul") + items.count("gbk") > 2:  # few enough not to refuse the file
        items.remove("nul" if "nul" in items else "gbk")
    cut_at = draw(st.one_of(st.none(), st.integers(1, len(items))))
    ends_with_newline = draw(st.booleans())
    if not ends_with_newline and items[-1] in {"blank", "multiline", "nul", "gbk"}:
        items.append("good")  # the last line, without a line break, is a row
    export = CountedExport()
    pieces: list[bytes] = [COUNTED_HEADER.encode("utf-8")]
    line = 2
    cut: list[int] | None = None  # [line, rows] of the unterminated quote, once opened
    for number, item in enumerate(items, start=1):
        if cut_at is not None and number == cut_at + 1 and cut is None:
            at_last = draw(st.booleans())
            opened = (
                f'SO{number}x,C1,2024-01-05,茶,1,10,"10' if at_last else f'SO{number}x,C1,"2024'
            )
            pieces.append(opened.encode("utf-8"))
            cut = [line, 1]
            line += 1
        if cut is not None and item == "multiline":
            item = "good"  # a quote after the unterminated one would close it
        text, lines = _item(item, number)
        pieces.extend(text)
        last = number == len(items)
        if item in {"nul", "gbk"}:
            reason = "nul_bytes" if item == "nul" else "undecodable_line"
            export.quarantine.append((line, reason, 1))
        elif cut is not None:
            cut[1] += 0 if item == "blank" else lines
        elif item == "blank":
            export.blank_lines += 1
        elif item in {"good", "multiline"}:
            export.kept += 1
        elif item == "bad_date":
            export.quarantine.append((line, "unparsable_date", 1))
        elif item == "long":
            export.quarantine.append((line, "wrong_field_count", 1))
        else:  # short: cut off when it is the last line and no line break follows
            truncated = last and not ends_with_newline
            export.quarantine.append(
                (line, "truncated_row" if truncated else "wrong_field_count", 1)
            )
        line += lines
    if cut is not None:
        export.quarantine.append((cut[0], "unterminated_quote", cut[1]))
    export.quarantine.sort()
    export.data = b"\n".join(pieces) + (b"\n" if ends_with_newline else b"")
    return export


def _item(item: str, number: int) -> tuple[list[bytes], int]:
    """The bytes of one item (one piece per line) and how many lines it takes."""
    if item == "multiline":
        return [f'SO{number},C1,2024-01-05,"礼盒'.encode(), '第二行",1,10,10'.encode()], 2
    if item == "blank":
        return [b"   " if number % 2 else b""], 1
    if item == "long":
        return [(_good(number) + ",多余").encode("utf-8")], 1
    if item == "short":
        return [f"SO{number},C1,2024-01-05,茶".encode()], 1
    if item == "bad_date":
        return [_good(number).replace("2024-01", "someday").encode("utf-8")], 1
    if item == "nul":
        return [_good(number, "茶\x00叶").encode("utf-8")], 1
    if item == "gbk":
        return [_good(number, "翠萱茶").encode("gb18030")], 1
    return [_good(number).encode("utf-8")], 1
