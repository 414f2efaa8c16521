"""The per-category radar chart (matplotlib's object API on the Agg canvas: no pyplot, no display)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from mtbench.core.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.projections.polar import PolarAxes


def radar_figure(category_table: pd.DataFrame, title: str = "MT-bench score by category") -> Figure:
    """One polygon per model (columns) over the categories (rows), on MT-bench's 0-10 scale.

    Uses matplotlib's object API with the Agg canvas (no pyplot, no display needed). Each model's line
    carries the model as its label; its data are the table's column, closed back to the first category.
    Every score is also a marker: a category with no score leaves a gap in the line, so a model scored
    in one category only (or a score between two gaps) would otherwise draw nothing.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cats = [str(c) for c in category_table.index]
    if not cats or category_table.shape[1] == 0:
        raise UserError("no per-category scores to plot")
    angles = np.linspace(0.0, 2.0 * np.pi, len(cats), endpoint=False)
    closed = np.append(angles, angles[0])
    fig = Figure(figsize=(8, 8), dpi=100)
    FigureCanvasAgg(fig)
    ax = cast("PolarAxes", fig.add_subplot(projection="polar"))
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    for model in category_table.columns:
        values = category_table[model].to_numpy(dtype=np.float64)
        (line,) = ax.plot(closed, np.append(values, values[0]), linewidth=1.5, marker="o", markersize=4,
                          label=str(model))
        ax.fill(closed, np.append(values, values[0]), alpha=0.08, color=line.get_color())
    ax.set_xticks(angles)
    ax.set_xticklabels(cats)
    ax.set_ylim(0, 10)
    ax.set_yticks([2, 4, 6, 8, 10])
    ax.set_title(title, pad=20)
    ax.tick_params(axis="x", pad=8)
    n = category_table.shape[1]
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(3, n), fontsize="small", frameon=False,
    )
    return fig
