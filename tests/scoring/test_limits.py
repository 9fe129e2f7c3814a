"""Limits against files built to exhaust the scorer: zips of many entries, nested archives, lines of tens of
megabytes. Each is refused (or read) with a message that says what to fix, within bounded memory. The plain gzip
and zip bombs and the zip that under-declares its size are in test_upload_formats.py."""
from __future__ import annotations

import gzip
import io
import resource
import struct
import zipfile

import pytest

from podium.scoring import UploadLimits
from tests.scoring.conftest import EXACT_TEXT, TRUTH, Competition, upload_text
from tests.scoring.test_upload_formats import check_half_right, HALF_RIGHT, zipped

MESSAGE_MAX = 1_000  # a refusal quotes a few values, shortened: never the tens of megabytes it was given


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _many_entries(n: int) -> bytes:
    """A zip of `n` empty files, written by hand: zipfile takes seconds for what this takes milliseconds."""
    local, central, offset = [], [], 0
    for i in range(n):
        name = b"%x.csv" % i
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0,
                                   0, offset) + name)
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n & 0xFFFF, n & 0xFFFF, len(directory), offset, 0)
    return b"".join(local) + directory + end


def test_a_zip_of_a_hundred_thousand_entries_is_refused_before_it_is_opened(labels):
    bomb = _many_entries(100_000)  # 9 MB, of which a 5 MB table of contents
    before = _peak_rss_mb()
    error = labels.error(bomb, name="p.zip")
    assert error.message == ("The zip archive lists too many files (its table of contents alone is 5.4 MB); it "
                             "must hold exactly one CSV file.")
    assert error.code == "bad_archive"
    # zipfile would have built an object per entry (2 GB and a minute for the 200 MB an upload may be)
    assert _peak_rss_mb() - before < 50


def test_a_zip_of_a_few_hundred_entries_names_a_few(labels):
    error = labels.error(_many_entries(300), name="p.zip")
    assert error.message.startswith("The zip archive holds 300 files (`0.csv`, `1.csv`, `2.csv`, `3.csv`, `4.csv` "
                                    "and 295 more); it must hold exactly one CSV file.")


def _as_zip64(archive: bytes) -> bytes:
    """The same archive ended the zip64 way, as streaming zip tools write it: the classic end record's sizes are
    0xFFFF... and the real ones are in a zip64 end record found through its locator."""
    end = archive.rindex(b"PK\x05\x06")
    entries, size, offset = struct.unpack_from("<2xHLL", archive, end + 8)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    classic = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return archive[:end] + record + locator + classic


def test_a_zip64_archive_with_one_csv_scores(labels):
    """The table-of-contents limit reads the zip64 end record: its 0xFFFFFFFF placeholder is not a size."""
    archive = _as_zip64(zipped({"p.csv": upload_text(HALF_RIGHT)}))
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist() == ["p.csv"]
    check_half_right(labels.score(archive, name="p.zip"))


def test_a_zip_inside_a_zip_is_not_opened(labels):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("p.csv", "w", force_zip64=True) as member:  # 300 MB of zeros: a bomb if inflated
            for _ in range(300):
                member.write(b"0" * 1_000_000)
    before = _peak_rss_mb()
    error = labels.error(zipped({"inner.zip": inner.getvalue()}), name="p.zip")
    assert error.message == ("The zip archive holds `inner.zip`, which is not a CSV file; it must hold exactly one "
                             "file ending in .csv.")
    assert _peak_rss_mb() - before < 100


def test_a_gzip_holding_a_zip_is_not_opened_as_one(labels):
    error = labels.error(gzip.compress(zipped({"p.csv": upload_text(TRUTH)})), name="p.csv.gz")
    assert error.code == "not_text" and error.message.startswith("The file contains binary data")


def test_a_gzip_of_ten_thousand_empty_members_is_an_empty_file(labels):
    error = labels.error(gzip.compress(b"") * 10_000, name="p.csv.gz")
    assert (error.code, error.message) == ("empty", "The file is empty.")


def test_decompression_stops_at_the_limit_exactly(labels):
    text = upload_text(TRUTH).encode()
    padded = text + b"\n" * (100_000 - len(text))  # blank lines are skipped
    check = labels.score(gzip.compress(padded), name="p.csv.gz", limits=UploadLimits(max_decompressed_bytes=100_000))
    assert (check.public, check.private) == (1.0, 1.0)
    error = labels.error(gzip.compress(padded + b"\n"), name="p.csv.gz",
                         limits=UploadLimits(max_decompressed_bytes=100_000))
    assert error.code == "too_large" and error.status == 413


# --- lines of tens of megabytes ------------------------------------------------------------------------------

FIFTY_MB = 50_000_000


@pytest.mark.parametrize("how", ["plain", "gzip"])
def test_a_50_mb_first_line_without_a_newline(labels, how):
    content = b"id,label" + b"x" * FIFTY_MB  # one header name of 50 MB, no row
    content = gzip.compress(content, compresslevel=1) if how == "gzip" else content
    error = labels.error(content, name="p.csv.gz" if how == "gzip" else "p.csv")
    assert error.code == "missing_columns" and len(error.message) < MESSAGE_MAX
    assert error.message.startswith("Expected the header `id,label`; found `id,labelxxxx")


def test_a_50_mb_value_on_one_line(labels):
    """pyarrow reads in blocks of a megabyte and gave up on this row as "straddling two block boundaries": the
    student was told the file was not CSV, and to "increase block size"."""
    rows = upload_text(TRUTH).replace("\n9,2\n", "\n9," + "2" * FIFTY_MB + "\n")
    error = labels.error(rows)
    assert error.code == "bad_values" and len(error.message) < MESSAGE_MAX
    assert error.message.startswith("Column `label` has 1 value that is not an integer class label, e.g. line 11: "
                                    "`22222")


def test_50_mb_of_rows_without_a_single_newline(labels):
    error = labels.error(b"id,label\n" + b"1,2," * (FIFTY_MB // 4))
    assert error.code == "bad_rows" and len(error.message) < MESSAGE_MAX
    assert error.message.startswith("1 line has the wrong number of fields (expected 2")


def test_a_50_mb_text_value_is_read_and_scored(tmp_path):
    competition = Competition(tmp_path, "id,text,Usage\n1,short,Public\n2,long,Private\n", EXACT_TEXT)
    result = competition.score(b"id,text\n1,short\n2," + b"a" * FIFTY_MB + b"\n")
    assert (result.public, result.private) == (1.0, 0.0)
