"""Keyed pseudonyms for PII and customer ids, and where the key comes from."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pandas as pd
import pytest

from segmentation.errors import UnreadableFileError
from segmentation.privacy import (
    PII_KEY_ENV,
    PII_KEY_FILE,
    find_project_dir,
    load_pii_key,
    pseudonymise,
    pseudonymise_customer_ids,
)


def test_pseudonym_is_truncated_hmac_sha256_with_prefix() -> None:
    expected = hmac.new(b"k", b"13800138000", hashlib.sha256).hexdigest()[:16]
    assert pseudonymise(["13800138000"], key=b"k").tolist() == [f"pii_{expected}"]
    assert pseudonymise(["13800138000"], key="k").tolist() == [f"pii_{expected}"]


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
