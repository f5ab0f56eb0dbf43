"""CJK glyphs in plots, or one warning and English labels: never boxes."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib as mpl
import pytest

from segmentation import fonts
from segmentation.fonts import configure_plot_fonts, find_cjk_font


def test_without_a_cjk_font_labels_fall_back_to_english_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fonts, "_warned", False)
    missing = (str(tmp_path / "no-such-font.ttc"),)
    with pytest.warns(UserWarning, match="No CJK font found"):
        assert configure_plot_fonts("zh", candidates=missing) == "en"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call must not warn again
        assert configure_plot_fonts("zh", candidates=missing) == "en"
    assert configure_plot_fonts("en", candidates=missing) == "en"
    assert mpl.rcParams["axes.unicode_minus"] is False


def test_with_the_font_chinese_labels_render_as_glyphs() -> None:
    font = find_cjk_font()
    if font is None:
        pytest.fail(
            "no CJK font: `make setup` installs fonts-wqy-microhei as root; install it first"
        )
    from matplotlib import font_manager

    assert configure_plot_fonts("zh") == "zh"
    family = font_manager.FontProperties(fname=str(font)).get_name()
    assert mpl.rcParams["font.sans-serif"][0] == family
    # The registered font resolves for sans-serif and has glyphs for the labels we draw.
    resolved = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert Path(resolved).name == font.name
    from matplotlib.ft2font import FT2Font

    face = FT2Font(str(font))
    for char in "高价值活跃沉睡流失潜在忠诚":
        assert face.get_char_index(ord(char)) != 0, char
