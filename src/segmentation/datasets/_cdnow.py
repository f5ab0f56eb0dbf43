"""The real CDNOW transactions (Fader & Hardie), read from the files inside the ``lifetimes``
wheel without importing ``lifetimes``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

__all__ = ["cdnow_file", "load_cdnow"]


def cdnow_file(*, sample: bool = False) -> Path:
    """Path of a CDNOW file inside the installed ``lifetimes`` wheel.

    Parameters
    ----------
    sample : bool, default False
        ``True`` for ``CDNOW_sample.txt`` (the 1-in-10 sample of 2,357 customers used in the
        papers), ``False`` for ``CDNOW_master.txt`` (all 23,570 customers).
    """
    name = "CDNOW_sample.txt" if sample else "CDNOW_master.txt"
    # Not lifetimes.datasets: it imports pkg_resources, which setuptools>=82 no longer ships.
    # find_spec locates the wheel without importing lifetimes, whose import changes pandas
    # options and warning filters.
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("lifetimes is not installed; run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "datasets" / name


def load_cdnow(*, sample: bool = False) -> pd.DataFrame:
    """Read the real CDNOW transactions shipped in the ``lifetimes`` wheel.

    Parameters
    ----------
    sample : bool, default False
        Read the 1-in-10 sample (6,919 rows, 2,357 customers) instead of the master file
        (69,659 rows, 23,570 customers).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (text, as in the file), ``date`` (datetime), ``number_of_cds``
        (int) and ``dollar_value`` (float); the sample also has ``customer_index``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy
    Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
    """
    path = cdnow_file(sample=sample)
    # The master file has a header line; the sample has none.
    names = (
        ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]
        if sample
        else None
    )
    frame = pd.read_csv(
        path,
        sep=r"\s+",
        header=None if sample else 0,
        names=names,
        dtype={"customer_id": "string", "customer_index": "string", "date": "string"},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["number_of_cds"] = frame["number_of_cds"].astype("int64")
    frame["dollar_value"] = frame["dollar_value"].astype("float64")
    return frame
