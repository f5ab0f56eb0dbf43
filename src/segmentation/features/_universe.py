"""The customers a snapshot has a row for, and where each order row's customer is among them.

Ids are matched by the cheapest route the data allow: a categorical's codes as they are, a
merge of sorted ids as fixed-width keys, and hashing only as the last resort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.arrays import arrow_text, factorized, strictly_increasing
from segmentation.features._attributes import Listed

__all__ = ["customer_universe"]


def customer_universe(
    customer_id: pd.Series, in_window: np.ndarray, listed: Listed
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Sorted ids of every known customer, each in-window order row's position in them, and
    each known customer's row in the customers table (-1 when not listed)."""
    # Factorise the full column once and filter the integer codes, not the strings.
    all_codes, ids = factorized(customer_id)
    row_code = all_codes[in_window].astype(np.intp)  # numpy indexes with intp
    id_strings = arrow_text(ids)
    all_known = listed.strictly_sorted and len(listed.ids) > 0 and bool(listed.known.all())
    if all_known:
        # Every listed customer is known by now: when every id is listed, the universe is the
        # customers table, whichever of them have orders.
        id_row = _listed_rows(id_strings, np.ones(len(ids), dtype=bool), listed)
        if bool((id_row >= 0).all()):
            universe = pd.Index(pd.arrays.ArrowStringArray(listed.ids), name="customer_id")
            table_rows = np.arange(len(listed.ids), dtype=np.int64)
            return universe, id_row[row_code], table_rows
    seen = np.bincount(row_code, minlength=len(ids)) > 0
    from_orders = id_strings.filter(pa.array(seen))
    # Where each ordering customer is in the customers table, by the cheapest route.
    listed_row = id_row[seen] if all_known else _listed_rows(id_strings, seen, listed)
    # Per distinct id, its customer's position in the universe: one gather carries it to rows.
    code_position = np.full(len(ids), -1, dtype=np.int64)
    if listed.strictly_sorted and bool((listed_row >= 0).all()):
        # Every ordering customer is listed and the list is sorted (ingest writes it so): the
        # universe is the listed customers known by now or with orders, already in order.
        in_universe = listed.known.copy()
        in_universe[listed_row] = True
        position = np.cumsum(in_universe) - 1
        code_position[seen] = position[listed_row]
        everyone = bool(in_universe.all())
        kept_ids = listed.ids if everyone else listed.ids.filter(pa.array(in_universe))
        universe = pd.Index(pd.arrays.ArrowStringArray(kept_ids), name="customer_id")
        return universe, code_position[row_code], np.flatnonzero(in_universe)
    listed_only_rows = np.flatnonzero(listed.known)
    if len(listed_row):
        is_ordering = np.zeros(len(listed.known), dtype=bool)
        is_ordering[listed_row[listed_row >= 0]] = True
        listed_only_rows = listed_only_rows[~is_ordering[listed_only_rows]]
    listed_only = listed.ids.take(pa.array(listed_only_rows, type=pa.int64()))
    known = pa.concat_arrays([from_orders, listed_only])
    known_row = np.concatenate([listed_row, listed_only_rows])
    # The universe is the sorted union of two disjoint lists; merge them when both are sorted
    # (coded ids usually are), else sort the ids and carry the row codes along by rank.
    rank = _merged_ranks(from_orders, listed_only, listed_sorted=listed.strictly_sorted)
    if rank is None:
        sort_order = pc.sort_indices(known).to_numpy()
        rank = np.empty(len(known), dtype=np.int64)
        rank[sort_order] = np.arange(len(known), dtype=np.int64)
    else:
        sort_order = np.empty(len(known), dtype=np.int64)
        sort_order[rank] = np.arange(len(known), dtype=np.int64)
    code_position[seen] = rank[: len(from_orders)]
    universe = pd.Index(
        pd.arrays.ArrowStringArray(known.take(pa.array(sort_order))), name="customer_id"
    )
    return universe, code_position[row_code], known_row[sort_order]


