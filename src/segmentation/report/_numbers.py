"""Numbers as people read them: thousands separators, percentages, money to two decimals, and
"—" where there is no number."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["NO_NUMBER", "count", "money", "percent", "signed_percent"]

#: What a cell shows where there is no number (never "NaN").
NO_NUMBER = "—"


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing (None, NaN, pandas' NA) or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def count(value: Any) -> str:
    """A whole number with thousands separators: ``12,345``."""
    number = _finite(value)
    return NO_NUMBER if number is None else f"{round(number):,}"


def money(value: Any) -> str:
    """An amount with thousands separators and two decimals: ``1,234,567.80``."""
    number = _finite(value)
    return NO_NUMBER if number is None else f"{number:,.2f}"


def percent(value: Any, *, digits: int = 1) -> str:
    """A share as a percentage: ``0.1234`` -> ``12.3%``."""
    number = _finite(value)
    return NO_NUMBER if number is None else f"{number:.{digits}%}"


def signed_percent(value: Any, *, digits: int = 1) -> str:
    """A change as a signed percentage: ``0.05`` -> ``+5.0%``, ``-0.2`` -> ``-20.0%``."""
    number = _finite(value)
    return NO_NUMBER if number is None else f"{number:+.{digits}%}"
