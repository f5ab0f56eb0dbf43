"""Languages: the one check of a ``lang`` option and the bilingual label lookup.

Every label the kit shows is a ``{"zh": ..., "en": ...}`` mapping; a report is in one of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from segmentation.errors import InvalidOptionError

__all__ = ["HTML_LANG", "LANGUAGES", "check_lang", "localized"]

LANGUAGES: tuple[str, ...] = ("zh", "en")

#: The ``<html lang>`` of a report in each language (BCP 47: simplified Chinese as in China).
HTML_LANG: dict[str, str] = {"zh": "zh-CN", "en": "en"}


def check_lang(lang: str, *, where: str = "lang") -> str:
    """``lang`` when it is a language the kit writes, else one clear error.

    Parameters
    ----------
    lang : str
        The language asked for.
    where : str, default "lang"
        The option's name as the user gave it (``LANG``, ``--lang``), for the message.

    Returns
    -------
    str

    Raises
    ------
    InvalidOptionError
        For anything but "zh" or "en".
    """
    if lang not in LANGUAGES:
        raise InvalidOptionError(
            f"{where}: found {lang!r}; the kit writes 'zh' (中文) or 'en' (English)."
        )
    return lang


def localized(text: Mapping[str, str], lang: str) -> str:
    """The ``lang`` text of a bilingual label, English where that language is missing.

    Parameters
    ----------
    text : Mapping
        ``{"zh": ..., "en": ...}``.
    lang : str

    Returns
    -------
    str
    """
    return text.get(lang) or text["en"]
