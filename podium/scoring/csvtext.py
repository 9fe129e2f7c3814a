"""The CSV file as bytes: encoding, header, line numbers and row shapes, before and after pyarrow parses it.

Everything a student's message needs from the raw text lives here: which byte is not UTF-8, which line holds a
row, which lines have the wrong number of fields. The cheap checks run on every file; the line-by-line scans only
run once something is known to be wrong.
"""
from __future__ import annotations

import csv
import io
from array import array
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from podium.scoring.text import MAX_EXAMPLES, examples, header_text, plural

UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF = {  # first bytes of formats students upload by mistake; every key holds a byte no CSV header starts with
    b"\xff\xfe": "UTF-16 text",
    b"\xfe\xff": "UTF-16 text",
    b"\xd0\xcf\x11\xe0": "an Excel (.xls) workbook or another Office document",
    b"%PDF-": "a PDF document",
    b"\xfd7zXZ\x00": "an xz-compressed file",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file",
    b"\x93NUMPY": "a NumPy .npy file",
}
_SAVE_AS = "Save your predictions as a plain CSV text file in UTF-8 (optionally compressed as .gz or .zip)."

csv.field_size_limit(2**31 - 1)  # text targets may be long; the upload size limit bounds them anyway


class CsvProblem(Exception):
    """Something wrong with the text of a CSV file; callers turn it into a SubmissionError or SolutionError."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


def block_size(n_columns: int) -> int:
    """How many bytes pyarrow parses as one block of a file with ``n_columns`` columns.

    Each block becomes a chunk of every column: 1 MB blocks of a file thousands of columns wide held a few dozen
    rows each, and reading it took twice as long as reading the same bytes in blocks of a thousand rows. 8 KB
    per column keeps about that many; narrow files keep pyarrow's 1 MB.
    """
    return max(1 << 20, n_columns * (8 << 10))


def read_arrow_csv(data: bytes | bytearray, start: int, read_options: pacsv.ReadOptions,
                   parse_options: pacsv.ParseOptions, convert_options: pacsv.ConvertOptions) -> pa.Table:
    """pyarrow's read_csv of the text from ``start``.

    pyarrow cuts the text into blocks (1 MB by default) and gives up on a row spanning more than two of them
    ("straddling object straddles two block boundaries"): a file with a value of twenty megabytes was refused as
    not CSV, with advice meant for programmers. It is CSV; it is read again as one block.
    """
    buffer = pa.py_buffer(data)
    text = buffer.slice(start) if start else buffer
    try:
        return pacsv.read_csv(pa.BufferReader(text), read_options=read_options, parse_options=parse_options,
                              convert_options=convert_options)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
    read_options.block_size = len(text) + 1
    return pacsv.read_csv(pa.BufferReader(text), read_options=read_options, parse_options=parse_options,
                          convert_options=convert_options)


def line_at(data: bytes, offset: int) -> int:
    """The 1-based line holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def text_start(data: bytes) -> int:
    """The offset of the CSV text after an optional UTF-8 BOM; refuses empty, UTF-16 and binary content."""
    what = next((what for magic, what in _SNIFF.items() if data.startswith(magic)), None)
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        what = "a Parquet file"
    elif data.startswith(b"BZh") and data[4:10] == b"1AY&SY":
        what = "a bzip2-compressed file"
    if what:
        raise CsvProblem(f"The file is {what}, not a CSV text file. {_SAVE_AS}", "not_text")
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    if len(data) == start or (len(data) - start < 4096 and not data[start:].strip()):
        raise CsvProblem("The file is empty.", "empty")
    nul = data.find(b"\x00", start)
    if nul >= 0:
        raise CsvProblem(
            f"The file contains binary data (a NUL byte at byte offset {nul:,}, line {line_at(data, nul):,}), "
            f"so it is not a CSV text file. {_SAVE_AS}",
            "not_text",
        )
    return start


