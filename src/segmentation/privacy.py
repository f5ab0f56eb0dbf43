"""Pseudonymise personal data with a keyed hash, so joins still work but raw values are gone.

Phone numbers, names and WeChat ids are replaced on ingest by ``HMAC-SHA256(key, value)``,
truncated to 16 hex digits and prefixed (``pii_3f2a...``). The same value always gives the same
pseudonym under the same key, so a phone number in two exports still joins; without the key
the pseudonym cannot be reversed or checked against a guessed phone number (a plain, unkeyed
hash of an 11-digit phone number can be brute-forced in minutes).

The key comes from the environment variable ``SEGMENTATION_PII_KEY`` or, when that is unset,
from a per-project key file ``.segmentation-pii-key`` (git-ignored), created on first use with
:func:`secrets.token_hex` and mode 0600. Keep the file: with a new key every pseudonym changes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from segmentation.errors import InvalidOptionError, UnreadableFileError
from segmentation.paths import find_root

__all__ = [
    "CUSTOMER_ID_PREFIX",
    "LINE_DIGEST_PREFIX",
    "PERSONAL_ID_KINDS",
    "PII_KEY_ENV",
    "PII_KEY_FILE",
    "PII_PREFIX",
    "find_project_dir",
    "holds_personal_text",
    "line_digest",
    "load_pii_key",
    "mask_personal_text",
    "personal_id_counts",
    "pii_key_source",
    "pseudonymise",
    "pseudonymise_customer_ids",
]

PII_KEY_ENV = "SEGMENTATION_PII_KEY"
PII_KEY_FILE = ".segmentation-pii-key"
PII_PREFIX = "pii_"
CUSTOMER_ID_PREFIX = "cust_"
LINE_DIGEST_PREFIX = "line_"
# 16 hex digits = 64 bits: a collision among a million customers has odds of about 3e-8.
_HEX_DIGITS = 16
_DIGEST_BYTES = _HEX_DIGITS // 2
# Files that mark the root of a project, so notebooks run from notebooks/ share the CLI's key.
_PROJECT_MARKERS = (PII_KEY_FILE, "pyproject.toml", ".git")

# What an id holding personal data looks like, by kind (matched on the trimmed id, whole).
_PERSONAL_ID_PATTERNS: dict[str, str] = {
    # A mainland mobile number, with or without +86 / 0086 and separators, or any number
    # written in international form (+, then 7-15 digits).
    "phone": r"^(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}$|^\+[1-9](?:[ -]?\d){6,14}$",
    # WeChat's own ids (wxid_...); ids a user chose look like any member number and cannot
    # be told apart by their form.
    "wechat_id": r"^(?i:wxid_)[0-9A-Za-z_-]{4,}$",
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    # A resident identity card number (GB 11643): candidates are confirmed by the check digit
    # and the birth date.
    "resident_id": r"^\d{17}[\dXx]$",
}
PERSONAL_ID_KINDS: tuple[str, ...] = tuple(_PERSONAL_ID_PATTERNS)
# The same forms found anywhere inside a text (a phone number typed into a date cell).
_PERSONAL_TEXT = (
    r"(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}|\+[1-9](?:[ -]?\d){6,14}"
    r"|(?i:wxid_)[0-9A-Za-z_-]{4,}|[^@\s]+@[^@\s]+\.[A-Za-z]{2,}|\d{17}[\dXx]"
)
# GB 11643-1999: weights of the first 17 digits (2^(17-i) mod 11) and the check characters.
_RESIDENT_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_RESIDENT_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def find_project_dir(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds a key file, pyproject.toml or .git.

    Parameters
    ----------
    start : str or Path, optional
        Where to begin; the current working directory when omitted.

    Returns
    -------
    Path
        That folder, or ``start`` itself when no parent is marked as a project.
    """
    return find_root(start, is_root=_has_project_marker)


def _has_project_marker(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in _PROJECT_MARKERS)


