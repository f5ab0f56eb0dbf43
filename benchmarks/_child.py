"""``python -m benchmarks._child SPEC.json``: one task of a run (generate, prepare or a stage)
in a fresh interpreter, so that its peak memory is its own; nothing imports this module."""

import sys

from benchmarks._measure import child_main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
