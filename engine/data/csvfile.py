"""Reading a CSV file into numeric columns (and text columns where labels may be words),
with errors that name the line and the column."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np

from .errors import DatasetError
from .resources import MemoryEstimate, Progress, require_file, require_memory

_SAMPLE_CHARS = 64 * 1024
# select(column names, first data row) -> (indices read as numbers, indices kept as text)
Selector = Callable[[list[str], list[str]], tuple[list[int], list[int]]]


@dataclass(frozen=True)
class CsvTable:
    names: list[str]
    numeric: np.ndarray  # float64 (rows, len(numeric_columns))
    numeric_columns: list[int]
    text: dict[int, list[str]]
    lines: np.ndarray  # the file line of each row, for error messages
    # scikit-learn's layout (wine_data.csv, iris.csv): a first line "N,F,name0,name1,…" of
    # counts and class names before headerless data; the names, when the file has that line
    counts_line_names: tuple[str, ...] | None = None


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv(
    path: Path,
    progress: Progress,
    select: Selector,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    skip_rows: int | None = None,
) -> CsvTable:
    """Parse ``path`` after ``skip_rows`` leading lines (default: one line of counts when the
    file starts with one, else none); the header is detected (a first row with a non-number)
    unless given."""
    size = require_file(path)
    sample = _sample(path)
    if not sample.strip():
        raise DatasetError(f"The CSV file '{path}' has no rows, only blank lines.", path=str(path))
    lines = sample.splitlines()
    body = "\n".join(lines[skip_rows or 1 :]) or sample  # the counts line would mislead the sniffer
    delimiter = delimiter or _sniff_delimiter(body)
    counts_names = None
    if skip_rows is None:
        counts_names = counts_line_names(lines, delimiter)
        skip_rows = 0 if counts_names is None else 1
    _check_memory(path, size, sample, delimiter)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for _ in range(skip_rows):
            handle.readline()
        reader = csv.reader(_counting(handle, size, progress), delimiter=delimiter)
        rows = _rows(reader, path, skip_rows)
        first_line, first = next(rows, (0, None))
        if first is None:
            after = f" after the {skip_rows} skipped lines" if skip_rows else ""
            raise DatasetError(f"The CSV file '{path}' has no rows{after}.", path=str(path))
        if header is None:
            header = not all(is_number(cell) for cell in first)
        if header:
            names = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(first)]
            first_line, first = next(rows, (0, None))
            if first is None:
                raise DatasetError(
                    f"The CSV file '{path}' has a header line but no data lines.", path=str(path)
                )
        else:
            names = [f"column {i + 1}" for i in range(len(first))]
        numeric_cols, text_cols = select(names, first)
        table = _parse(path, names, numeric_cols, text_cols, first_line, first, rows)
    return replace(table, counts_line_names=counts_names)


def counts_line_names(lines: list[str], delimiter: str) -> tuple[str, ...] | None:
    """The class names of a first line "N,F,name0,name1,…" (scikit-learn's wine_data.csv,
    breast_cancer.csv, iris.csv) when the next line holds F + 1 numbers; else None."""
    if len(lines) < 2:
        return None
    first, second = (next(csv.reader([line], delimiter=delimiter)) for line in lines[:2])
    first = [cell.strip() for cell in first]
    if len(first) < 2 or not (first[0].isdigit() and first[1].isdigit()):
        return None
    names = first[2:]
    if any(is_number(n) or not n for n in names) or int(first[1]) + 1 != len(second):
        return None
    return tuple(names) if all(is_number(cell) for cell in second) else None


def _parse(path, names, numeric_cols, text_cols, first_line, first, rows) -> CsvTable:
    values: list[list[float]] = []
    text: dict[int, list[str]] = {c: [] for c in text_cols}
    lines: list[int] = []
    width = len(names)
    for line, row in _chain((first_line, first), rows):
        if len(row) != width:
            raise DatasetError(
                f"Line {line} of '{path}' has {len(row)} values but the file has {width} "
                "columns. Every line needs the same number of values (check for a missing or "
                "extra separator).",
                path=str(path),
            )
        try:
            values.append([float(row[c]) for c in numeric_cols])
        except ValueError:
            for c in numeric_cols:
                if not is_number(row[c]):
                    raise not_a_number(path, line, names[c], row[c]) from None
        for c in text_cols:
            text[c].append(row[c].strip())
        lines.append(line)
    numeric = np.array(values, dtype=np.float64).reshape(len(lines), len(numeric_cols))
    bad = ~np.isfinite(numeric)
    if bad.any():
        r, c = (int(i[0]) for i in np.nonzero(bad))
        raise DatasetError(
            f"Line {lines[r]}, column '{names[numeric_cols[c]]}' of '{path}' is {numeric[r, c]}; "
            "LayerLab needs finite numbers. Fill in or remove that value.",
            path=str(path),
        )
    return CsvTable(names, numeric, list(numeric_cols), text, np.array(lines))


def not_a_number(path: Path, line: int, column: str, value: str) -> DatasetError:
    what = "is empty" if not value.strip() else f"holds '{value[:40]}', which is not a number"
    return DatasetError(
        f"Line {line}, column '{column}' of '{path}' {what}. Fix that value, or leave the "
        "column out of the inputs.",
        path=str(path),
    )


def _rows(reader, path: Path, skipped: int) -> Iterator[tuple[int, list[str]]]:
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):  # blank lines carry no sample
                yield skipped + reader.line_num, row
    except csv.Error as exc:
        raise DatasetError(
            f"Line {skipped + reader.line_num} of '{path}' cannot be read as CSV: {exc}.",
            path=str(path),
        ) from None
    except UnicodeDecodeError:
        raise _not_text(path) from None


def _chain(first, rest):
    yield first
    yield from rest


def _counting(handle: IO[str], size: int, progress: Progress) -> Iterator[str]:
    done = 0
    for line in handle:
        done += len(line)  # characters, close enough to bytes for a progress bar
        progress(done / size)
        yield line


def _sample(path: Path) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            sample = handle.read(_SAMPLE_CHARS)
    except UnicodeDecodeError:
        raise _not_text(path) from None
    if "\0" in sample:
        raise _not_text(path)
    return sample


def _not_text(path: Path) -> DatasetError:
    return DatasetError(
        f"'{path}' is not a text CSV file (it is binary or not UTF-8 text). Export it as CSV "
        "(UTF-8) and pick that file.",
        path=str(path),
    )


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","  # one column, or too irregular to tell: the row checks will say which line


def _check_memory(path: Path, size: int, sample: str, delimiter: str) -> None:
    lines = sample.splitlines()[:-1] or sample.splitlines()
    cells = sum(line.count(delimiter) + 1 for line in lines) or 1
    chars = sum(len(line) + 1 for line in lines) or 1
    values = size / chars * cells
    # Parsed values live as Python float lists (~8 bytes each in the row list plus the float
    # object, ~32) before the float64 and float32 arrays: about 56 bytes per value. A series'
    # windows are counted again once the table is read (tabular.py), before they are made.
    estimate = MemoryEstimate(reading=int(values * 56), dataset=int(values * 4), standardised=True)
    require_memory(estimate, path, "The CSV data")
