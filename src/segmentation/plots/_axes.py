"""Where a plot draws: on axes the caller gives, or on a new figure built without pyplot."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["figure_and_axes", "figure_of"]


def figure_and_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure; a new ``figsize`` figure (constrained layout) with one axes when
    ``ax`` is None."""
    if ax is not None:
        return figure_of(ax), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def figure_of(ax: Axes) -> Figure:
    """The figure ``ax`` is drawn on (the top one, when ``ax`` sits in a subfigure)."""
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("the axes given to draw on belong to no figure")
    return figure
