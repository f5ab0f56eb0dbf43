"""What the caller asked for: the dates that bound the rows, the column mapping, the PII key."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from segmentation.config import Settings
from segmentation.errors import InvalidOptionError, MappingError
from segmentation.ingest._presets import ORDER_CUSTOMER_ALIASES
from segmentation.privacy import load_pii_key
from segmentation.schema import CUSTOMERS, INTERACTIONS, ORDERS

__all__ = [
    "KeyProvider",
    "Options",
    "UserMapping",
    "ingest_settings",
    "load_mapping",
    "option_time_zone",
    "option_timestamp",
]


@dataclass(frozen=True)
class UserMapping:
    """The user's column mapping: canonical column -> their header, per table."""

    label: str
    tables: dict[str, dict[str, str | None]]
    kinds: dict[str, str]


@dataclass(frozen=True)
class Options:
    """The dates that bound the rows (``None``: no bound), the user's column mapping, the
    shop's time zone (an IANA name) that times with an offset are converted to, and the
    config's ``ingest`` settings."""

    as_of: pd.Timestamp | None
    earliest: pd.Timestamp | None
    mapping: UserMapping
    time_zone: str
    # Share of a text file's lines that may be faulty (NUL bytes, undecodable) before the
    # file is refused whole (config ``ingest.binary_line_share``).
    binary_line_share: float

    @property
    def as_of_cutoff(self) -> pd.Timestamp | None:
        # The as-of day is included whole, as features.as_of_cutoff counts it.
        return None if self.as_of is None else self.as_of.normalize() + pd.Timedelta(days=1)


@functools.cache
def ingest_settings() -> Settings:
    """The config's ``ingest`` section, from ``ingest.yaml`` alone: merging every area's YAML
    (:func:`segmentation.config.default_config`) costs a third of a second, more than
    reading a small export. Read once per process."""
    text = (
        importlib.resources.files("segmentation.config")
        .joinpath("ingest.yaml")
        .read_text(encoding="utf-8")
    )
    return Settings(yaml.safe_load(text)["ingest"], path="ingest.")


class KeyProvider:
    """Loads the PII key only when a file has PII or a line ingest cannot read (digested
    with the key), so other runs never create a key file."""

    def __init__(self, key: bytes | str | None) -> None:
        self._key = key
        self.columns_pseudonymised: set[str] = set()

    def key(self) -> bytes | str:
        if self._key is None:
            self._key = load_pii_key()
        return self._key


def option_timestamp(value: object, name: str) -> pd.Timestamp | None:
    """``as_of`` or ``earliest`` as a timestamp without a time zone; ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as error:
        raise InvalidOptionError(
            f"{name}={value!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-06-30)"
        ) from error
    if stamp is pd.NaT or pd.isna(stamp):
        raise InvalidOptionError(f"{name}={value!r} is not a date; write it as YYYY-MM-DD")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp


def option_time_zone(value: str | None) -> str:
    """The shop's time zone: ``value``, or the built-in config's ``ingest.shop_time_zone``
    when ``None``; checked to be a time zone the machine knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if value is None:
        value = ingest_settings()["shop_time_zone"]
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidOptionError(
            f"time zone {value!r} (config ingest.shop_time_zone) is not a time zone name; give "
            "an IANA name such as Asia/Shanghai, Asia/Hong_Kong or UTC"
        ) from error
    return str(value)


def load_mapping(mapping: str | Path | Mapping[str, Any] | None) -> UserMapping:
    """The mapping from a YAML file or a dict, checked against the canonical columns."""
    if mapping is None:
        return UserMapping(label="mapping", tables={}, kinds={})
    if isinstance(mapping, str | Path):
        label, raw = str(mapping), _read_mapping_file(Path(mapping), str(mapping))
    else:
        label, raw = "mapping", mapping
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise MappingError(
            f"{label}: expected sections orders:, customers:, interactions: or "
            f"interaction_kinds:, found {type(raw).__name__}"
        )
    allowed = {
        "orders": set(ORDERS.columns) | set(ORDER_CUSTOMER_ALIASES),
        "customers": set(CUSTOMERS.columns),
        "interactions": set(INTERACTIONS.columns),
    }
    tables: dict[str, dict[str, str | None]] = {}
    kinds: dict[str, str] = {}
    for section, body in raw.items():
        if section == "interaction_kinds":
            if not isinstance(body, Mapping):
                raise MappingError(f"{label}: interaction_kinds must map a kind to a name")
            kinds = {str(k).strip(): str(v).strip() for k, v in body.items()}
            continue
        if section not in allowed:
            raise MappingError(
                f"{label}: unknown section {section!r}; use orders, customers, interactions or "
                f"interaction_kinds"
            )
        tables[str(section)] = _section_columns(label, section, body, allowed[section])
    return UserMapping(label=label, tables=tables, kinds=kinds)


def _read_mapping_file(path: Path, label: str) -> Any:
    if not path.is_file():
        raise MappingError(f"{label}: mapping file not found; check the path given to --mapping")
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        detail = " ".join(str(error).split())
        raise MappingError(
            f"{label}: not valid YAML in UTF-8 ({detail}); see the mapping example in README"
        ) from error


def _section_columns(
    label: str, section: str, body: object, allowed: set[str]
) -> dict[str, str | None]:
    """One table's section of the mapping: canonical name -> header, or None (not read)."""
    if not isinstance(body, Mapping):
        raise MappingError(
            f"{label}: section {section} must map canonical names to your headers, e.g. "
            f"'amount: 成交金额'"
        )
    columns: dict[str, str | None] = {}
    for canonical, source in body.items():
        if canonical not in allowed:
            raise MappingError(
                f"{label}: {section}.{canonical} is not a canonical column; "
                f"{section} has {', '.join(sorted(allowed))}"
            )
        columns[str(canonical)] = None if source is None else str(source)
    return columns
