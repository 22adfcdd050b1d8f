"""Reader of images stored as table rows: one pixel per column, as scikit-learn's 8x8 digits CSV.

Pixel columns are those named `<pixel_prefix><number>` (default prefix `p`: p0, p1, ...), taken in
numeric order and filled row by row into an image of `image_shape` (default: square). Options:
`target_column` (default `label` when present), `id_column` (default `id` when present, else the row number from 1),
`pixel_prefix`, `image_shape` ([H, W] or [H, W, C], channels last). Values are kept as they are
(float32); the model's preprocessing (`rescale`, `mean`, `std`) scales them. A row with an empty,
non-numeric, missing or non-UTF-8 cell is a bad record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sciformer.errors import InputFileError
from sciformer.reader_options import DEFAULT_ID_COLUMN
from sciformer.reading import column_option, csv_table, readable
from sciformer.records import Record

from .layout import image_problem

DEFAULT_TARGET = "label"


def read_pixel_table(path: Path, options: Mapping[str, Any]) -> Iterator[Record]:
    """Records of a CSV / TSV table whose columns are the pixels of one image per row."""
    with csv_table(path) as table:
        pixels = _pixel_columns(table.columns, options.get("pixel_prefix", "p"), str(path))
        shape = _image_shape(options.get("image_shape"), len(pixels), str(path))
        target_column = column_option(options, "target_column", table.columns, DEFAULT_TARGET)
        id_column = column_option(options, "id_column", table.columns, DEFAULT_ID_COLUMN)
        table.require(target_column, id_column, *pixels)
        for number, row, problem in table:
            record_id = readable(row[id_column]) if id_column else str(number)
            target = _label(row[target_column]) if target_column else None
            image, problem = (None, problem) if problem else _row_image(row, pixels, shape)
            yield Record(id=record_id, data=image, target=target, error=problem)


def _pixel_columns(columns: list[str], prefix: str, source: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    numbered = sorted((int(m.group(1)), c) for c in columns if (m := pattern.match(c)))
    if not numbered:
        raise InputFileError(f"{source}: no pixel columns named {prefix}0, {prefix}1, ... (columns: {columns[:8]}...); set pixel_prefix")
    return [column for _, column in numbered]


def _image_shape(wanted: Any, count: int, source: str) -> tuple[int, ...]:
    if wanted is not None:
        shape = tuple(int(v) for v in wanted)
        if len(shape) not in (2, 3) or math.prod(shape) != count:
            raise InputFileError(f"{source}: image_shape {list(shape)} does not hold the {count} pixel columns")
        return shape if len(shape) == 3 else (*shape, 1)
    side = math.isqrt(count)
    if side * side != count:
        raise InputFileError(f"{source}: {count} pixel columns do not make a square image; set image_shape=[H, W]")
    return (side, side, 1)


def _row_image(row: Mapping[str, str | None], pixels: list[str], shape: tuple[int, ...]) -> tuple[np.ndarray | None, str | None]:
    """The row as an image, or None and the reason it cannot be one."""
    cells = [row.get(column) for column in pixels]
    empty = [column for column, cell in zip(pixels, cells) if cell is None or not cell.strip()]
    if empty:
        return None, f"{len(empty)} empty pixel cell(s), first {empty[0]!r}"
    try:
        values = np.array([float(cell) for cell in cells], dtype=np.float32)
    except ValueError as error:
        return None, f"pixel value is not a number ({error})"
    image = values.reshape(shape)
    problem = image_problem(image)
    return (None, problem) if problem else (image, None)


def _label(value: str | None) -> Any:
    """Integer-looking labels become integers; other labels stay strings; empty cells mean no label."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else text
