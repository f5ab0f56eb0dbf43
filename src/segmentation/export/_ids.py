"""Which ids the export writes: the shop's own, or keyed pseudonyms.

Member numbers are not personal data, so the shop's own ids are written by default and a CRM
can take the file as it is. Where the id column itself holds phone numbers, WeChat ids, email
addresses or identity card numbers, or when pseudonyms are asked for, every id is written as
``cust_`` + HMAC-SHA256 with the project's key (:func:`segmentation.privacy.
pseudonymise_customer_ids`); whoever holds the key maps them back by computing the pseudonym
of each of their own ids and joining.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segmentation.config import config_section
from segmentation.errors import InvalidOptionError
from segmentation.export._table import IdTransform
from segmentation.privacy import (
    load_pii_key,
    personal_id_counts,
    pii_key_source,
    pseudonymise_customer_ids,
)

__all__ = ["ID_CHOICES", "IdChoice", "choose_ids"]

ID_CHOICES: tuple[str, ...] = ("original", "pseudonymous")


@dataclass(frozen=True)
class IdChoice:
    """The ids an export writes, and why.

    Attributes
    ----------
    asked : {"original", "pseudonymous"}
        What the option or ``export.ids`` asked for.
    written : {"original", "pseudonymous"}
        What was written: pseudonyms when asked, or when ids look like personal data.
    personal : dict of str to int
        Per kind checked (``export.personal_id_checks``), the distinct ids of that form;
        empty when pseudonyms were asked for (nothing to check).
    key_source : str
        Where the pseudonyms' key came from (the environment variable or the key file's
        path); empty for original ids.
    """

    asked: str
    written: str
    personal: dict[str, int] = field(default_factory=dict)
    key_source: str = ""

    @property
    def forced(self) -> bool:
        """Original ids were asked for, but the ids look like personal data."""
        return self.asked != self.written

    def to_dict(self) -> dict[str, Any]:
        """For manifest.json: the choice and the counts that made it (never an id)."""
        return {
            "asked": self.asked,
            "written": self.written,
            "personal_ids": {kind: n for kind, n in self.personal.items() if n},
        }


def choose_ids(
    customer_ids: pd.Index | pd.Series,
    *,
    config: Mapping[str, Any],
    ids: str | IdChoice | None = None,
    project_dir: str | Path | None = None,
) -> tuple[IdTransform | None, IdChoice]:
    """Decide which ids to write and return the transform that writes them.

    Parameters
    ----------
    customer_ids : pandas.Index or Series
        The customers' own ids.
    config : mapping
        The config; ``export.ids`` is the default and ``export.personal_id_checks`` the
        forms of personal data looked for.
    ids : {"original", "pseudonymous"} or IdChoice, optional
        Overrides ``export.ids`` (the ``--ids`` option); an :class:`IdChoice` already made on
        the same customers (segments.csv's, for the grade files) is kept as it is, without
        looking at the ids again.
    project_dir : str or Path, optional
        Folder of the pseudonymisation key (:func:`segmentation.privacy.load_pii_key`).

    Returns
    -------
    transform : callable or None
        None to write the ids as they are, else the pseudonymisation.
    choice : IdChoice

    Raises
    ------
    InvalidOptionError
        For an ``ids`` (or ``export.ids``) other than "original" or "pseudonymous".
    """
    if isinstance(ids, IdChoice):
        return (None if ids.written == "original" else _pseudonymiser(project_dir)), ids
    settings = config_section(config, "export")
    asked = str(ids if ids is not None else settings["ids"])
    if asked not in ID_CHOICES:
        raise InvalidOptionError(
            f"--ids / export.ids: found {asked!r}; give 'original' (the shop's own customer "
            "ids) or 'pseudonymous' (keyed pseudonyms)."
        )
    personal: dict[str, int] = {}
    if asked == "original":
        personal = personal_id_counts(pd.Series(customer_ids), kinds=settings["personal_id_checks"])
        if not any(personal.values()):
            return None, IdChoice(asked=asked, written="original", personal=personal)
    transform = _pseudonymiser(project_dir)
    choice = IdChoice(
        asked=asked,
        written="pseudonymous",
        personal=personal,
        key_source=pii_key_source(project_dir=project_dir),
    )
    return transform, choice


def _pseudonymiser(project_dir: str | Path | None) -> IdTransform:
    """The pseudonymisation with the project's key (loaded, or created, here)."""
    key = load_pii_key(project_dir=project_dir)
    return functools.partial(pseudonymise_customer_ids, key=key)
