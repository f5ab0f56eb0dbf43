"""RFM: quintile scores, the named 5 x 5 grid scheme and the Chinese eight-class scheme.

Scores and classes are computed over the customers who bought; potential customers get
their own ``potential`` segment. Grid, classes and centre come from the config.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segmentation.errors import SegmentationInputError
from segmentation.schemes._rule_helpers import POTENTIAL, numeric_column, rule_segmentation
from segmentation.schemes.base import Segmentation, config_section

__all__ = ["rfm_8class", "rfm_named", "rfm_scores"]

# Segment keys in category order (lowest value first). Names and actions live in the config.
_RFM_NAMED_KEYS = (
    POTENTIAL,
    "lost",
    "hibernating",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "need_attention",
    "promising",
    "new",
    "potential_loyalist",
    "loyal",
    "champions",
)
_RFM_8CLASS_KEYS = (
    POTENTIAL,
    "general_retain",
    "general_keep",
    "general_develop",
    "general_value",
    "important_retain",
    "important_keep",
    "important_develop",
    "important_value",
)

_QUINTILES = (0.2, 0.4, 0.6, 0.8)


def rfm_scores(snapshot: pd.DataFrame, *, config: Mapping[str, Any]) -> pd.DataFrame:
    """Quintile scores 1-5 for recency, frequency and monetary value, and the RFM code.

    Scores are computed over the customers who bought. The four quintile edges of each
    measure are ``numpy.quantile`` at 20/40/60/80%, and a customer's score is one plus the
    number of edges strictly below their value (recency is negated first, so the most recent
    customers score 5). Equal values always get equal scores, whatever the row order. When
    ties make edges coincide (many one-time buyers), some scores cannot occur; the others
    keep their meaning ("score s is above s-1 of the quintile edges") and a warning names
    the scores that occur.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot.
    config : mapping
        The merged config; uses section ``rfm`` (``recency_column``, ``frequency_column``,
        ``monetary_column``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``snapshot``: ``R``, ``F``, ``M`` and ``FM`` (``(F + M) / 2`` rounded
        half up) as nullable integers, and ``RFM``, the three scores as text (``"545"``).
        All are missing for potential customers.

    Warns
    -----
    UserWarning
        When a measure's ties leave fewer than five possible scores.
    """
    return _rfm_scores_and_edges(snapshot, config=config)[0]


def _rfm_scores_and_edges(
    snapshot: pd.DataFrame, *, config: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, list[float]], dict[str, list[int]]]:
    """:func:`rfm_scores`, each measure's four quintile edges in its own units (recency in
    days, so the R edges run from the most days down) and the scores that can occur."""
    section = config_section(config, "rfm")
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    measures = {
        "R": -numeric_column(snapshot, section["recency_column"], scheme="rfm"),
        "F": numeric_column(snapshot, section["frequency_column"], scheme="rfm"),
        "M": numeric_column(snapshot, section["monetary_column"], scheme="rfm"),
    }
    scores = pd.DataFrame(index=snapshot.index)
    edges: dict[str, list[float]] = {}
    possible: dict[str, list[int]] = {}
    for letter, values in measures.items():
        score = np.zeros(len(snapshot), dtype=np.int64)
        score[buyers], letter_edges, possible[letter] = _quintile_scores(
            values[buyers], label=letter
        )
        # R was scored on minus the days: its edges are told back in days.
        edges[letter] = [-e if letter == "R" else e for e in letter_edges]
        scores[letter] = pd.Series(score, index=snapshot.index, dtype="Int64").mask(~buyers)
    scores["FM"] = (scores["F"] + scores["M"] + 1) // 2
    text = {letter: scores[letter].astype("string") for letter in "RFM"}
    scores["RFM"] = text["R"] + text["F"] + text["M"]
    return scores, edges, possible


def _quintile_scores(
    values: np.ndarray, *, label: str
) -> tuple[np.ndarray, list[float], list[int]]:
    """1 + the number of quintile edges strictly below each value, the edges and the scores
    that can occur; warns when ties leave fewer than five."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), [], []
    edges = np.quantile(values, _QUINTILES)
    scores = 1 + np.searchsorted(edges, values, side="left")
    # Just above each distinct edge the score jumps to 1 + the edges at or below it.
    possible = sorted({1, *(int(k) + 1 for k in np.searchsorted(edges, edges, side="right"))})
    if len(possible) < 5:
        warnings.warn(
            f"rfm: {label} has too many tied values among {len(values):,} buyers to make five "
            f"quintiles (edges {np.round(edges, 2).tolist()}); only scores {possible} can "
            f"occur. Ties are kept together, so each score still means 'above that many "
            f"quintile edges'.",
            UserWarning,
            stacklevel=4,
        )
    return scores.astype(np.int64), [float(e) for e in edges], possible


