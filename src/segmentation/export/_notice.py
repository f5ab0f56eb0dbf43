"""segments_README.txt: what the export's files hold, in the report's language.

A CSV importer takes the first line as the header, so nothing can be said inside the CSV;
this text file beside it says which ids the files carry (and, for pseudonyms, how whoever
holds the key maps them back), where the recommended action comes from, and how labels are
built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from segmentation.export._ids import IdChoice

__all__ = ["NoticeFacts", "export_notice"]

_KIND_NAMES = {
    "zh": {"phone": "手机号", "wechat_id": "微信号", "email": "邮箱", "resident_id": "身份证号"},
    "en": {
        "phone": "phone numbers",
        "wechat_id": "WeChat ids",
        "email": "email addresses",
        "resident_id": "identity card numbers",
    },
}


@dataclass(frozen=True)
class NoticeFacts:
    """Everything the notice states, each a fact of the export just written."""

    lang: str
    as_of: pd.Timestamp | None
    rows: Mapping[str, int]
    files: Mapping[str, str]  # role ("csv", "xlsx", "tags", "notice") -> file name
    n_customers: int
    n_schemes: int
    id_header: str
    ids: IdChoice
    recommended_title: str
    recommended_sentence: str  # empty when the fallback scheme filled the columns
    asked_scheme: str | None  # the recommended scheme asked for; None when nothing ranked
    example_tag: str
    recommended_headers: tuple[str, str]


def export_notice(facts: NoticeFacts) -> str:
    """The notice's text.

    Parameters
    ----------
    facts : NoticeFacts

    Returns
    -------
    str
        Lines ending with ``\\n``.
    """
    zh = facts.lang == "zh"
    parts = [_heading(facts, zh), _files(facts, zh), _ids(facts, zh), _recommended(facts, zh)]
    parts += [_labels(facts, zh), _safety(zh)]
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def _heading(facts: NoticeFacts, zh: bool) -> str:
    day = f"{facts.as_of:%Y-%m-%d}" if facts.as_of is not None else "—"
    if zh:
        return (
            "客户分层导出 · CRM 导入说明\n"
            f"数据截至：{day}　客户数：{facts.n_customers:,}　分层方案：{facts.n_schemes} 个"
        )
    return (
        "Customer segments export: notes for a CRM import\n"
        f"Data as of {day}; {facts.n_customers:,} customers; {facts.n_schemes} schemes."
    )


def _files(facts: NoticeFacts, zh: bool) -> str:
    csv, xlsx, tags, notice = (facts.files[role] for role in ("csv", "xlsx", "tags", "notice"))
    rows = {name: f"{facts.rows[name]:,}" for name in (csv, xlsx, tags)}
    if zh:
        return (
            "本文件夹中的导出文件\n"
            f"- {csv}（{rows[csv]} 行）：每位客户一行，UTF-8（带 BOM）、逗号分隔，可直接导入 CRM。\n"
            f"- {xlsx}（{rows[xlsx]} 行）：与 {csv} 相同的表；{facts.id_header} 是文本单元格，"
            "用 Excel 打开时前导零（00123）和 18 位编号不会丢失或变成科学计数法。"
            "用 Excel 查看请打开这个文件。\n"
            f"- {tags}（{rows[tags]} 行）：企业微信标签格式，每位客户在每个方案下一行："
            f"{facts.id_header}、标签组（方案名）、标签（分层名）。\n"
            f"- {notice}：本说明。"
        )
    return (
        "Files in this folder\n"
        f"- {csv} ({rows[csv]} rows): one row per customer; UTF-8 with a byte-order mark, "
        "comma-separated, ready for a CRM import.\n"
        f"- {xlsx} ({rows[xlsx]} rows): the same table with every {facts.id_header} as a text "
        "cell, so Excel keeps leading zeros (00123) and 18-digit ids as they are. Open this "
        "one in Excel.\n"
        f"- {tags} ({rows[tags]} rows): WeCom tag layout, one row per customer and scheme: "
        f"{facts.id_header}, tag group (the scheme), tag (the segment).\n"
        f"- {notice}: these notes."
    )


def _ids(facts: NoticeFacts, zh: bool) -> str:
    ids, header = facts.ids, facts.id_header
    if ids.written == "original":
        if zh:
            return (
                f"{header}\n{header} 是导出数据中店铺自己的客户编号（会员号），不是个人信息，"
                "可直接与 CRM 中的客户对应。"
            )
        return (
            f"{header}\n{header} is the shop's own customer id from the export (a member "
            "number, not personal data): it matches the customers in your CRM as it is."
        )
    found = ", ".join(
        f"{n:,} {_KIND_NAMES['zh' if zh else 'en'][kind]}" for kind, n in ids.personal.items() if n
    )
    if zh:
        why = (
            f"导出数据的客户ID 看起来含有个人信息（{found}），因此"
            if ids.forced
            else "按要求（--ids pseudonymous 或配置 export.ids），"
        )
        return (
            f"{header}\n{why}{header} 写成了带密钥的化名（cust_ 加 16 位十六进制），"
            "原客户ID 不出现在任何导出文件中。\n"
            '对应回原客户ID：化名 = "cust_" + HMAC-SHA256(密钥, 原客户ID) 的前 16 位十六进制。'
            f"密钥来自 {ids.key_source}（请妥善保管，不要与这些文件一起发送）。"
            "持有密钥的人对自己的客户ID 逐个算出化名，再按化名关联即可，例如在本项目中：\n"
            "    from segmentation.privacy import load_pii_key, pseudonymise_customer_ids\n"
            "    化名 = pseudonymise_customer_ids(客户ID列表, key=load_pii_key())\n"
            "同一密钥下每个月的化名相同，不同月份的文件可以直接关联。"
        )
    why = (
        f"The export's customer ids look like personal data ({found}), so"
        if ids.forced
        else "As asked (--ids pseudonymous or export.ids in the config),"
    )
    return (
        f"{header}\n{why} every {header} is a keyed pseudonym (cust_ and 16 hex digits); "
        "no original id appears in these files.\n"
        'To map them back: pseudonym = "cust_" + the first 16 hex digits of '
        f"HMAC-SHA256(key, original id). The key comes from {ids.key_source} (keep it safe and "
        "never send it with these files). Whoever holds the key computes the pseudonym of each "
        "of their own ids and joins on it, e.g. in this project:\n"
        "    from segmentation.privacy import load_pii_key, pseudonymise_customer_ids\n"
        "    pseudonyms = pseudonymise_customer_ids(customer_ids, key=load_pii_key())\n"
        "With the same key the pseudonyms are the same every month, so files of different "
        "months join."
    )


def _recommended(facts: NoticeFacts, zh: bool) -> str:
    segment, action = facts.recommended_headers
    title = facts.recommended_title
    if facts.recommended_sentence:
        if zh:
            return (
                f"{segment} / {action}\n来自本月方案对比推荐的「{title}」。"
                f"{facts.recommended_sentence}\n每个方案另有一列分层和一列推荐动作。"
            )
        return (
            f"{segment} / {action}\nFrom {title}, the scheme this month's comparison "
            f"recommends. {facts.recommended_sentence}\nEvery scheme also has a column of "
            "its segments and one of their actions."
        )
    if zh:
        reason = (
            "这次导出没有方案对比（segmentation segment 不做回测；月度报告会按对比结果选择方案）"
            if facts.asked_scheme is None
            else f"推荐的方案 {facts.asked_scheme} 本月无法计算"
        )
        return (
            f"{segment} / {action}\n来自配置 export.fallback_scheme 指定的「{title}」："
            f"{reason}。\n每个方案另有一列分层和一列推荐动作。"
        )
    reason = (
        "this export compared no schemes (segmentation segment runs no backtest; the monthly "
        "report fills these columns from the scheme its comparison recommends)"
        if facts.asked_scheme is None
        else f"the recommended scheme {facts.asked_scheme} could not be computed this month"
    )
    return (
        f"{segment} / {action}\nFrom {title}, the scheme export.fallback_scheme in the config "
        f"names: {reason}.\nEvery scheme also has a column of its segments and one of their "
        "actions."
    )


def _labels(facts: NoticeFacts, zh: bool) -> str:
    if zh:
        return (
            f"标签\n每个分层名前都有方案简称（如 {facts.example_tag}），不同方案里的同名分层"
            "（如两个方案都有“高价值”）不会变成同一个标签。某方案没有给出分层的客户，该方案的"
            f"单元格为空，在 {facts.files['tags']} 中也没有对应的行。"
        )
    return (
        f"Labels\nEvery segment name starts with its scheme's short name (e.g. "
        f"{facts.example_tag}), so segments of the same name in two schemes never become one "
        "tag. A customer a scheme does not label has an empty cell in that scheme's column "
        f"and no row for it in {facts.files['tags']}."
    )


def _safety(zh: bool) -> str:
    if zh:
        return (
            "公式防护\nCSV 中以 = + - @ 开头的文本前加了一个单引号（'），防止表格软件把它当作"
            "公式执行（CSV 注入）。XLSX 中的文本都是字符串单元格，不会被当作公式，所以不加。"
        )
    return (
        "Formula protection\nIn the CSV files, text starting with = + - or @ has a single "
        "quote (') in front, so a spreadsheet never runs it as a formula (CSV injection). "
        "XLSX cells are strings, never formulas, so they are written as they are."
    )
