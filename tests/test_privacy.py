"""Keyed pseudonyms for PII and customer ids, and where the key comes from."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.errors import UnreadableFileError
from segmentation.privacy import (
    PII_KEY_ENV,
    PII_KEY_FILE,
    find_project_dir,
    holds_personal_text,
    line_digest,
    load_pii_key,
    mask_personal_text,
    pseudonymise,
    pseudonymise_customer_ids,
)


def test_pseudonym_is_truncated_hmac_sha256_with_prefix() -> None:
    expected = hmac.new(b"k", b"13800138000", hashlib.sha256).hexdigest()[:16]
    assert pseudonymise(["13800138000"], key=b"k").tolist() == [f"pii_{expected}"]
    assert pseudonymise(["13800138000"], key="k").tolist() == [f"pii_{expected}"]


def _hmac_hex(key: bytes, value: object) -> str:
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:16]


# Short, exactly one SHA-256 block (64 bytes), one byte over (hashed first) and long keys.
KEYS = [b"k", "密钥-é".encode(), b"x" * 64, b"y" * 65, bytes(range(256)) * 2]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("dtype", [object, "string", pd.StringDtype("python"), "str"])
def test_pseudonym_equals_hmac_new_for_text(key: bytes, dtype: object) -> None:
    values = ["13800138000", "张伟", "é", "", "wxid_abc", None, "张伟", "a" * 500]
    out = pseudonymise(pd.Series(values, dtype=dtype), key=key)  # type: ignore[call-overload]
    expected = [None if v is None else f"pii_{_hmac_hex(key, v)}" for v in values]
    assert out.tolist() == [pd.NA if e is None else e for e in expected]
    assert str(out.dtype) == "string"


@pytest.mark.parametrize("key", KEYS)
def test_pseudonym_of_numbers_and_missing_values_is_of_their_str(key: bytes) -> None:
    values = [42, 3.5, None, float("nan"), pd.NA, 42, -7, True]
    out = pseudonymise(values, key=key)
    # 42 is hashed as "42", 3.5 as "3.5", True as "True"; the three missing values stay NA.
    assert out[0] == out[5] == f"pii_{_hmac_hex(key, '42')}"
    assert out[1] == f"pii_{_hmac_hex(key, '3.5')}"
    assert out[6] == f"pii_{_hmac_hex(key, '-7')}"
    assert out[7] == f"pii_{_hmac_hex(key, 'True')}"
    assert out.isna().tolist() == [False, False, True, True, True, False, False, False]
    ints = pseudonymise(pd.Series(np.array([5, 6, 5], dtype=np.int64)), key=key, prefix="")
    assert ints.tolist() == [_hmac_hex(key, 5), _hmac_hex(key, 6), _hmac_hex(key, 5)]


def test_pseudonym_of_a_str_key_is_that_of_its_utf8() -> None:
    assert pseudonymise(["v"], key="密钥")[0] == f"pii_{_hmac_hex('密钥'.encode(), 'v')}"


def test_customer_id_pseudonyms_keep_the_index_and_name() -> None:
    ids = pd.Series(["C2", "C1"], index=pd.Index(["C2", "C1"], dtype="string"), name="id")
    out = pseudonymise_customer_ids(ids, key=b"k")
    assert out.index.equals(ids.index) and out.name == "id"
    assert out.tolist() == [f"cust_{_hmac_hex(b'k', 'C2')}", f"cust_{_hmac_hex(b'k', 'C1')}"]


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.none() | st.text(max_size=80), max_size=30),
    key=st.binary(min_size=1, max_size=150),
    prefix=st.sampled_from(["pii_", "cust_", "", "前缀_"]),
    dtype=st.sampled_from([object, "string"]),
)
def test_pseudonym_property_equals_hmac_new(
    values: list[str | None], key: bytes, prefix: str, dtype: object
) -> None:
    out = pseudonymise(pd.Series(values, dtype=dtype), key=key, prefix=prefix)  # type: ignore[call-overload]
    expected = [pd.NA if v is None else prefix + _hmac_hex(key, v) for v in values]
    assert out.tolist() == expected


def test_same_value_same_pseudonym_missing_stays_missing() -> None:
    values = pd.Series(["张伟", None, "张伟", "李娜", float("nan")], index=[10, 11, 12, 13, 14])
    out = pseudonymise(values, key=b"k")
    assert out.index.tolist() == [10, 11, 12, 13, 14]
    assert str(out.dtype) == "string"
    assert out[10] == out[12] != out[13]
    assert out.isna().tolist() == [False, True, False, False, True]
    assert all(len(v) == 20 for v in out.dropna())


def test_a_different_key_gives_unrelated_pseudonyms() -> None:
    one = pseudonymise(["wxid_abc", "wxid_def"], key=b"one").tolist()
    two = pseudonymise(["wxid_abc", "wxid_def"], key=b"two").tolist()
    assert not set(one) & set(two)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key is empty"):
        pseudonymise(["x"], key=b"")


def test_customer_ids_for_export() -> None:
    ids = pd.Series(["C1", "C2", "C1"])
    out = pseudonymise_customer_ids(ids, key=b"k")
    assert out.str.startswith("cust_").all()
    assert out[0] == out[2] != out[1]
    # The hex part is the same keyed hash as for PII: one key, one scheme.
    assert out[0][5:] == pseudonymise(["C1"], key=b"k")[0][4:]


def test_key_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PII_KEY_ENV, "  from-env  ")
    assert load_pii_key(project_dir=tmp_path) == b"from-env"
    assert not (tmp_path / PII_KEY_FILE).exists()


def test_key_file_created_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PII_KEY_ENV, raising=False)
    first = load_pii_key(project_dir=tmp_path)
    path = tmp_path / PII_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and int(first, 16) >= 0  # 32 random bytes as hex
    assert load_pii_key(project_dir=tmp_path) == first  # reused, not replaced


def test_empty_key_file_is_an_error_not_a_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PII_KEY_ENV, raising=False)
    (tmp_path / PII_KEY_FILE).write_text("\n", encoding="utf-8")
    with pytest.raises(
        UnreadableFileError, match=r"\.segmentation-pii-key: the PII key file is empty"
    ):
        load_pii_key(project_dir=tmp_path)


def test_project_dir_is_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PII_KEY_ENV, raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    assert find_project_dir(notebooks) == tmp_path.resolve()
    monkeypatch.chdir(notebooks)
    key = load_pii_key()
    # Notebooks run from notebooks/ share the key of the CLI run from the project root.
    assert (tmp_path / PII_KEY_FILE).read_text(encoding="utf-8").strip().encode() == key
    assert not (notebooks / PII_KEY_FILE).exists()


def test_line_digest_is_truncated_hmac_sha256_with_its_own_prefix() -> None:
    expected = hmac.new(b"k", b"SO2,C1,13812345678", hashlib.sha256).hexdigest()[:16]
    assert line_digest(b"SO2,C1,13812345678", key=b"k") == f"line_{expected}"
    assert line_digest(b"SO2,C1,13812345678", key="k") == f"line_{expected}"
    assert line_digest(b"x", key=b"k") != line_digest(b"x", key=b"other")
    with pytest.raises(ValueError, match="empty"):
        line_digest(b"x", key=b"")


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "+86 138 1234 5678",
        "电话138-1234-5678找人",
        "0086 13812345678",
        "加微信 wxid_abc12345 谢谢",
        "mail li.na@example.com now",
        "11010519491231002X",
    ],
)
def test_personal_text_is_found_anywhere_in_a_value(text: str) -> None:
    assert holds_personal_text(text)
    (masked,) = mask_personal_text([text], key=b"k")
    assert masked == pseudonymise([text], key=b"k").iloc[0]


@pytest.mark.parametrize(
    "text", ["2024-01-05 13:12:34", "SO1", "¥1,234.50", "12.3元", "1234567", "茶叶礼盒 x2"]
)
def test_values_without_personal_data_are_kept(text: str) -> None:
    calls: list[int] = []

    def key() -> bytes:
        calls.append(1)
        return b"k"

    assert not holds_personal_text(text)
    assert mask_personal_text([text, None], key=key) == [text, None]
    assert calls == []  # no key is loaded (or created) when nothing is masked