def _tie_notes(possible: Mapping[str, list[int]]) -> dict[str, str]:
    """The report's note on the measures whose ties leave fewer than five scores."""
    tied = {letter: scores for letter, scores in possible.items() if 0 < len(scores) < 5}
    if not tied:
        return {}
    return {
        "note_zh": "；".join(
            f"{letter} 的并列值太多，分不出五个分位，只会出现 {'、'.join(map(str, s))} 分"
            "（并列的客户得分相同）"
            for letter, s in tied.items()
        )
        + "。",
        "note_en": " ".join(
            f"{letter} has too many tied values for five quintiles: only scores "
            f"{', '.join(map(str, s))} occur (tied customers share a score)."
            for letter, s in tied.items()
        ),
    }


def rfm_named(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """The 11 named RFM segments (Champions ... Lost) from R and FM scores, plus potential.

    The segment of a buyer is a cell of a 5 x 5 grid indexed by R score and FM score
    (config ``rfm_named.grid``), the common RFM segment map as data rather than code.
    Customers who never bought are ``potential`` (潜在（未购买）). The segments are not
    ordered by value (Can't lose and New are not comparable), so ``ordered`` is False.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot; the ``rfm`` columns give the R, F and M scores.
    config : mapping
        Sections ``rfm``, ``rfm_named`` and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
        ``details`` holds the ``scores``, each measure's ``quintile_edges`` (recency in days)
        and ``possible_scores``, and a note (``note_zh``, ``note_en``) when ties leave a
        measure fewer than five scores.
    """
    section = config_section(config, "rfm_named")
    scores, edges, possible = _rfm_scores_and_edges(snapshot, config=config)
    grid = _rfm_grid(section.get("grid"))
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    r = scores["R"].fillna(0).to_numpy(dtype=np.int64)
    fm = scores["FM"].fillna(0).to_numpy(dtype=np.int64)
    keys = _looked_up(grid, (r, fm), buyers=buyers)
    return rule_segmentation(
        "rfm_named",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_RFM_NAMED_KEYS,
        ordered=False,
        details={
            "scores": scores,
            "quintile_edges": edges,
            "possible_scores": possible,
            **_tie_notes(possible),
        },
    )


def _looked_up(table: np.ndarray, at: Any, *, buyers: np.ndarray) -> pd.Categorical:
    """``numpy.where(buyers, table[at], POTENTIAL)`` as a Categorical: the small table's keys
    are coded once and each customer's code looked up, where a text per customer would be
    looked up, then compared with every segment key by :func:`make_segmentation`."""
    codes, keys = pd.factorize(np.append(table.ravel(), np.array([POTENTIAL], dtype=object)))
    table_codes = codes[:-1].reshape(table.shape)
    chosen = np.where(buyers, table_codes[at], codes[-1]).astype(np.int64, copy=False)
    return pd.Categorical.from_codes(chosen, categories=pd.Index(keys, dtype=object))


def _rfm_grid(grid: Any) -> np.ndarray:
    """The config grid as a 6 x 6 lookup array indexed by [R, FM] (row and column 0 unused)."""
    lookup = np.full((6, 6), POTENTIAL, dtype=object)
    if not isinstance(grid, Mapping) or sorted(int(r) for r in grid) != [1, 2, 3, 4, 5]:
        raise SegmentationInputError(
            "config rfm_named.grid: expected rows for R scores 1 to 5, each a list of five "
            f"segment keys (FM 1..5), found {grid!r}; fix the override or remove it."
        )
    for r, row in grid.items():
        if not isinstance(row, Sequence) or len(row) != 5:
            raise SegmentationInputError(
                f"config rfm_named.grid[{r}]: expected five segment keys (FM 1..5), found {row!r}."
            )
        unknown = sorted(set(row) - set(_RFM_NAMED_KEYS[1:]))
        if unknown:
            raise SegmentationInputError(
                f"config rfm_named.grid[{r}]: unknown segments {unknown}; use one of "
                f"{list(_RFM_NAMED_KEYS[1:])}."
            )
        lookup[int(r), 1:] = list(row)
    return lookup


def rfm_8class(
    snapshot: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    random_state: int = 0,
    previous: Segmentation | None = None,
) -> Segmentation:
    """The Chinese eight-class RFM scheme (重要价值客户 ... 一般挽留客户), plus potential.

    Each buyer's recency, frequency and monetary value (the ``rfm`` columns) is compared
    with the buyers' mean or median (config ``rfm_8class.center``): R is high (H) when the
    days since the last purchase are fewer than the centre, F and M when strictly more. The
    three letters pick the class from ``rfm_8class.classes`` (``HHH`` is 重要价值客户,
    ``LLH`` 重要挽留客户). Customers who never bought are ``potential``. Unordered.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The customer snapshot; the ``rfm`` columns are compared with their centres.
    config : mapping
        Sections ``rfm``, ``rfm_8class`` and ``playbook``.
    random_state, previous
        Unused, for the common scheme interface: the rules are deterministic.

    Returns
    -------
    Segmentation
        ``details["centers"]`` holds the centre of each measure.
    """
    section = config_section(config, "rfm_8class")
    measures = config_section(config, "rfm")
    center = section.get("center", "mean")
    if center not in ("mean", "median"):
        raise SegmentationInputError(
            f"config rfm_8class.center: expected 'mean' or 'median', found {center!r}."
        )
    classes = dict(section.get("classes") or {})
    codes = [r + f + m for r in "LH" for f in "LH" for m in "LH"]  # index = 4R + 2F + M
    if set(classes) != set(codes) or not set(classes.values()) <= set(_RFM_8CLASS_KEYS[1:]):
        raise SegmentationInputError(
            "config rfm_8class.classes: expected the eight codes HHH..LLL, each mapped to one "
            f"of {list(_RFM_8CLASS_KEYS[1:])}; found {classes!r}."
        )
    buyers = ~snapshot["is_potential"].to_numpy(dtype=bool)
    values = {
        "R": numeric_column(snapshot, measures["recency_column"], scheme="rfm_8class"),
        "F": numeric_column(snapshot, measures["frequency_column"], scheme="rfm_8class"),
        "M": numeric_column(snapshot, measures["monetary_column"], scheme="rfm_8class"),
    }
    reduce = np.mean if center == "mean" else np.median
    centers = {
        k: float(reduce(v[buyers])) if buyers.any() else float("nan") for k, v in values.items()
    }
    code_index = (
        4 * (values["R"] < centers["R"])
        + 2 * (values["F"] > centers["F"])
        + (values["M"] > centers["M"])
    )
    lookup = np.array([classes[code] for code in codes], dtype=object)
    keys = _looked_up(lookup, code_index, buyers=buyers)
    return rule_segmentation(
        "rfm_8class",
        section=section,
        config=config,
        snapshot=snapshot,
        keys=keys,
        segment_keys=_RFM_8CLASS_KEYS,
        ordered=False,
        details={"center": center, "centers": centers},
    )
