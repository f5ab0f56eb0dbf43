"""``python -m benchmarks`` (what ``make bench`` runs), from the project's root."""

from benchmarks._command import main

raise SystemExit(main())
