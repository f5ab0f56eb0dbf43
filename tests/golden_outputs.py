"""Golden outputs: the files a refactor must leave byte-identical.

For the demo export, CDNOW (1998-06) and Online Retail (2011-11) this runs what a user runs,
``segmentation ingest``, ``segmentation segment`` and ``segmentation report``, with a fixed
pseudonymisation key, and records the sha256 of ``segments.csv``, ``quarantine.csv`` and
``quality.json`` and the numbers of ``manifest.json`` (timings, paths and versions aside).

``python tests/golden_outputs.py`` records them in ``tests/golden/outputs.json``; do that only
for a change that is meant to change an output, and say which in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "outputs.json"
ONLINE_RETAIL = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv.gz"
# A fixed key, so pseudonymous ids are the same on every machine.
GOLDEN_PII_KEY = "golden-output-test-key"

# name -> (input or built-in dataset, report month, as-of day for `segment`, report language;
# the browser test opens these same reports, one of them in English)
# Online Retail's segments.csv depends on the CPU for two customers: no model finds dropout
# on its purchase days, so Pareto/NBD's s sits near 0 on a flat ridge, where the optimiser
# stops varies with the CPU, and customers 12784 and 16438 lie within 4e-6 and 1.5e-5 of the
# high CLV tier's cut. The hashes here are those of the machines of adfc3d5 and of 2026-12-07
# (AMD EPYC with AVX2); one machine of 2026-12-06 moved both to the other tier (1c5ec4e).
CASES: dict[str, dict[str, str]] = {
    "demo": {"dataset": "demo", "month": "2026-10", "as_of": "2026-10-31", "lang": "zh"},
    "cdnow": {"dataset": "cdnow", "month": "1998-06", "as_of": "1998-06-30", "lang": "zh"},
    "online_retail": {
        "input": str(ONLINE_RETAIL),
        "month": "2011-11",
        "as_of": "2011-11-30",
        "lang": "en",
    },
}
# The manifest's numbers: everything but timings, paths, versions and the commit.
MANIFEST_KEYS = ("month", "as_of", "quality", "notebooks", "outputs")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _input(case: dict[str, str], work: Path) -> Path:
    """The case's export as a path relative to ``work`` (the current folder), so the paths
    that quality.json and quarantine.csv record are the same on every machine."""
    from segmentation.datasets import cdnow_file, write_demo_export

    if case.get("dataset") == "demo":
        write_demo_export(work / "demo-export", seed=0)
        return Path("demo-export")
    real = Path(case["input"]) if "input" in case else cdnow_file()
    link = Path(real.name)
    (work / link).symlink_to(real)
    return link


def collect(name: str, work: Path) -> dict[str, Any]:
    """Run ingest, segment and report for one case in ``work`` and return what to compare."""
    from segmentation.cli import main
    from segmentation.report import build_report

    case = CASES[name]
    os.environ["SEGMENTATION_PII_KEY"] = GOLDEN_PII_KEY
    source = _input(case, work)
    outputs: dict[str, Any] = {}
    assert main(["ingest", str(source), "--out", str(work / "ingest")]) == 0
    for file in ("quarantine.csv", "quality.json"):
        outputs[f"ingest/{file}"] = _sha256(work / "ingest" / file)
    assert main(["segment", str(source), "--as-of", case["as_of"], "--out", str(work / "seg")]) == 0
    outputs["segment/segments.csv"] = _sha256(work / "seg" / "segments.csv")
    result = build_report(
        input_path=source if "input" in case else None,
        dataset=case.get("dataset", "demo"),
        month=case["month"],
        lang=case["lang"],
        reports_dir=work / "reports",
        notebooks_dir=ROOT / "notebooks",
    )
    for file in ("segments.csv", "quarantine.csv"):
        outputs[f"report/{file}"] = _sha256(result.out_dir / file)
    manifest = json.loads((result.out_dir / "manifest.json").read_text(encoding="utf-8"))
    outputs["report/manifest.json"] = {key: manifest[key] for key in MANIFEST_KEYS}
    return outputs


def main(argv: list[str]) -> int:
    import tempfile

    names = argv or list(CASES)
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
    # One folder for the whole run: papermill keeps the working folder of its last run and
    # returns to it, so no case's folder may be deleted before the last case has run.
    with tempfile.TemporaryDirectory() as root:
        for name in names:
            if name == "online_retail" and not ONLINE_RETAIL.exists():
                print(f"skipping {name}: {ONLINE_RETAIL} is absent")
                continue
            folder = Path(root) / name
            folder.mkdir()
            cwd = Path.cwd()
            os.chdir(folder)
            try:
                recorded[name] = collect(name, folder)
            finally:
                os.chdir(cwd)
            print(f"recorded {name}")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(recorded, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    raise SystemExit(main(sys.argv[1:]))
