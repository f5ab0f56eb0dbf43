"""The export's table: per customer, the recommended segment and action, then each scheme's.

Every column but the id is held as category codes into its few distinct values, so a million
customers cost a million small integers per column, not a million strings. Segment labels
start with the scheme's short name (``价值分层:高价值``, ``CLV:高价值``), so the same name
in two schemes never becomes one tag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmentation.config import config_section
from segmentation.errors import SegmentationInputError
from segmentation.i18n import check_lang, localized
from segmentation.schemes.base import Segmentation

__all__ = [
    "Column",
    "CrmTable",
    "IdTransform",
    "crm_table",
    "segments_table",
    "take_values",
    "wecom_tags_table",
]

IdTransform = Callable[[pd.Series], pd.Series]


@dataclass(frozen=True)
class Column:
    """One text column as category codes: ``values[codes]`` is the column, code -1 missing.

    ``values`` is dtype ``string`` and ends with a missing value, which code -1 picks.
    """

    header: str
    codes: np.ndarray
    values: pd.Series


@dataclass(frozen=True)
class CrmTable:
    """The export's columns, in customer order (the recommended scheme's index).

    Attributes
    ----------
    id_header : str
        Header of the id column.
    ids : pandas.Series
        The written ids (dtype ``string``), one per customer.
    columns : list of Column
        The recommended segment and action, then each scheme's segment and action.
    tag_groups : list of tuple
        Per scheme, its title (the WeCom tag group) and its label column.
    recommended : str
        The scheme whose segment and action fill the recommended columns.
    schemes : list of str
        The schemes written, in column order.
    """

    id_header: str
    ids: pd.Series
    columns: list[Column]
    tag_groups: list[tuple[str, Column]]
    recommended: str
    schemes: list[str]

    def row_order(self) -> np.ndarray:
        """Positions of the customers sorted by written id (stable): the files' row order."""
        return np.asarray(self.ids.reset_index(drop=True).sort_values(kind="stable").index)

    def n_tags(self) -> int:
        """Rows of the long tag file: one per customer and scheme that labels them."""
        return int(sum((column.codes >= 0).sum() for _, column in self.tag_groups))


def crm_table(
    segmentations: Sequence[Segmentation],
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    recommended: str | None = None,
    id_transform: IdTransform | None = None,
) -> CrmTable:
    """Build the export's columns from schemes computed on one snapshot.

    Parameters
    ----------
    segmentations : sequence of Segmentation
        The schemes, in the column order wanted.
    config : mapping
        :func:`segmentation.config.load_config`'s output; its ``export`` section names the
        headers, the label prefixes and the fallback scheme.
    lang : {"zh", "en"}, default "zh"
        Language of headers, labels and actions.
    recommended : str, optional
        The scheme the month's comparison recommends; ``export.fallback_scheme`` when None
        or not among ``segmentations``.
    id_transform : callable, optional
        Maps the Series of customer ids (dtype ``string``) to the ids to write, e.g. keyed
        pseudonyms; identity when omitted. Its result is written as text.

    Returns
    -------
    CrmTable

    Raises
    ------
    SegmentationInputError
        When neither scheme for the recommended columns was computed, ``lang`` is unknown,
        or two segments would get the same label.
    """
    check_lang(lang, where="segments.csv: lang")
    settings = config_section(config, "export")
    by_name = {s.scheme: s for s in segmentations}
    chosen = _recommended_scheme(by_name, recommended, str(settings["fallback_scheme"]))
    customers = by_name[chosen].labels.index
    ids = pd.Series(customers.astype("string"), index=customers, name="customer_id")
    written = (id_transform or _identity)(ids)
    if len(written) != len(ids):
        raise ValueError(f"id_transform returned {len(written)} ids for {len(ids)} customers")
    headers = settings["headers"]
    labelled = {
        s.scheme: _scheme_columns(s, customers, settings=settings, lang=lang) for s in segmentations
    }
    _check_unique_labels(labelled)
    columns = [
        Column(localized(headers["recommended_segment"], lang), *labelled[chosen][0][1:]),
        Column(localized(headers["recommended_action"], lang), *labelled[chosen][1][1:]),
    ]
    taken = {localized(headers["id"], lang), *(column.header for column in columns)}
    tag_groups = []
    for segmentation in segmentations:
        title = segmentation.display_title(lang)
        label, action = labelled[segmentation.scheme]
        label_header = _unique_header(title, segmentation.scheme, taken)
        action_header = _unique_header(
            localized(headers["scheme_action"], lang).format(title=title),
            segmentation.scheme,
            taken,
        )
        columns += [Column(label_header, *label[1:]), Column(action_header, *action[1:])]
        tag_groups.append((title, Column(title, *label[1:])))
    return CrmTable(
        id_header=localized(headers["id"], lang),
        ids=pd.Series(written.astype("string").array, name="customer_id"),
        columns=columns,
        tag_groups=tag_groups,
        recommended=chosen,
        schemes=[s.scheme for s in segmentations],
    )


