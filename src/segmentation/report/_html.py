"""index.html: the executed notebooks joined into one, in the report's language, with a table of
contents, exported without code.

Markdown cells are written once per language and tagged ``lang-zh`` or ``lang-en``; the
report keeps the cells of its language (and every untagged cell), so its headings, text and
contents are in one language.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from segmentation.i18n import HTML_LANG, LANGUAGES
from segmentation.report._data import source_label

__all__ = ["BEFORE_CONTENTS", "LANG_TAG", "combine_notebooks", "export_html", "report_title"]

#: The tag of a cell written in one language: ``lang-zh``, ``lang-en``.
LANG_TAG = "lang-{lang}"

#: The tag of the cells shown between the title and the table of contents (the first screen).
BEFORE_CONTENTS = "before-contents"

# nbconvert template folder for index.html (see export_html).
_TEMPLATE = Path(__file__).with_name("templates") / "offline"


def report_title(month: str, source: str, *, lang: str) -> str:
    """The report's title: its month and the data it was computed from, by name (a file's
    name, never the full path of the machine it ran on)."""
    if lang == "zh":
        return f"客户分层月报 {month} · {source_label(source, lang)}"
    return f"Customer segmentation report {month} · {source_label(source, lang)}"


def _other_languages(lang: str) -> set[str]:
    """The tags of the cells a report in ``lang`` leaves out."""
    return {LANG_TAG.format(lang=other) for other in LANGUAGES if other != lang}


def combine_notebooks(paths: Sequence[Path], *, title: str, lang: str = "zh") -> Any:
    """Join executed notebooks into one: the title, the cells tagged ``before-contents`` (the
    first screen), a table of contents that opens on a click, then every other cell.

    Parameters
    ----------
    paths : sequence of Path
        Executed notebooks, in report order.
    title : str
        The report's title (a level-1 heading).
    lang : {"zh", "en"}

    Returns
    -------
    nbformat.NotebookNode
        Cells of every notebook in order, minus papermill's injected-parameters cells, the
        parameters cells (they are plumbing, not findings) and the cells tagged for another
        language; its metadata ``language`` is the report's HTML language (``zh-CN``, ``en``).
    """
    import nbformat

    left_out = {"parameters", "injected-parameters", *_other_languages(lang)}
    combined = nbformat.v4.new_notebook()
    headings: list[tuple[int, str]] = []
    cells = []
    first_screen = []
    for section, path in enumerate(paths, start=1):
        notebook = nbformat.read(path, as_version=4)
        # Kernel and language info come from the executed notebooks (all run on one kernel).
        combined.metadata = notebook.metadata
        for position, cell in enumerate(notebook.cells):
            tags = cell.get("metadata", {}).get("tags", [])
            if left_out.intersection(tags):
                continue
            # Each notebook numbers its own cells: ids unique across sections, and the same in
            # every run (nbconvert would otherwise replace repeats with random ones).
            cell["id"] = f"s{section}-{position}"
            if BEFORE_CONTENTS in tags:
                first_screen.append(cell)
                continue
            if cell.cell_type == "markdown":
                headings.extend(_headings(cell.source))
            cells.append(cell)
    heading = nbformat.v4.new_markdown_cell(f"# {title}")
    heading["id"] = "title"
    contents = nbformat.v4.new_markdown_cell(_contents(headings, lang=lang))
    contents["id"] = "contents"
    combined.cells = [heading, *first_screen, contents, *cells]
    combined.metadata["language"] = HTML_LANG[lang]
    return combined


def _headings(markdown: str) -> list[tuple[int, str]]:
    """The level and text of each heading of levels 1 to 3 in ``markdown``."""
    found = (re.match(r"^(#{1,3})\s+(.+?)\s*$", line) for line in markdown.splitlines())
    return [(len(match.group(1)), match.group(2)) for match in found if match]


def _contents(headings: Sequence[tuple[int, str]], *, lang: str) -> str:
    """A linked table of contents of the level-2 and level-3 headings, folded so the first
    screen stays above it; a click opens it.

    Written as HTML: markdown inside ``<details>`` would be closed before the list.
    """
    contents_title = "目录" if lang == "zh" else "Contents"
    toc = [f"<details><summary><b>{contents_title}</b></summary><ul>"]
    # Each level-2 entry stays open until the next, holding its level-3 entries in a list.
    closing: list[str] = []
    for level, text in headings:
        link = f'<a href="#{_anchor(text)}">{html.escape(text)}</a>'
        if level == 2:
            toc.extend(reversed(closing))
            toc.append(f"<li>{link}")
            closing = ["</li>"]
        elif level == 3:
            if len(closing) < 2:
                toc.append("<ul>")
                closing.append("</ul>")
            toc.append(f"<li>{link}</li>")
    toc.extend(reversed(closing))
    toc.append("</ul></details>")
    return "".join(toc)


def _anchor(heading: str) -> str:
    """The id nbconvert gives a heading: its text, spaces as hyphens, URL-quoted."""
    return quote(heading.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def export_html(notebook: Any, path: Path, *, title: str, lang: str) -> None:
    """Write ``notebook`` to ``path`` as one HTML file that requests nothing outside itself.

    Code is hidden and images are embedded, each opaque PNG reduced to a 256-colour palette
    (:func:`_palette_png`: the 2x charts then weigh less than 1x ones did). The template (``templates/offline``) extends
    JupyterLab's and drops its CDN scripts (require.js, MathJax, mermaid), which the report
    never uses and which keep a browser that cannot reach the CDN from painting; it adds a
    CJK font stack and tables that fit the page.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The combined report (:func:`combine_notebooks`).
    path : Path
        Where to write the HTML.
    title : str
        The page's ``<title>``.
    lang : {"zh", "en"}
        The report's language, written as ``<html lang>``.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=_TEMPLATE.name,
        extra_template_basedirs=[str(_TEMPLATE.parent)],
        language_code=lang,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    notebook.metadata["title"] = title
    _compact_png_outputs(notebook)
    body, _ = exporter.from_notebook_node(notebook)
    # nbconvert's language_code takes ISO 639-1 only ("zh"); the page says which Chinese.
    language = notebook.metadata.get("language", "en")
    body = re.sub(r'<html lang="[^"]*"', f'<html lang="{language}"', body, count=1)
    path.write_text(body, encoding="utf-8")


def _compact_png_outputs(notebook: Any) -> None:
    """Replace every PNG output of ``notebook`` by its palette version where that is smaller."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                data["image/png"] = _palette_png(data["image/png"])


def _palette_png(encoded: str) -> str:
    """A base64 PNG as a 256-colour palette PNG, or unchanged when it has transparency or the
    palette version is not smaller.

    Charts hold few colours besides their anti-aliased edges. On the demo report's charts an
    octree palette without dithering keeps the large areas' colours (white becomes 254),
    differs from the original by about one level in 255 on average and by at most 15 on
    edge pixels, at under a third of the bytes, in about a second for all of them (a
    median-cut palette is closer but three times slower).
    """
    import base64
    import io

    from PIL import Image

    original = base64.b64decode(encoded)
    with Image.open(io.BytesIO(original)) as image:
        if image.mode not in ("RGB", "RGBA"):
            return encoded
        lowest_alpha, _ = image.getchannel("A").getextrema() if image.mode == "RGBA" else (255, 255)
        if lowest_alpha != 255:
            return encoded  # transparent pixels would lose their transparency
        palette = image.convert("RGB").quantize(
            256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        compact = io.BytesIO()
        palette.save(compact, format="PNG")
    if compact.tell() >= len(original):
        return encoded
    return base64.b64encode(compact.getvalue()).decode("ascii")
