"""Reading a student's upload: size limits, compression, encoding, header, and typed columns.

The happy path is one multi-threaded pyarrow parse with the column types fixed in advance, plus O(1) or O(n)
whole-column checks. Only when something is wrong does the slower, exact diagnosis run (a lenient re-parse, a
line-by-line scan), so that every refusal names lines, columns and values.

Every step is linear in the upload's size, in rows and in columns alike; a header far wider than the competition's
(``max_header_width``) is refused by counting its columns, before it is split into names.
"""
from __future__ import annotations

import gzip
import lzma
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from podium.scoring.csvtext import (
    CsvProblem, RowLines, block_size, check_utf8, header_width, parse_header, read_arrow_csv, scan_rows, text_start,
    wrong_width_message,
)
from podium.scoring.errors import SubmissionError
from podium.scoring.targets import (
    ARROW_TYPES, PANDAS_NA, bad_values_sentence, empty_sentence, infer_like_pandas, parse_numbers, try_cast,
)
from podium.scoring.text import MAX_EXAMPLES, examples, header_text, megabytes, plural, quote, size_over

if TYPE_CHECKING:
    from podium.scoring.solution import CompiledSolution

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_CHUNK = 1 << 20
_ZIP_JUNK = ("__MACOSX/",)
# What zipfile raises on a damaged archive besides BadZipFile: NotImplementedError for a version or method field
# it does not know, ValueError (UnicodeDecodeError among them) for a garbled header or name, and the decompressors'
# own errors for a member stored with bzip2 or lzma. A flipped byte in an otherwise valid zip raised them unanswered.
_ZIP_DAMAGE = (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError, zlib.error,
               lzma.LZMAError)
# zipfile builds an object for every entry of the central directory before anything can be checked: a 200 MB
# archive of millions of empty entries took a minute of CPU and gigabytes of memory. One CSV file (plus a folder
# entry or macOS's resource forks) needs a few hundred bytes of directory; a megabyte is about 20,000 entries.
_ZIP_DIRECTORY_MAX = 1_000_000
_EOCD, _EOCD64, _EOCD64_LOCATOR = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200_000_000  # the uploaded file, compressed or not
    max_decompressed_bytes: int = 200_000_000  # the CSV text inside it


@dataclass(frozen=True)
class Column:
    """How one column of an upload is read: its kind and its role for the metric."""

    name: str
    kind: str  # "int" | "float" | "str" | "auto" (typed afterwards as pd.read_csv would)
    role: str  # "id" | "label" | "number" | "text" | "frame"

    @property
    def empty_ok(self) -> bool:
        return self.role in ("text", "frame")

    @property
    def read_type(self) -> pa.DataType:
        return ARROW_TYPES.get(self.kind, pa.string())


@dataclass
class Upload:
    """A parsed upload: the id and target columns, typed, in the order of the expected header."""

    table: pa.Table
    line_of: RowLines

    @property
    def rows(self) -> int:
        return self.table.num_rows


# --- bytes: size, compression -------------------------------------------------------------------------------


def _too_large(what: str, size_text: str, limit: int) -> SubmissionError:
    return SubmissionError(f"{what} {size_text}; the limit is {megabytes(limit)}.", code="too_large")


def load_upload_bytes(path: Path, limits: UploadLimits = UploadLimits(),
                      original_name: str | None = None) -> bytes | bytearray:
    """The CSV text of an upload: a plain file, a gzip stream or a zip archive holding one CSV, told apart by
    their first bytes. Compressed data is inflated in chunks and abandoned as soon as it passes the limit."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise _too_large("The file is", size_over(size, limits.max_bytes), limits.max_bytes)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(GZIP_MAGIC):
        return _gunzip(path, limits.max_decompressed_bytes)
    if head in ZIP_MAGICS:
        return _unzip(path, limits.max_decompressed_bytes, original_name)
    if size > limits.max_decompressed_bytes:
        raise _too_large("The file is", size_over(size, limits.max_decompressed_bytes), limits.max_decompressed_bytes)
    return path.read_bytes()


def _read_capped(stream, limit: int, what: str) -> bytearray:
    out = bytearray()
    while chunk := stream.read(_CHUNK):
        out += chunk
        if len(out) > limit:
            raise _too_large(what, f"more than {megabytes(limit)} (reading stopped there)", limit)
    return out


def _gunzip(path: Path, limit: int) -> bytearray:
    try:
        with gzip.open(path, "rb") as stream:
            return _read_capped(stream, limit, "The file decompresses to")
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise SubmissionError(
            f"The file is gzip-compressed but corrupt or truncated ({exc}). Compress it again, or upload the "
            f"CSV file uncompressed.",
            code="corrupt_archive",
        ) from None


def _zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files a student meant to put in the archive (not folders, nor macOS resource forks)."""
    return [
        info for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith(_ZIP_JUNK)
        and not PurePosixPath(info.filename).name.startswith("._")
        and PurePosixPath(info.filename).name != ".DS_Store"
    ]


