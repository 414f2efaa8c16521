"""Small conversions the trackers share (the radar PNG as an array, a table as Markdown text)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd


def png_array(png: bytes) -> Any:
    """The PNG as an RGB uint8 array (height, width, 3): what every tracker's image type takes."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a Markdown table (TensorBoard's text plugin renders Markdown; no tabulate needed)."""
    header = [str(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
