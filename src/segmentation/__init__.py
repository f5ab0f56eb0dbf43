"""Customer segmentation research kit.

Data flows one way, one module per step::

    datasets / ingest -> features -> schemes (rules, clustering, clv) -> compare -> report

Import the submodules you need (``from segmentation import ingest``); importing the package
itself does nothing but define the version.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