def load_pii_key(*, project_dir: str | Path | None = None) -> bytes:
    """The key for :func:`pseudonymise`: from the environment, else the project's key file.

    Parameters
    ----------
    project_dir : str or Path, optional
        Folder holding ``.segmentation-pii-key``; by default the project folder found by
        :func:`find_project_dir` from the current directory. The file is created there, with
        a fresh random key and mode 0600, when it does not exist yet.

    Returns
    -------
    bytes
        The key material. ``SEGMENTATION_PII_KEY`` wins when it is set and not empty.

    Raises
    ------
    UnreadableFileError
        The key file exists but is empty or cannot be read.
    """
    from_env = os.environ.get(PII_KEY_ENV, "").strip()
    if from_env:
        return from_env.encode("utf-8")
    folder = Path(project_dir) if project_dir is not None else find_project_dir()
    path = folder / PII_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UnreadableFileError(
            f"{path}: cannot read the PII key file ({error.strerror}); fix its permissions or "
            f"set {PII_KEY_ENV}"
        ) from error
    if not key:
        raise UnreadableFileError(
            f"{path}: the PII key file is empty; restore it from a backup (pseudonyms made with "
            f"the old key will not match a new one) or delete it to start a new key"
        )
    return key.encode("utf-8")


def pii_key_source(*, project_dir: str | Path | None = None) -> str:
    """Where :func:`load_pii_key` takes the key from, for a notice (never the key itself).

    Parameters
    ----------
    project_dir : str or Path, optional
        As in :func:`load_pii_key`.

    Returns
    -------
    str
        ``"SEGMENTATION_PII_KEY"`` when the variable is set, else the key file's path.
    """
    if os.environ.get(PII_KEY_ENV, "").strip():
        return PII_KEY_ENV
    folder = Path(project_dir) if project_dir is not None else find_project_dir()
    return str(folder / PII_KEY_FILE)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: if two processes race, one creates the key and the other reads it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def pseudonymise(
    values: Iterable[object] | pd.Series,
    *,
    key: bytes | str,
    prefix: str = PII_PREFIX,
) -> pd.Series:
    """Replace each value by ``prefix`` + the first 16 hex digits of HMAC-SHA256(key, value).

    Parameters
    ----------
    values : iterable or pandas.Series
        Values to replace; each is hashed as its ``str`` in UTF-8. Missing values (None, NaN,
        NA) stay missing.
    key : bytes or str
        The secret key, e.g. from :func:`load_pii_key`.
    prefix : str, default "pii_"
        Marks the value as a pseudonym, so nobody mistakes it for a real id.

    Returns
    -------
    pandas.Series
        Dtype ``string``, with the index of ``values`` when it is a Series.

    Examples
    --------
    >>> pseudonymise(["13800138000", None], key=b"k").tolist()  # doctest: +SKIP
    ['pii_...', <NA>]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    if not key_bytes:
        raise ValueError("the pseudonymisation key is empty")
    # Hash each distinct value once: exports repeat the same phone or id on many rows.
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    digests = _hmac_sha256_digests(_utf8(uniques), key=key_bytes)
    pseudonyms = _hex_pseudonyms(digests, prefix=prefix)
    if len(pseudonyms) == len(series):
        # Every value distinct and none missing: the codes are 0, 1, 2, ... already.
        result = pseudonyms
    else:
        # Code -1 (a missing value) takes NA.
        result = pseudonyms.take(codes, allow_fill=True)
    return pd.Series(result, index=series.index, dtype="string", name=series.name)


def _utf8(uniques: Any) -> list[bytes]:
    """Each value's ``str`` in UTF-8; text held by Arrow is read as bytes without a round trip
    through Python strings."""
    dtype = uniques.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        text = pa.array(uniques.array, type=pa.large_string())
        return list(text.cast(pa.large_binary()).to_pylist())
    return [str(value).encode("utf-8") for value in uniques]


def _hmac_sha256_digests(messages: list[bytes], *, key: bytes) -> bytes:
    """HMAC-SHA256(key, message) of every message, concatenated (32 bytes each)."""
    # The standard library's HMAC, keyed once and copied per message: the key's pads are
    # not hashed again for each of a million ids (half the time of hmac.new per value).
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    digests: list[bytes] = []
    append = digests.append
    for message in messages:
        mac = keyed.copy()
        mac.update(message)
        append(mac.digest())
    return b"".join(digests)


def _hex_pseudonyms(digests: bytes, *, prefix: str) -> ExtensionArray:
    """``prefix`` + the first 16 hex digits of each 32-byte digest, as a ``string`` array.

    The text is laid out in one buffer by numpy instead of a million ``bytes.hex`` calls.
    """
    import pyarrow as pa

    head = np.frombuffer(digests, dtype=np.uint8).reshape(-1, hashlib.sha256().digest_size)
    head = head[:, :_DIGEST_BYTES]
    start = prefix.encode("utf-8")
    width = len(start) + _HEX_DIGITS
    text = np.empty((len(head), width), dtype=np.uint8)
    text[:, : len(start)] = np.frombuffer(start, dtype=np.uint8)
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text[:, len(start) :: 2] = hex_digits[head >> 4]
    text[:, len(start) + 1 :: 2] = hex_digits[head & 0x0F]
    offsets = np.arange(len(head) + 1, dtype=np.int64) * width
    array = pa.LargeStringArray.from_buffers(
        len(head), pa.py_buffer(offsets), pa.py_buffer(text.reshape(-1))
    )
    # astype: the "string" dtype in the storage pandas is configured for, as before.
    return cast(ExtensionArray, pd.arrays.ArrowStringArray(array).astype("string"))


def pseudonymise_customer_ids(
    customer_ids: Iterable[object] | pd.Series,
    *,
    key: bytes | str,
) -> pd.Series:
    """Pseudonymous customer ids for files that leave the project (e.g. ``segments.csv``).

    Parameters
    ----------
    customer_ids : iterable or pandas.Series
        Canonical customer ids; missing values stay missing.
    key : bytes or str
        The project's key, from :func:`load_pii_key`; the same key gives the same pseudonym
        in every export, so exports from different months still join.

    Returns
    -------
    pandas.Series
        ``cust_`` followed by 16 hex digits, dtype ``string``.
    """
    return pseudonymise(customer_ids, key=key, prefix=CUSTOMER_ID_PREFIX)


def personal_id_counts(
    ids: Iterable[object] | pd.Series, *, kinds: Iterable[str] = PERSONAL_ID_KINDS
) -> dict[str, int]:
    """How many distinct ids look like personal data of each kind.

    Member numbers are not personal data, but some shops key customers by their phone
    number or WeChat id; such ids must not leave the project as they are.

    Parameters
    ----------
    ids : iterable or pandas.Series
        Customer ids as text; missing values are ignored.
    kinds : iterable of str, default :data:`PERSONAL_ID_KINDS`
        Which of ``"phone"`` (a mainland mobile number, or + and 7-15 digits),
        ``"wechat_id"`` (``wxid_...``), ``"email"`` and ``"resident_id"`` (an 18-character
        resident identity card number whose check digit and birth date are valid) to look for.

    Returns
    -------
    dict of str to int
        Each kind asked for, with the number of distinct ids of that form (0 when none).

    Raises
    ------
    InvalidOptionError
        For a kind not in :data:`PERSONAL_ID_KINDS`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    asked = list(kinds)
    unknown = [kind for kind in asked if kind not in _PERSONAL_ID_PATTERNS]
    if unknown:
        raise InvalidOptionError(
            f"export.personal_id_checks: found {unknown}; use any of {list(PERSONAL_ID_KINDS)}."
        )
    series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype=object)
    distinct = pd.Series(series.dropna().unique()).astype("string")
    text = pc.utf8_trim_whitespace(pa.array(distinct.array, type=pa.large_string()))
    counts = {}
    for kind in asked:
        matched = pc.fill_null(pc.match_substring_regex(text, _PERSONAL_ID_PATTERNS[kind]), False)
        if kind == "resident_id":
            matched = _valid_resident_ids(text.filter(matched))
        counts[kind] = int(pc.sum(matched).as_py() or 0)
    return counts