def _zip_directory_size(path: Path) -> int | None:
    """The size in bytes of a zip's central directory as its end record declares it (the zip64 record's when
    there is one); None when there is no end record, which zipfile then reports as corrupt."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - (22 + 0xFFFF + 20))  # the end record, its longest comment, the zip64 locator
        fh.seek(start)
        tail = fh.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            return None
        directory_size = struct.unpack_from("<L", tail, at + 12)[0]
        if at >= 20 and tail[at - 20: at - 16] == _EOCD64_LOCATOR:
            fh.seek(struct.unpack_from("<Q", tail, at - 12)[0])
            record = fh.read(56)
            if len(record) == 56 and record[:4] == _EOCD64:
                directory_size = struct.unpack_from("<Q", record, 40)[0]
    return directory_size


def _unzip(path: Path, limit: int, original_name: str | None) -> bytearray:
    directory_size = _zip_directory_size(path)
    if directory_size is not None and directory_size > _ZIP_DIRECTORY_MAX:
        raise SubmissionError(
            f"The zip archive lists too many files (its table of contents alone is {megabytes(directory_size)}); "
            f"it must hold exactly one CSV file.", code="bad_archive")
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_DAMAGE as exc:
        raise SubmissionError(f"The file is a zip archive but it is corrupt ({exc}); create it again, or upload the "
                              f"CSV file itself.", code="corrupt_archive") from None
    with archive:
        members = _zip_members(archive)
        names = [info.filename for info in members]
        if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
            raise SubmissionError(f"The file{f' {quote(original_name)}' if original_name else ''} is an Excel "
                                  f"workbook, not a CSV file. Save it as CSV (UTF-8).", code="not_text")
        if not members:
            raise SubmissionError("The zip archive contains no file; it must hold exactly one CSV file.",
                                  code="bad_archive")
        if len(members) > 1:
            raise SubmissionError(
                f"The zip archive holds {plural(len(members), 'file')} "
                f"({examples((quote(n) for n in names), len(names))}); it must hold exactly one CSV file.",
                code="bad_archive",
            )
        info = members[0]
        if not info.filename.lower().endswith(".csv"):
            raise SubmissionError(f"The zip archive holds {quote(info.filename)}, which is not a CSV file; it must "
                                  f"hold exactly one file ending in .csv.", code="bad_archive")
        if info.flag_bits & 0x1:
            raise SubmissionError("The zip archive is password-protected; upload it without a password.",
                                  code="bad_archive")
        what = f"The CSV file in the zip archive ({quote(info.filename)}) is"
        if info.file_size > limit:
            raise _too_large(what, f"{size_over(info.file_size, limit)} uncompressed", limit)
        try:
            with archive.open(info) as stream:
                return _read_capped(stream, limit, f"{what} uncompressed")
        except _ZIP_DAMAGE as exc:
            raise SubmissionError(f"The zip archive is corrupt or uses an unsupported compression ({exc}); "
                                  f"create it again with standard (deflate) compression.",
                                  code="corrupt_archive") from None


# --- text: header and typed columns ---------------------------------------------------------------------------


def max_header_width(n_expected: int) -> int:
    """The widest header that is read name by name; a wider one is refused by its count alone.

    Room for every mistake worth naming column by column (a saved index, stray or repeated columns, a whole
    second set of them), far below the millions of columns that once kept a worker busy for minutes.
    """
    return max(1_000, 10 * n_expected)


def check_header_width(data: bytes | bytearray, start: int, expected: list[str]) -> None:
    """Refuse a first line far wider than the expected header before it is split into names."""
    width, limit = header_width(data, start), max_header_width(len(expected))
    if width > limit:
        raise SubmissionError(
            f"The header (the first line) has {width:,} columns; the file should have "
            f"{plural(len(expected), 'column')}, {header_text(expected, limit=200)}, and one row per id. Headers "
            f"of more than {limit:,} columns are refused without reading further.",
            code="extra_columns",
        )


def _names(names: list[str]) -> str:
    return examples((quote(n) if n else "an unnamed column" for n in names), len(names))


def _repeated_sentence(repeated: list[str]) -> str:
    named = [name for name in repeated if name]
    sentences = ["More than one column has no name."] if "" in repeated else []
    if named:
        sentences.insert(0, f"The column {_names(named)} appears more than once." if len(named) == 1 else
                         f"The columns {_names(named)} appear more than once.")
    return " ".join(sentences)


def check_header(found: list[str], expected: list[str]) -> None:
    """Refuse a header that is not the expected set of column names (any order), saying exactly what differs.

    Linear in the header's width: names are counted and looked up in sets, each listed once, in the order of the
    file, and a message names the first few of each kind.
    """
    counts, wanted = Counter(found), set(expected)
    repeated = [name for name, n in counts.items() if n > 1]
    missing = [name for name in expected if name not in counts]
    extra = [name for name in counts if name not in wanted]
    if not (repeated or missing or extra):
        return
    sentences = [f"Expected the header {header_text(expected)}; found {header_text(found, limit=200)}."]
    if repeated:
        sentences.append(_repeated_sentence(repeated))
    if missing:
        sentences.append(f"Missing {'column' if len(missing) == 1 else 'columns'}: {_names(missing)}.")
    if extra:
        sentences.append(f"Unexpected {'column' if len(extra) == 1 else 'columns'}: {_names(extra)}; remove "
                         f"{'it' if len(extra) == 1 else 'them'}.")
    if found and found[0] == "" and "" in extra:
        sentences.append("The unnamed first column looks like a saved pandas index: write the file with "
                         "`df.to_csv(path, index=False)`.")
    if missing and not {name.lower() for name in missing}.isdisjoint(name.lower() for name in extra):
        sentences.append("Column names are case-sensitive.")
    separator = next((sep for sep in (";", "\t", "|") if len(found) == 1 and sep in found[0]), None)
    if separator is not None:
        sentences.append(f"The file seems to separate columns with {'a tab' if separator == chr(9) else quote(separator)}; "
                         f"separate them with commas.")
    elif len(missing) == len(expected):
        sentences.append("The first line must be the header.")
    code = "missing_columns" if missing else "extra_columns" if extra else "duplicate_columns"
    raise SubmissionError(" ".join(sentences), code=code)


def plan_columns(compiled: "CompiledSolution") -> list[Column]:
    """How to read each column of an upload for this solution (compiled for its metric's target type)."""
    mode, kinds = compiled.mode, compiled.target_kinds  # each a copy of the manifest's: taken once, not per column
    columns = [Column(compiled.id_column, compiled.id_kind, "id")]
    for name in compiled.target_columns:
        columns.append(Column(name, "auto", "frame") if mode == "frame" else Column(name, kinds[name], mode))
    return columns


def _read_csv(data: bytes | bytearray, start: int, header: list[str], types: dict[str, pa.DataType],
              null_values: list[str], newlines_in_values: bool) -> pa.Table:
    return read_arrow_csv(
        data, start,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=True,
                                       block_size=block_size(len(header))),
        parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values),
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types), null_values=null_values,
            strings_can_be_null=True, quoted_strings_can_be_null=True,
        ),
    )


