"""Fuzzing the upload parser: whatever bytes a student uploads, scoring answers with two finite scores or with a
SubmissionError whose message says what to fix. Never another exception, never a message the database or a page
cannot hold.

The documents are built to be nearly right, where parsers break: ids missing, repeated or unknown; columns renamed,
repeated or extra; BOMs, other encodings, NaN and infinities, quotes, embedded newlines and NUL bytes, very long
fields, huge numbers, CR or CRLF line ends, other delimiters; wrapped in gzip or zip, nested, truncated. Arbitrary
bytes come too, alone or behind the magic bytes of the formats the parser recognises.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import event, given, strategies as st

from podium.scoring import ScoreResult, SubmissionError, UploadLimits, compile_solution, score_upload
from scorers import get
from scorers.kaggle import load_custom
from tests.fuzz.profiles import fuzz

# Every code a refusal may carry; a new one must be added here on purpose (adapters and the docs rely on them).
CODES = {
    "too_large", "corrupt_archive", "bad_archive", "not_text", "empty", "not_utf8", "bad_header",
    "missing_columns", "extra_columns", "duplicate_columns", "bad_rows", "bad_csv", "bad_values", "empty_values",
    "missing_ids", "unknown_ids", "duplicate_ids", "metric_refused",
}
# Small limits so that generated documents cross them too; a message must still fit a database row and a page.
LIMITS = UploadLimits(max_bytes=400_000, max_decompressed_bytes=300_000)
MAX_MESSAGE = 3_000

# A Kaggle-style metric.py as instructors write them: it checks what it needs and says so with
# ParticipantVisibleError; anything else it raised would be its own bug, reported as "metric_failed".
METRIC_PY = '''
"""Mean absolute error over two columns, Kaggle style."""
import numpy as np
import pandas as pd
import pandas.api.types


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    total = 0.0
    for column in ("x", "y"):
        values = submission[column]
        if not pandas.api.types.is_numeric_dtype(values) or pandas.api.types.is_bool_dtype(values):
            raise ParticipantVisibleError(f"Column {column} must hold numbers.")
        values = values.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise ParticipantVisibleError(f"Column {column} must hold finite numbers.")
        total += float(np.abs(solution[column].to_numpy(dtype=float) - values).mean())
    return total / 2
'''


@dataclass(frozen=True)
class Case:
    """One compiled competition and the values a right answer holds, to build nearly-right uploads from."""

    name: str
    solution: str
    id_column: str
    targets: tuple[str, ...]
    ids: tuple[str, ...]
    good_values: tuple[str, ...]


def _solution(header: str, rows: list[tuple]) -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


USAGE = ["Public", "Private", "Public", "Private", "Ignored", "Private", "Public", "Private"]
CASES = {
    # dense integer ids, integer labels
    "accuracy": Case("accuracy", _solution("id,label,Usage", [(i, i % 3, u) for i, u in enumerate(USAGE)]),
                     "id", ("label",), tuple(str(i) for i in range(8)), ("0", "1", "2")),
    # string ids, numbers
    "rmse": Case("rmse", _solution("key,value,Usage", [(f"k{i}", i * 1.5 - 3, u) for i, u in enumerate(USAGE)]),
                 "key", ("value",), tuple(f"k{i}" for i in range(8)), ("0", "-2.5", "1e3", "0.125")),
    # sparse integer ids, a binary truth, probabilities
    "roc_auc": Case("roc_auc", _solution("id,p,Usage", [(i * 10 + 7, (i // 2) % 2, u) for i, u in enumerate(USAGE)]),
                    "id", ("p",), tuple(str(i * 10 + 7) for i in range(8)), ("0", "1", "0.5", "0.99")),
    # string ids, free text
    "mean_levenshtein": Case("mean_levenshtein",
                             _solution("utt,text,Usage", [(f"u-{i}", f"word {i} here", u) for i, u in enumerate(USAGE)]),
                             "utt", ("text",), tuple(f"u-{i}" for i in range(8)), ("word 1 here", "", "wrd")),
    # a Kaggle metric.py over two target columns
    "custom": Case("custom", _solution("id,x,y,Usage", [(i, i, -i / 4, u) for i, u in enumerate(USAGE)]),
                   "id", ("x", "y"), tuple(str(i) for i in range(8)), ("0", "3", "-0.25", "7.0")),
}


@dataclass
class Compiled:
    case: Case
    compiled: object
    scorer: object
    folder: Path


@pytest.fixture(scope="module")
def competitions(tmp_path_factory) -> dict[str, Compiled]:
    root = tmp_path_factory.mktemp("fuzz-uploads")
    out = {}
    for name, case in CASES.items():
        folder = root / name
        folder.mkdir()
        (folder / "solution.csv").write_text(case.solution)
        if name == "custom":
            (folder / "metric.py").write_text(METRIC_PY)
            scorer = load_custom(folder / "metric.py", higher_is_better=False)
        else:
            scorer = get(name)
        compiled = compile_solution(folder / "solution.csv", case.id_column, scorer, folder / "compiled")
        out[name] = Compiled(case, compiled, scorer, folder)
    return out


# --- the property ---------------------------------------------------------------------------------------------


def check_outcome(competition: Compiled, content: bytes, name: str = "upload.csv") -> ScoreResult | SubmissionError:
    """Score the bytes; a score must be two finite numbers, a refusal a SubmissionError that can be shown."""
    with tempfile.NamedTemporaryFile(dir=competition.folder, suffix="-" + name.replace("/", "_")) as fh:
        fh.write(content)
        fh.flush()
        try:
            result = score_upload(competition.compiled, Path(fh.name), competition.scorer, LIMITS, original_name=name)
        except SubmissionError as exc:
            check_message(exc)
            return exc
    assert math.isfinite(result.public) and math.isfinite(result.private), result
    assert result.rows == len(competition.case.ids)
    return result


def record(outcome: ScoreResult | SubmissionError) -> None:
    """The spread of outcomes, shown by `pytest --hypothesis-show-statistics`: a generator whose documents all
    failed the same first check would test nothing beyond it."""
    event(outcome.code if isinstance(outcome, SubmissionError) else "scored")


def check_message(exc: SubmissionError) -> None:
    message = exc.message
    assert exc.code in CODES, (exc.code, message)
    assert exc.status == (413 if exc.code == "too_large" else 422)
    assert str(exc) == message and message.strip() == message and message
    # Stored in a text column and shown in pages and JSON: no control characters (PostgreSQL refuses NUL), bounded,
    # and never the parser's internals.
    assert not any(unicodedata.category(ch) == "Cc" for ch in message), repr(message)
    assert len(message) <= MAX_MESSAGE, (len(message), message[:300])
    assert "Traceback" not in message and "pyarrow" not in message.lower()


# --- documents ------------------------------------------------------------------------------------------------

HOSTILE_VALUES = st.sampled_from([
    "", " ", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-400", "-0", "0x10", "1_000",
    "\uff11", "٣", "1,5", "1.0", "01", "+1", " 2 ", "True", "false", "None", "NULL", "N/A", "#N/A", "null",
    "9" * 25, "-" + "9" * 25, "1" + "0" * 400, "9223372036854775808", "-9223372036854775809", "1e18",
    "\x00", "a\x00b", "\x01\x02", "\ufeff1", "é", "\u202e1", "\ud7ff", "'=1+1", "=1+1", '"', '""', "a\"b",
    "line\nbreak", "cr\rhere", "crlf\r\nhere", "tab\there", "x" * 70_000, "1" * 70_000,
])
TEXTS = st.text(max_size=30)


def cell(case: Case) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(case.good_values), HOSTILE_VALUES, TEXTS,
                     st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str))


FLAWS = ["missing_ids", "repeated_id", "unknown_id", "header", "cells", "wrong_width", "header_only", "unquoted",
         "delimiter", "encoding"]


@st.composite
def near_csv(draw, case: Case) -> bytes:
    """A CSV document a step or two away from a right answer: none, one or two flaws, in harmless variants
    (order, quoting, CRLF or CR line ends, a BOM) that must not change the outcome."""
    flaws = set(draw(st.lists(st.sampled_from(FLAWS), max_size=2)))
    ids = draw(st.permutations(case.ids))
    if "missing_ids" in flaws:
        dropped = draw(st.sets(st.sampled_from(ids), min_size=1))
        ids = [i for i in ids if i not in dropped]
    if "repeated_id" in flaws and ids:
        ids.insert(draw(st.integers(0, len(ids))), draw(st.sampled_from(ids)))
    if "unknown_id" in flaws:
        ids.insert(draw(st.integers(0, len(ids))), draw(st.one_of(HOSTILE_VALUES, TEXTS)))
    header = draw(st.permutations([case.id_column, *case.targets]))
    if "header" in flaws:
        header = draw(header_mutation(header))
    rows = []
    for row_id in ids:
        row = [row_id if column == case.id_column else draw(st.sampled_from(case.good_values)) for column in header]
        rows.append(row)
    if "cells" in flaws and rows:
        for _ in range(draw(st.integers(1, 3))):
            row = draw(st.sampled_from(rows))
            row[draw(st.integers(0, len(row) - 1))] = draw(cell(case))
    if "wrong_width" in flaws and rows:
        row = draw(st.sampled_from(rows))
        row[:] = row[:-1] if draw(st.booleans()) else row + [draw(cell(case))]
    if "header_only" in flaws:
        rows = []
    delimiter = draw(st.sampled_from([";", "\t", "|", " "])) if "delimiter" in flaws else ","
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out = io.StringIO()
    if "unquoted" in flaws:  # by hand, quoting nothing: embedded delimiters and newlines break the rows
        out.write(newline.join(delimiter.join(r) for r in [header, *rows]))
    else:
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
        csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows([header, *rows])
    text = out.getvalue()
    if draw(st.integers(0, 3)) == 0:
        text = text.removesuffix(newline)  # no final line end
    if "encoding" in flaws:
        encoding = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32", "mixed"]))
    else:
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig"]))
    if encoding == "mixed":  # the first half in UTF-8, the rest in Latin-1, as when two files are pasted together
        half = len(text) // 2
        return text[:half].encode() + text[half:].encode("latin-1", errors="replace")
    return text.encode(encoding, errors="replace")


@st.composite
def header_mutation(draw, header: list[str]) -> list[str]:
    how = draw(st.sampled_from(["rename", "drop", "repeat", "extra", "case", "spaces", "empty", "quoted"]))
    header = list(header)
    if how == "rename":
        header[draw(st.integers(0, len(header) - 1))] = draw(st.one_of(TEXTS, HOSTILE_VALUES))
    elif how == "drop":
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif how == "repeat":
        header.append(draw(st.sampled_from(header)))
    elif how == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(st.one_of(TEXTS, HOSTILE_VALUES)))
    elif how == "case":
        header = [h.upper() for h in header]
    elif how == "spaces":  # surrounding spaces are forgiven
        header = [f" {h} " for h in header]
    elif how == "empty":  # a saved pandas index
        header = ["", *header]
    else:  # a name with a delimiter or a line end inside quotes
        header[draw(st.integers(0, len(header) - 1))] += draw(st.sampled_from([",x", "\nx", "\rx", '"']))
    return header


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def zipped(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


MEMBER_NAMES = st.sampled_from(["p.csv", "P.CSV", "dir/p.csv", "p.txt", "p.csv.gz", "__MACOSX/._p.csv", "._p.csv",
                                "p", "../p.csv", "/abs/p.csv", "p.csv/"])


@st.composite
def wrapped(draw, inner: bytes) -> tuple[bytes, str]:
    """The document plain, gzip'd, zipped (one member, several, nested, stored), and possibly damaged."""
    how = draw(st.sampled_from(["plain"] * 4 + ["gzip", "gzip2", "zip", "zip_stored", "zip_many", "zip_in_zip",
                                                "gzip_in_zip", "zip_in_gzip"]))
    name = "upload.csv"
    if how == "gzip":
        data, name = gz(inner), "upload.csv.gz"
    elif how == "gzip2":  # two gzip members, as `cat a.gz b.gz` makes
        cut = draw(st.integers(0, len(inner)))
        data, name = gz(inner[:cut]) + gz(inner[cut:]), "upload.csv.gz"
    elif how == "zip":
        data, name = zipped([(draw(MEMBER_NAMES), inner)]), "upload.zip"
    elif how == "zip_stored":
        data, name = zipped([("p.csv", inner)], zipfile.ZIP_STORED), "upload.zip"
    elif how == "zip_many":
        names = draw(st.lists(MEMBER_NAMES, min_size=2, max_size=4, unique=True))
        data, name = zipped([(n, inner) for n in names]), "upload.zip"
    elif how == "zip_in_zip":
        data, name = zipped([("inner.zip", zipped([("p.csv", inner)]))]), "upload.zip"
    elif how == "gzip_in_zip":
        data, name = zipped([("p.csv", gz(inner))]), "upload.zip"
    elif how == "zip_in_gzip":
        data, name = gz(zipped([("p.csv", inner)])), "upload.csv.gz"
    else:
        data = inner
    damage = draw(st.sampled_from(["none"] * 5 + ["truncate", "flip", "append"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    elif damage == "append":
        data += draw(st.binary(max_size=64))
    return data, name


MAGICS = st.sampled_from([b"", b"\x1f\x8b", b"\x1f\x8b\x08\x00", b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08",
                          b"\xef\xbb\xbf", b"\xff\xfe", b"PAR1", b"BZh91AY&SY", b"id,label\n", b"id,label\r\n0,"])


# --- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(CASES))
@fuzz(60)
@given(data=st.data())
def test_nearly_right_csv_scores_or_says_what_to_fix(competitions, metric, data):
    competition = competitions[metric]
    document = data.draw(near_csv(competition.case), label="document")
    content, name = data.draw(wrapped(document), label="upload")
    outcome = check_outcome(competition, content, name)
    record(outcome)
    if isinstance(outcome, SubmissionError):
        # A built-in metric never blames the student's file on itself, nor does this metric.py: every refusal is
        # one the parser or the metric's own check gives.
        assert outcome.code != "metric_failed"


@pytest.mark.parametrize("metric", ["accuracy", "mean_levenshtein", "custom"])
@fuzz(80)
@given(magic=MAGICS, body=st.binary(max_size=3_000))
def test_arbitrary_bytes_score_or_say_what_to_fix(competitions, metric, magic, body):
    record(check_outcome(competitions[metric], magic + body))


@fuzz(40)
@given(body=st.binary(min_size=1, max_size=2_000), how=st.sampled_from(["gzip", "zip", "zip_in_zip"]))
def test_arbitrary_bytes_in_archives_score_or_say_what_to_fix(competitions, body, how):
    content = {"gzip": lambda: gz(body), "zip": lambda: zipped([("p.csv", body)]),
               "zip_in_zip": lambda: zipped([("p.zip", zipped([("p.csv", body)]))])}[how]()
    record(check_outcome(competitions["rmse"], content, "p.zip" if "zip" in how else "p.csv.gz"))


@pytest.mark.parametrize("metric", list(CASES))
def test_the_right_answer_scores_in_every_wrapper(competitions, metric):
    """The generator's starting point is a file that scores: the fuzz tests above would not notice if it did not."""
    case = competitions[metric].case
    solution = list(csv.reader(io.StringIO(case.solution)))
    document = "\n".join(",".join(row[:-1]) for row in solution).encode() + b"\n"  # without Usage
    for content, name in [(document, "a.csv"), (gz(document), "a.csv.gz"), (zipped([("a.csv", document)]), "a.zip")]:
        result = check_outcome(competitions[metric], content, name)
        assert isinstance(result, ScoreResult), result
        best = 1.0 if competitions[metric].scorer.higher_is_better else 0.0
        assert (result.public, result.private) == (pytest.approx(best), pytest.approx(best))


def _zip_with_field(field: str, value: int) -> bytes:
    """A valid one-file zip with one field of its central directory rewritten."""
    archive = bytearray(zipped([("p.csv", b"id,label\n0,0\n")]))
    central = archive.index(b"PK\x01\x02")
    if field == "version_needed":
        archive[central + 6: central + 8] = value.to_bytes(2, "little")
    else:  # the UTF-8 name flag on a name that is not UTF-8
        archive[central + 8: central + 10] = (0x800).to_bytes(2, "little")
        archive[archive.index(b"p.csv", central)] = value
    return bytes(archive)


# Inputs the fuzzing found, kept so that they are tried on every run (the generated ones vary with the generator).
@pytest.mark.parametrize("metric, content, name, outcome", [
    # Lone CR line ends (Excel for Mac's "CSV (Macintosh)"): the header reader raised csv.Error.
    ("accuracy", b"id,label\r" + b"".join(b"%d,%d\r" % (i, i % 3) for i in range(8)), "mac.csv", "scored"),
    ("accuracy", b"id,label\r0,0\r1,0\r2,0\r3,0\r4\r5,0\r6,0\r7,0", "mac.csv", "bad_rows"),
    # A zip whose central directory asks for a zip version Python does not implement: NotImplementedError.
    ("rmse", _zip_with_field("version_needed", 84), "p.zip", "corrupt_archive"),
    # A zip that flags its member name as UTF-8 when it is not: UnicodeDecodeError.
    ("rmse", _zip_with_field("utf8_name", 0xFF), "p.zip", "corrupt_archive"),
])
def test_inputs_the_fuzzing_found(competitions, metric, content, name, outcome):
    result = check_outcome(competitions[metric], content, name)
    assert (result.code if isinstance(result, SubmissionError) else "scored") == outcome, result