def _valid_resident_ids(candidates: Any) -> Any:
    """Which 18-character candidates have a valid check character and birth date."""
    import pyarrow as pa

    if not len(candidates):
        return pa.array([], type=pa.bool_())
    chars = np.frombuffer(
        "".join(candidates.to_pylist()).upper().encode("ascii"), dtype=np.uint8
    ).reshape(-1, 18)
    digits = chars[:, :17].astype(np.int64) - ord("0")
    check_ok = _RESIDENT_ID_CHECK[(digits @ _RESIDENT_ID_WEIGHTS) % 11] == chars[:, 17]
    birth = digits[:, 6:14] @ (10 ** np.arange(7, -1, -1))
    born = pd.to_datetime(pd.Series(birth).astype(str), format="%Y%m%d", errors="coerce")
    date_ok = born.between(pd.Timestamp("1900-01-01"), pd.Timestamp("2099-12-31")).to_numpy()
    return pa.array(check_ok & date_ok)


def line_digest(raw: bytes, *, key: bytes | str) -> str:
    """A keyed digest of a line that ingest could not read, in place of its text.

    The quarantine keeps a line it cannot align to the header (too many or too few fields,
    an unterminated quote, bytes that are not text) by its file, line number and this digest,
    never by its text: the text may hold a phone number in any position. The operator finds
    the line in the source file by its number; the digest tells whether two runs set aside
    the same line, and without the key it cannot be checked against a guessed phone number.

    Parameters
    ----------
    raw : bytes
        The line as it is in the file (or the SHA-256 of it: long lines are digested once
        by the reader, and the key is applied here).
    key : bytes or str
        The project's key, from :func:`load_pii_key`.

    Returns
    -------
    str
        ``line_`` followed by 16 hex digits of HMAC-SHA256(key, raw).
    """
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    if not key_bytes:
        raise ValueError("the pseudonymisation key is empty")
    digest = hmac.new(key_bytes, raw, hashlib.sha256).hexdigest()
    return LINE_DIGEST_PREFIX + digest[:_HEX_DIGITS]