def _raise_if_any(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise SubmissionError(" ".join(sentence for _, sentence in problems), code=problems[0][0])


def _parse_exactly(data, start, header, columns, null_values, newlines) -> tuple[pa.Table, list[tuple[str, str]]]:
    """The error path: explain why the typed parse failed, or recover from what a lenient parse accepts
    (``1.0`` for the label 1, spaces around a number). Values that do not parse are listed and replaced by 0."""
    try:
        check_utf8(data, start)
    except CsvProblem as problem:
        raise SubmissionError(problem.message, code=problem.code) from None
    try:
        strings = _read_csv(data, start, header, {c.name: pa.string() for c in columns}, null_values, newlines)
    except pa.ArrowException as exc:
        scan = scan_rows(data, len(header), want_lines=False)
        if scan.n_bad:
            raise SubmissionError(wrong_width_message(scan, header), code="bad_rows") from None
        raise SubmissionError(f"The file could not be read as CSV: {exc}", code="bad_csv") from None
    line_of = RowLines(data, start, strings.num_rows, len(header))
    problems: list[tuple[str, str]] = []
    typed = {}
    for column in columns:
        values = strings[column.name]
        if column.kind in ("int", "float"):
            cast = try_cast(values, column.kind)
            if cast is None:
                cast, bad = parse_numbers(values, column.kind)
                if len(bad):
                    shown = values.take(pa.array(bad[:MAX_EXAMPLES])).to_pylist()
                    problems.append(("bad_values", bad_values_sentence(
                        column.name, column.kind, column.role, shown, line_of(bad[:MAX_EXAMPLES]), len(bad))))
            values = cast
        typed[column.name] = values
    return pa.table(typed), problems


def _check_values(table: pa.Table, columns: list[Column], line_of: RowLines,
                  problems: list[tuple[str, str]]) -> pa.Table:
    """Whole-column checks after parsing: no empty ids or targets (unless a metric takes text), finite numbers;
    raises with these and the parse ``problems`` found before."""
    for column in columns:
        values = table[column.name]
        if values.null_count and not column.empty_ok:
            rows = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
            problems.append(("empty_values", empty_sentence(column.name, line_of(rows[:MAX_EXAMPLES]), len(rows))))
        if column.kind == "float":
            numbers = values.to_numpy()  # nulls, already reported, read as NaN
            if not np.isfinite(numbers).all():
                bad = np.flatnonzero(~np.isfinite(numbers) & values.is_valid().to_numpy(zero_copy_only=False))
                if len(bad):
                    shown = [repr(float(x)) for x in numbers[bad[:MAX_EXAMPLES]]]
                    problems.append(("bad_values", bad_values_sentence(
                        column.name, "float", column.role, shown, line_of(bad[:MAX_EXAMPLES]), len(bad))))
    _raise_if_any(problems)
    # One new table, not one per column: each set_column copied the whole schema, quadratic in the columns.
    return pa.table({column.name: _as_scored(table[column.name], column) for column in columns})


def _as_scored(values: pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    """A checked column as the metric receives it: empty text as "", a Kaggle metric's columns typed as
    pd.read_csv would type them."""
    if column.role == "text" and values.null_count:
        return pc.fill_null(values, "")
    if column.kind == "auto":
        return infer_like_pandas(values)
    return values


def read_upload(compiled: "CompiledSolution", upload_path: Path, scorer, limits: UploadLimits = UploadLimits(),
                original_name: str | None = None) -> Upload:
    """Read and validate an upload against a compiled solution; SubmissionError says what to fix."""
    compiled.check_scorer(scorer)
    data = load_upload_bytes(Path(upload_path), limits, original_name)
    try:
        start = text_start(data)
        check_header_width(data, start, compiled.expected_header)
        header = parse_header(data, start)
    except CsvProblem as problem:
        raise SubmissionError(problem.message, code=problem.code) from None
    check_header(header, compiled.expected_header)
    columns = plan_columns(compiled)
    frame = compiled.mode == "frame"
    null_values = PANDAS_NA if frame else [""]
    newlines = frame or compiled.mode == "text"  # only free text may hold quoted newlines
    problems: list[tuple[str, str]] = []
    try:
        table = _read_csv(data, start, header, {c.name: c.read_type for c in columns}, null_values, newlines)
    except pa.ArrowException:
        table, problems = _parse_exactly(data, start, header, columns, null_values, newlines)
    if table.num_rows == 0:
        raise SubmissionError(f"The file has the header but no rows; expected {plural(compiled.n_rows, 'row')}, "
                              f"one per id.", code="empty")
    line_of = RowLines(data, start, table.num_rows, len(header))
    return Upload(_check_values(table, columns, line_of, problems), line_of)
