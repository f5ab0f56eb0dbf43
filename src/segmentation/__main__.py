"""``python -m segmentation``: the same command line as ``segmentation``."""

from segmentation.cli import main

raise SystemExit(main())