def mask_personal_text(
    values: Iterable[str | None], *, key: bytes | str | Callable[[], bytes | str]
) -> list[str | None]:
    """Each text that holds a phone number, WeChat id, e-mail or identity card number
    anywhere in it, replaced by its pseudonym; other texts as they are.

    A quarantined row keeps the raw values of the columns it maps, so the operator sees what
    failed to parse; a phone number typed into its date cell must not be kept with them.

    Parameters
    ----------
    values : iterable of str or None
        Raw cell texts.
    key : bytes, str, or a function returning one
        The project's key, from :func:`load_pii_key`; a function is called only when a value
        needs masking, so a run without personal data never creates a key file.

    Returns
    -------
    list of str or None
        The same length; ``None`` stays ``None``.
    """
    out = list(values)
    found = [i for i, value in enumerate(out) if value is not None and holds_personal_text(value)]
    if found:
        key_value = key() if callable(key) else key
        masked = pseudonymise([out[i] for i in found], key=key_value).tolist()
        for i, pseudonym in zip(found, masked, strict=True):
            out[i] = pseudonym
    return out


def holds_personal_text(text: str) -> bool:
    """Whether ``text`` holds a phone number, WeChat id, e-mail or identity card number
    anywhere in it (the forms of :data:`PERSONAL_ID_KINDS`, not anchored).

    Parameters
    ----------
    text : str

    Returns
    -------
    bool
    """
    import re

    return re.search(_PERSONAL_TEXT, text) is not None