def segments_table(
    segmentations: Sequence[Segmentation],
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    recommended: str | None = None,
    id_transform: IdTransform | None = None,
) -> pd.DataFrame:
    """segments.csv as a DataFrame: one row per customer, sorted by the written id.

    Parameters
    ----------
    segmentations, config, lang, recommended, id_transform
        As in :func:`crm_table`.

    Returns
    -------
    pandas.DataFrame
        The id, the recommended segment and action, then each scheme's segment (headed by
        its title) and action; text not yet escaped.
    """
    table = crm_table(
        segmentations,
        config=config,
        lang=lang,
        recommended=recommended,
        id_transform=id_transform,
    )
    order = table.row_order()
    frame = pd.DataFrame({table.id_header: table.ids.take(order).reset_index(drop=True)})
    for column in table.columns:
        frame[column.header] = take_values(column.values, column.codes[order])
    return frame


def wecom_tags_table(
    segmentations: Sequence[Segmentation],
    *,
    config: Mapping[str, Any],
    lang: str = "zh",
    recommended: str | None = None,
    id_transform: IdTransform | None = None,
) -> pd.DataFrame:
    """The WeCom tag file as a DataFrame: one row per customer and scheme that labels them.

    Parameters
    ----------
    segmentations, config, lang, recommended, id_transform
        As in :func:`crm_table`.

    Returns
    -------
    pandas.DataFrame
        Columns id, tag group (the scheme's title) and tag (its label), sorted by the written
        id and then in scheme order; text not yet escaped.
    """
    table = crm_table(
        segmentations,
        config=config,
        lang=lang,
        recommended=recommended,
        id_transform=id_transform,
    )
    headers = config_section(config, "export")["headers"]
    order = table.row_order()
    ids = table.ids.take(order).reset_index(drop=True)
    parts = []
    for position, (group, column) in enumerate(table.tag_groups):
        tags = take_values(column.values, column.codes[order])
        parts.append(
            pd.DataFrame({"row": np.arange(len(ids)), "scheme": position, "id": ids, "tag": tags})
            .assign(group=group)
            .dropna(subset=["tag"])
        )
    columns = ["id", "group", "tag"]
    long = (
        pd.concat(parts).sort_values(["row", "scheme"], kind="stable")[columns]
        if parts
        else pd.DataFrame(columns=columns, dtype="string")
    )
    long.columns = [
        table.id_header,
        localized(headers["tag_group"], lang),
        localized(headers["tag"], lang),
    ]
    return long.reset_index(drop=True).astype("string")


def take_values(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """``values`` at ``codes``, where code -1 picks the last value (the missing one)."""
    return pd.Series(values.array.take(np.where(codes < 0, len(values) - 1, codes)))


def _recommended_scheme(
    by_name: Mapping[str, Segmentation], recommended: str | None, fallback: str
) -> str:
    for name in (recommended, fallback):
        if name and name in by_name:
            return name
    raise SegmentationInputError(
        f"segments.csv: neither the recommended scheme {recommended!r} nor the fallback "
        f"{fallback!r} was computed (have {sorted(by_name)}); set export.fallback_scheme in "
        "the config to one of them."
    )


# (keys, codes, values): the segment keys in category order, then a Column's codes and values.
_Coded = tuple[pd.Index, np.ndarray, pd.Series]


def _scheme_columns(
    segmentation: Segmentation, customers: pd.Index, *, settings: Mapping[str, Any], lang: str
) -> tuple[_Coded, _Coded]:
    """The scheme's prefixed labels and its actions on ``customers``, as codes and values."""
    labels = segmentation.labels
    if not (labels.index is customers or labels.index.equals(customers)):
        labels = labels.reindex(customers)
    categorical = labels.array
    if not isinstance(categorical, pd.Categorical):
        categorical = pd.Categorical(labels)
    keys = pd.Index(categorical.categories)
    profile = segmentation.profile.reindex(keys)
    prefix = localized(settings["tag_prefix"][segmentation.scheme], lang)
    separator = localized(settings["tag_separator"], lang)
    names = [f"{prefix}{separator}{name}" for name in profile[f"name_{lang}"].astype(str)]
    actions = profile[f"action_{lang}"].tolist()
    codes = categorical.codes
    return (
        (keys, codes, pd.Series([*names, pd.NA], dtype="string")),
        (keys, codes, pd.Series([*actions, pd.NA], dtype="string")),
    )


def _check_unique_labels(labelled: Mapping[str, tuple[_Coded, _Coded]]) -> None:
    """Every segment of every scheme has its own label: one tag never means two segments."""
    seen: dict[str, tuple[str, str]] = {}
    for scheme, ((keys, _, values), _) in labelled.items():
        for key, label in zip(keys, values.iloc[:-1], strict=True):
            if label in seen:
                other_scheme, other_key = seen[label]
                raise SegmentationInputError(
                    f"segments.csv: the label {label!r} would name both {other_scheme}'s "
                    f"segment {other_key!r} and {scheme}'s segment {key!r}; give them different "
                    "names (segments in the scheme's config section) or prefixes "
                    "(export.tag_prefix)."
                )
            seen[label] = (scheme, str(key))


def _unique_header(header: str, scheme: str, taken: set[str]) -> str:
    """``header``, or with the scheme's name added when another column already has it."""
    if header in taken:
        header = f"{header} ({scheme})"
    taken.add(header)
    return header


def _identity(ids: pd.Series) -> pd.Series:
    return ids
