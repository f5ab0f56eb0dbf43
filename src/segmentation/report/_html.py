"""index.html: the executed notebooks joined into one, with a table of contents, exported
without code."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["combine_notebooks", "export_html", "report_title"]


def report_title(month: str, source: str, *, lang: str) -> str:
    """The report's title: its month and the data it was computed from."""
    if lang == "zh":
        return f"客户分层月报 {month} · {source}"
    return f"Customer segmentation report {month} · {source}"


def combine_notebooks(paths: Sequence[Path], *, title: str, lang: str = "zh") -> Any:
    """Join executed notebooks into one, with a title and a table of contents first.

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
        Cells of every notebook in order, minus papermill's injected-parameters cells and
        the parameters cells (they are plumbing, not findings).
    """
    import nbformat

    combined = nbformat.v4.new_notebook()
    headings: list[tuple[int, str]] = []
    cells = []
    for section, path in enumerate(paths, start=1):
        notebook = nbformat.read(path, as_version=4)
        # Kernel and language info come from the executed notebooks (all run on one kernel).
        combined.metadata = notebook.metadata
        for position, cell in enumerate(notebook.cells):
            tags = cell.get("metadata", {}).get("tags", [])
            if "parameters" in tags or "injected-parameters" in tags:
                continue
            # Each notebook numbers its own cells: ids unique across sections, and the same in
            # every run (nbconvert would otherwise replace repeats with random ones).
            cell["id"] = f"s{section}-{position}"
            if cell.cell_type == "markdown":
                headings.extend(_headings(cell.source))
            cells.append(cell)
    contents = nbformat.v4.new_markdown_cell(_contents(title, headings, lang=lang))
    contents["id"] = "contents"
    combined.cells = [contents, *cells]
    return combined


def _headings(markdown: str) -> list[tuple[int, str]]:
    """The level and text of each heading of levels 1 to 3 in ``markdown``."""
    found = (re.match(r"^(#{1,3})\s+(.+?)\s*$", line) for line in markdown.splitlines())
    return [(len(match.group(1)), match.group(2)) for match in found if match]


def _contents(title: str, headings: Sequence[tuple[int, str]], *, lang: str) -> str:
    """The title and a linked table of contents of the level-2 and level-3 headings."""
    contents_title = "目录" if lang == "zh" else "Contents"
    toc = [f"# {title}", "", f"**{contents_title}**", ""]
    for level, text in headings:
        if level == 1:
            continue
        indent = "  " * (level - 2)
        # nbconvert gives each heading the id of its text with spaces replaced by hyphens.
        toc.append(f"{indent}- [{text}](#{text.replace(' ', '-')})")
    return "\n".join(toc)


def export_html(notebook: Any, path: Path, *, title: str) -> None:
    """Write ``notebook`` to ``path`` as one HTML file: code hidden, images embedded."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    path.write_text(body, encoding="utf-8")
