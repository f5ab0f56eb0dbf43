"""The report as a reader sees it: opened in headless Chromium with the network blocked.

Each golden case's report (demo in Chinese, CDNOW in Chinese, Online Retail 2011-11 in
English; built once per session by ``golden_run``) is opened at 1,400 x 900 and at a 390-px
phone width, with every request other than the file itself aborted and recorded. The test
asserts that nothing left the file, nothing was logged as an error, no table is wider than the
page, every chart is drawn at twice its shown size and the first screen shows the summary:
the recommendation, the KPI strip and the actions.

"Wider than the page" means a table's box reaching past the viewport's edge, or the page
scrolling sideways. A table whose content is wider than its box scrolls inside that box (the
stylesheet makes each table its own scroll box); such tables are counted in ``page.json``
for a person to judge, not failed.

Screenshots (first screen, full page, phone first screen) and ``page.json`` (page heights,
the summary's boxes, what was blocked) are written to ``<report>/screenshots/`` and copied to
``reports/screenshots/<case>-<lang>/`` in the project (gitignored) for a person to open.

Needs Playwright (``pip install -e '.[test]'``; ``make test`` installs it) and a Chromium
(Debian's ``chromium``; ``make test`` installs it with apt-get as root). Without either the
browser tests skip with the reason; Playwright's own browser download is never used.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, GoldenRun

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# The first-screen summary: <div id="kit-summary"> holds these, each marked data-kit="...".
FIRST_SCREEN = ("recommendation", "kpis", "actions")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Everything the assertions and page.json need, measured in the page at scroll 0.
MEASURE = """
(names) => {
  const doc = document.documentElement;
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top + window.scrollY, bottom: r.bottom + window.scrollY,
            left: r.left, right: r.right, width: r.width, height: r.height};
  };
  const summary = {};
  for (const name of names) summary[name] = box(document.querySelector(`[data-kit="${name}"]`));
  const tables = [...document.querySelectorAll("table")].map((t, index) => {
    const r = t.getBoundingClientRect();
    return {index, left: r.left, right: r.right, width: r.width,
            scrolls_inside: t.scrollWidth > t.clientWidth + 1,
            text: t.innerText.slice(0, 60)};
  });
  const images = [...document.images].map((img, index) => ({
    index, natural_width: img.naturalWidth, shown_width: img.getBoundingClientRect().width}));
  // A share printed past its own cell runs into the change column beside it.
  const shares_outside_their_cell = [...document.querySelectorAll("#kit-summary .ks-share")]
    .filter((s) => s.getBoundingClientRect().right > s.closest("td").getBoundingClientRect().right + 0.5)
    .map((s) => s.closest("tr").dataset.segment);
  return {viewport_width: doc.clientWidth, page_width: doc.scrollWidth, shares_outside_their_cell,
          page_height: doc.scrollHeight, lang: doc.lang,
          font_family: getComputedStyle(document.body).fontFamily,
          summary, tables, images};
}
"""


def _chromium_executable(playwright: Any) -> str:
    """The system's Chromium, else one Playwright installed earlier; skips when neither."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    bundled = Path(playwright.chromium.executable_path)
    if bundled.is_file():
        return str(bundled)
    pytest.skip(
        "no Chromium: `make test` installs Debian's chromium with apt-get as root; "
        f"none of {', '.join(CHROMIUM_NAMES)} is on PATH"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module; skips with the reason when none can be had."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is a test extra: `make test` installs it (pip install -e '.[test]')",
    )
    with sync_api.sync_playwright() as playwright:
        executable = _chromium_executable(playwright)
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class _Visit:
    """One page load with the network blocked: what it requested and what it logged."""

    def __init__(self, browser: Any, index_html: Path, viewport: dict[str, int]) -> None:
        self.url = index_html.resolve().as_uri()
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.context = browser.new_context(
            viewport=viewport, device_scale_factor=1, is_mobile=viewport == PHONE
        )
        self.page = self.context.new_page()
        self.page.route("**/*", self._only_the_file)
        self.page.on("request", self._record_request)
        self.page.on("console", self._record_console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.goto(self.url, wait_until="load", timeout=60_000)
        self.page.evaluate("document.fonts.ready.then(() => true)")

    def _only_the_file(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            route.abort()

    def _record_request(self, request: Any) -> None:
        # data: URIs are the embedded images and icons: part of the file, not requests out.
        if request.url != self.url and not request.url.startswith("data:"):
            self.outside.append(request.url)

    def _record_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def measure(self) -> dict[str, Any]:
        return dict(self.page.evaluate(MEASURE, list(FIRST_SCREEN)))

    def close(self) -> None:
        self.context.close()


def _screenshots(
    browser: Any, index_html: Path, folder: Path
) -> tuple[dict[str, Any], dict[str, Any], list[_Visit]]:
    """Open ``index_html`` on a desktop and a phone, save the screenshots into ``folder``;
    what each measured, and both visits (closed)."""
    folder.mkdir(parents=True, exist_ok=True)
    desktop = _Visit(browser, index_html, DESKTOP)
    desktop_page = desktop.measure()
    desktop.page.screenshot(path=folder / "first-screen-1400.png")
    desktop.page.screenshot(path=folder / "full-page-1400.png", full_page=True)
    desktop.close()
    phone = _Visit(browser, index_html, PHONE)
    phone_page = phone.measure()
    phone.page.screenshot(path=folder / "first-screen-390.png")
    phone.close()
    return desktop_page, phone_page, [desktop, phone]


def _page_record(
    run: GoldenRun, desktop: dict[str, Any], phone: dict[str, Any], visits: list[_Visit]
) -> dict[str, Any]:
    """What page.json records for a person: sizes, heights, the summary's boxes, requests."""
    return {
        "report": str(run.report_dir / "index.html"),
        "lang": run.lang,
        "index_html_bytes": (run.report_dir / "index.html").stat().st_size,
        "desktop": {
            "viewport": DESKTOP,
            "page_height": desktop["page_height"],
            "page_width": desktop["page_width"],
            "tables": len(desktop["tables"]),
            "tables_scrolling_inside": [t for t in desktop["tables"] if t["scrolls_inside"]],
            "first_screen": desktop["summary"],
        },
        "phone": {
            "viewport": PHONE,
            "page_height": phone["page_height"],
            "page_width": phone["page_width"],
            "tables_scrolling_inside": sum(t["scrolls_inside"] for t in phone["tables"]),
        },
        "requests_outside_the_file": sorted({u for v in visits for u in v.outside}),
        "console_errors": [e for v in visits for e in v.console_errors + v.page_errors],
    }


@pytest.mark.parametrize(
    "name", ["demo", "cdnow", pytest.param("online_retail", marks=pytest.mark.shared)]
)
def test_the_report_is_offline_fits_the_page_and_answers_on_the_first_screen(
    name: str, golden_run: Callable[[str], GoldenRun], browser: Any
) -> None:
    run = golden_run(name)
    folder = run.report_dir / "screenshots"
    desktop, phone, visits = _screenshots(browser, run.report_dir / "index.html", folder)
    record = _page_record(run, desktop, phone, visits)
    (folder / "page.json").write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    shutil.copytree(
        folder, ROOT / "reports" / "screenshots" / f"{name}-{run.lang}", dirs_exist_ok=True
    )

    assert record["requests_outside_the_file"] == []
    assert record["console_errors"] == []
    # The page declares its language as a BCP 47 tag: Simplified Chinese is zh-CN.
    assert desktop["lang"] == {"zh": "zh-CN", "en": "en"}[run.lang]
    assert '"WenQuanYi Micro Hei"' in desktop["font_family"]
    assert '"Noto Sans CJK SC"' in desktop["font_family"]
    # No table wider than the page, on the desktop (1,400 px) or the phone (390 px), and
    # the desktop page does not scroll sideways.
    for measured in (desktop, phone):
        width = measured["viewport_width"]
        too_wide = [t for t in measured["tables"] if t["left"] < 0 or t["right"] > width]
        assert too_wide == [], f"tables wider than the {width}-px page"
        assert measured["shares_outside_their_cell"] == [], width
    assert desktop["page_width"] <= desktop["viewport_width"]
    # Charts are drawn at twice the pixels they are shown at (retina PNGs).
    blurry = [i for i in desktop["images"] if i["natural_width"] < 2 * i["shown_width"] - 1]
    assert desktop["images"] and blurry == []
    # The summary is on the first screen, without scrolling.
    for part in FIRST_SCREEN:
        found = desktop["summary"][part]
        assert found is not None, f'no [data-kit="{part}"] in the report'
        assert found["height"] > 0 and found["bottom"] <= DESKTOP["height"], (part, found)


def test_exported_html_names_no_outside_resource_and_embeds_palette_pngs(tmp_path: Path) -> None:
    """Without a browser: the exported file has no script, style or font from elsewhere, sets
    its language, carries the CJK font stack and shrinks a 2x chart to a close palette PNG
    (a transparent one stays as it is)."""
    import re

    import nbformat
    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from segmentation.report._html import export_html

    figure = Figure(figsize=(4, 3), dpi=200)  # what retina draws: 2x a 100-dpi figure
    axes = figure.add_subplot()
    axes.bar(["high", "middle", "low"], [120, 45, 9], color=["#1f77b4", "#ff7f0e", "#2ca02c"])
    axes.plot([0, 1, 2], [100, 60, 20], color="black")
    pngs = [io.BytesIO(), io.BytesIO()]
    figure.savefig(pngs[0], format="png")
    figure.savefig(pngs[1], format="png", transparent=True)
    original, transparent = (png.getvalue() for png in pngs)
    notebook = nbformat.v4.new_notebook()
    chart = nbformat.v4.new_code_cell("chart")
    chart.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"},
            metadata={"image/png": {"width": 400, "height": 300}},
        )
        for png in (original, transparent)
    ]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Report\n\n本月推荐 value tiers."), chart]
    path = tmp_path / "index.html"
    export_html(notebook, path, title="Report", lang="en")
    html = path.read_text(encoding="utf-8")

    assert re.findall(r"<script[^>]*\bsrc=|<link[^>]*\bhref=|@import|@font-face", html) == []
    assert re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html) == []
    assert re.findall(r"import\(", html) == []  # no module loaded at run time (mermaid)
    assert '<html lang="en">' in html
    assert '"WenQuanYi Micro Hei"' in html and '"Noto Sans CJK SC"' in html
    images = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"[^>]*>', html)
    assert len(images) == 2
    assert all('width="400"' in tag for tag in re.findall(r"<img[^>]*>", html))
    assert base64.b64decode(images[1]) == transparent
    embedded = base64.b64decode(images[0])
    assert len(embedded) < len(original) / 2
    with Image.open(io.BytesIO(embedded)) as palette, Image.open(io.BytesIO(original)) as full:
        assert palette.mode == "P" and palette.size == full.size == (800, 600)
        difference = np.abs(
            np.asarray(palette.convert("RGB"), dtype=int)
            - np.asarray(full.convert("RGB"), dtype=int)
        )
    assert difference.mean() < 2 and difference.max() <= 16