def check_utf8(data: bytes, start: int) -> None:
    """Refuse text that is not UTF-8, naming the first offending byte and its line."""
    if data.isascii():
        return
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise CsvProblem(
            f"The file is not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset:,} (line "
            f"{line_at(data, offset):,}) is not valid UTF-8. Save the file with the UTF-8 encoding.",
            "not_utf8",
        ) from None


def header_line(data: bytes, start: int) -> bytes:
    """The bytes of the first line, without its line end."""
    # A line ends at LF, CRLF or a lone CR (Excel for Mac's "CSV (Macintosh)"), as pyarrow reads it; a lone CR
    # left inside the line made the csv module raise instead of reading the header.
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    cr = data.find(b"\r", start, end)
    return data[start: end if cr < 0 else cr]


def header_width(data: bytes, start: int) -> int:
    """How many columns the first line has, counted without splitting it into names (milliseconds for a header of
    millions of columns): its commas, unless a quoted name may hold one."""
    line = header_line(data, start)
    if b'"' not in line:
        return line.count(b",") + 1
    return len(next(csv.reader([line.decode("utf-8", errors="replace")])))


def parse_header(data: bytes, start: int) -> list[str]:
    """The column names on the first line, stripped of surrounding spaces."""
    raw = header_line(data, start)
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        check_utf8(data, start)
        raise
    if not line.strip():
        raise CsvProblem("The first line of the file is empty; it must be the header.", "bad_header")
    return [name.strip() for name in next(csv.reader([line]))]


@dataclass
class Scan:
    """What one pass of Python's csv reader learns: where each data row starts, and rows of the wrong width."""

    row_lines: np.ndarray | None
    bad_rows: list[tuple[int, int]]
    n_bad: int


def scan_rows(data: bytes, n_fields: int, *, want_lines: bool) -> Scan:
    """Read the file record by record (slow, exact): physical line numbers survive quoted newlines and blank lines."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    lines = array("q") if want_lines else None
    bad: list[tuple[int, int]] = []
    n_bad = 0
    first = True
    previous_end = 0
    for record in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not record:  # a blank line: pyarrow skips it too
            continue
        if first:
            first = False
            continue
        if lines is not None:
            lines.append(line)
        if len(record) != n_fields:
            n_bad += 1
            if len(bad) < MAX_EXAMPLES:
                bad.append((line, len(record)))
    return Scan(np.frombuffer(lines, dtype=np.int64) if lines is not None else None, bad, n_bad)


def wrong_width_message(scan: Scan, header: list[str]) -> str:
    shown = (f"line {line:,} has {plural(n, 'field')}" for line, n in scan.bad_rows)
    return (
        f"{plural(scan.n_bad, 'line')} {'has' if scan.n_bad == 1 else 'have'} the wrong number of fields "
        f"(expected {len(header)}, as in the header {header_text(header)}): {examples(shown, scan.n_bad)}."
    )


class RowLines:
    """Maps 0-based data rows, as pyarrow numbers them, to 1-based lines of the file (the header is line 1)."""

    def __init__(self, data: bytes, start: int, n_rows: int, n_fields: int):
        self._data, self._start, self._n_rows, self._n_fields = data, start, n_rows, n_fields
        self._lines: np.ndarray | None = None
        self._offset_only: bool | None = None

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if self._offset_only is None:  # decided on first use: only messages need line numbers
            data = self._data
            n_lines = data.count(b"\n", self._start) + (0 if data.endswith(b"\n") else 1)
            # One record per line unless quoted newlines or blank lines shift them; both are rare.
            simple = b'"' not in data or (b"\n\n" not in data and b"\n\r\n" not in data)
            self._offset_only = n_lines == self._n_rows + 1 and simple
        if self._offset_only:
            return rows + 2
        if self._lines is None:
            self._lines = scan_rows(self._data, self._n_fields, want_lines=True).row_lines
        return self._lines[rows]
