"""Chinese glyphs in matplotlib plots, or an honest fallback to English labels.

matplotlib caches its font list, so a font installed after the cache was built (``make setup``
installs Debian's fonts-wqy-microhei) is invisible until registered explicitly with
``fontManager.addfont``. Where no CJK font exists, plots use English labels and say so once:
never boxes in place of characters.

In a notebook, :func:`configure_plot_fonts` also makes the inline backend draw figures as
pixel-doubled PNGs, sharp on high-density screens and when the report is zoomed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = ["CJK_FONT_CANDIDATES", "INLINE_FIGURE_FORMAT", "configure_plot_fonts", "find_cjk_font"]

CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)

# The inline backend's figure format: PNG at twice the pixels, shown at the figure's size.
INLINE_FIGURE_FORMAT = "retina"

_warned = False


def find_cjk_font(candidates: tuple[str, ...] = CJK_FONT_CANDIDATES) -> Path | None:
    """The first CJK font file that exists, or None.

    Parameters
    ----------
    candidates : tuple of str
        Font files to try, in order.
    """
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


def configure_plot_fonts(
    lang: str = "zh", *, candidates: tuple[str, ...] = CJK_FONT_CANDIDATES
) -> str:
    """Register a CJK font with matplotlib and return the label language plots can use.

    Inside IPython (a notebook's kernel) it also sets the inline backend's figure format to
    :data:`INLINE_FIGURE_FORMAT`; elsewhere it leaves display alone.

    Parameters
    ----------
    lang : {"zh", "en"}
        The language the user asked for.
    candidates : tuple of str
        Font files to try, in order.

    Returns
    -------
    str
        ``lang`` when it can be drawn; ``"en"`` when Chinese was asked for but no CJK font
        exists (with one warning per process).
    """
    global _warned
    import matplotlib as mpl
    from matplotlib import font_manager

    mpl.rcParams["axes.unicode_minus"] = False  # CJK fonts lack U+2212; use a hyphen-minus
    _use_inline_figure_format()
    font = find_cjk_font(candidates)
    if font is None:
        if lang == "zh" and not _warned:
            warnings.warn(
                "No CJK font found (install fonts-wqy-microhei, or run `make setup` as root); "
                "plot labels fall back to English.",
                stacklevel=2,
            )
            _warned = True
        return "en"
    font_manager.fontManager.addfont(str(font))
    family = font_manager.FontProperties(fname=str(font)).get_name()
    current = [f for f in mpl.rcParams["font.sans-serif"] if f != family]
    mpl.rcParams["font.sans-serif"] = [family, *current]
    mpl.rcParams["font.family"] = "sans-serif"
    return lang


def _use_inline_figure_format() -> None:
    """Draw inline figures as :data:`INLINE_FIGURE_FORMAT` in a running IPython, if any."""
    from IPython import get_ipython

    if get_ipython() is None:
        return  # plain Python: nothing shows figures inline, and no shell should be created
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats(INLINE_FIGURE_FORMAT)