def _listed_rows(id_strings: pa.Array, seen: np.ndarray, listed: Listed) -> np.ndarray:
    """Row in the customers table of each of the ids ``seen`` picks (-1 when not listed).

    Hashing a million ids costs a quarter of a second, so it is the last resort: coded ids
    whose categories are the customers table's ids need no lookup at all, and sorted ids (a
    categorical's categories usually are) are merged with the sorted table.
    """
    if id_strings.equals(listed.ids):
        return np.flatnonzero(seen)
    from_orders = id_strings if bool(seen.all()) else id_strings.filter(pa.array(seen))
    if len(from_orders) == 0:
        return np.zeros(0, dtype=np.int64)
    if listed.strictly_sorted and strictly_increasing(from_orders):
        found = _sorted_positions(from_orders, listed.ids)
        if found is not None:
            return found
    positions = pc.index_in(from_orders, value_set=listed.ids)
    return pc.fill_null(positions, -1).to_numpy().astype(np.int64)


def _sorted_positions(needles: pa.Array, haystack: pa.Array) -> np.ndarray | None:
    """Position of each needle in ``haystack`` (-1 when absent), both strictly increasing, by
    merging fixed-width keys; None when the strings have no such keys."""
    keys = _fixed_width_keys([haystack, needles])
    if keys is None:
        return None
    haystack_keys, needle_keys = keys
    _, in_merge = _merge_positions(haystack_keys, needle_keys)
    # The haystack ids before a needle in the merge; an equal one comes just before it.
    candidate = in_merge - np.arange(len(needle_keys)) - 1
    hit = candidate >= 0
    hit[hit] = haystack_keys[candidate[hit]] == needle_keys[hit]
    return np.where(hit, candidate, -1).astype(np.int64)


def _merged_ranks(first: pa.Array, second: pa.Array, *, listed_sorted: bool) -> np.ndarray | None:
    """Rank of every id of ``first`` then ``second`` (disjoint) in their sorted union, merged
    without a sort when both are strictly increasing; None when they are not."""
    if len(second) == 0 and strictly_increasing(first):
        return np.arange(len(first), dtype=np.int64)
    if not listed_sorted or not strictly_increasing(first):
        return None
    keys = _fixed_width_keys([first, second])
    if keys is None:
        return None
    return np.concatenate(_merge_positions(*keys))


def _merge_positions(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the elements of two sorted arrays land when merged, those of ``first`` before
    equal ones of ``second``: numpy's stable sort (timsort) merges two sorted runs in one
    linear pass, several times faster than a binary search per element."""
    from_second = np.argsort(np.concatenate([first, second]), kind="stable") >= len(first)
    return np.flatnonzero(~from_second), np.flatnonzero(from_second)


def _fixed_width_keys(arrays: list[pa.Array]) -> list[np.ndarray] | None:
    """Keys that order and compare as the strings do bytewise, one array per input: unsigned
    big-endian integers for ids of up to 8 bytes, else numpy bytes of one common width.

    Ids are right-padded with NUL bytes, which keeps their order as long as no id contains a
    NUL; None when one does (or an id is missing), and the caller hashes instead.
    """
    layouts = []
    for strings in arrays:
        if strings.null_count:
            return None
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)
        offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
        data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        if bool((data == 0).any()):
            return None
        layouts.append((offsets - offsets[0], data))
    width = max((int(np.diff(o).max(initial=0)) for o, _ in layouts), default=0)
    width = max(width, 1)
    padded_width = 8 if width <= 8 else width
    keys = []
    for offsets, data in layouts:
        n = len(offsets) - 1
        lengths = np.diff(offsets)
        matrix = np.zeros((n, padded_width), dtype=np.uint8)
        if n and bool((lengths == lengths[0]).all()):
            matrix[:, : lengths[0]] = data.reshape(n, int(lengths[0]))
        elif n:
            row = np.repeat(np.arange(n, dtype=np.int64), lengths)
            column = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
            matrix[row, column] = data
        if padded_width == 8:
            keys.append(matrix.view(">u8").ravel().astype(np.uint64))
        else:
            keys.append(matrix.view(f"S{padded_width}").ravel())
    return keys
