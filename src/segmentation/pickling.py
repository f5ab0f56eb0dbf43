"""Pickling the kit's results compactly: each pandas index written once, however many Series
share it."""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO

import pandas as pd

__all__ = ["pickle_into"]


def pickle_into(handle: BinaryIO, value: Any) -> None:
    """Pickle ``value`` into the open ``handle`` (protocol 5), each pandas index once.

    Parameters
    ----------
    handle : binary file
        Open for writing; read back with :func:`pickle.load`.
    value : object
        Plain data: frames, Series, dataclasses, dicts.
    """
    _SharedIndexPickler(handle, protocol=5).dump(value)


class _SharedIndexPickler(pickle.Pickler):
    """A pickler that writes a Series as its values and its index object.

    pandas pickles a Series' index twice, the second time as a fresh slice that no memo can
    share: a million customer ids cost 15 MB per Series, and an analysis holds dozens of
    Series on the same ids. Written as (values, index, name), each index is written once and
    every Series on it refers back to it, so reading it back shares one index object too.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is pd.Series:
            return _series, (obj.array, obj.index, obj.name)
        return NotImplemented


def _series(values: Any, index: pd.Index, name: Any) -> pd.Series:
    """Rebuild a Series written by :class:`_SharedIndexPickler`."""
    return pd.Series(values, index=index, name=name, copy=False)
