"""Accepted file formats and encodings, and the refusals of files that are not CSV text."""
from __future__ import annotations

import gzip
import io
import resource
import zipfile
import zlib

import pytest

from podium.demo.code import zipped
from podium.scoring import UploadLimits
from tests.scoring.conftest import ACCURACY, TRUTH, Competition, upload_text

HALF_RIGHT = {**TRUTH, 0: 0, 1: 0}  # public 2/3, private 4/5


def check_half_right(result) -> None:
    assert result.public == pytest.approx(2 / 3)
    assert result.private == pytest.approx(4 / 5)
    assert result.rows == 10


@pytest.mark.parametrize("variant", ["plain", "bom", "crlf", "quoted", "no_final_newline", "bom_crlf_quoted",
                                     "spaces_in_header", "reordered_columns"])
def test_csv_text_variants_score_the_same(labels, variant):
    text = upload_text(HALF_RIGHT)
    if variant == "bom":
        content = b"\xef\xbb\xbf" + text.encode()
    elif variant == "crlf":
        content = upload_text(HALF_RIGHT, newline="\r\n").encode()
    elif variant == "quoted":
        content = ('"id","label"\n' + "".join(f'"{i}","{v}"\n' for i, v in HALF_RIGHT.items())).encode()
    elif variant == "no_final_newline":
        content = text.rstrip("\n").encode()
    elif variant == "bom_crlf_quoted":
        content = b"\xef\xbb\xbf" + ('"id","label"\r\n' + "".join(f'{i},"{v}"\r\n' for i, v in HALF_RIGHT.items())).encode()
    elif variant == "spaces_in_header":
        content = text.replace("id,label", " id , label ").encode()
    elif variant == "reordered_columns":
        content = ("label,id\n" + "".join(f"{v},{i}\n" for i, v in HALF_RIGHT.items())).encode()
    else:
        content = text.encode()
    check_half_right(labels.score(content))


@pytest.mark.parametrize("name", ["predictions.csv.gz", "predictions.csv", "predictions.gz"])
def test_gzip_is_detected_by_its_magic_bytes(labels, name):
    check_half_right(labels.score(gzip.compress(upload_text(HALF_RIGHT).encode()), name=name))


def test_multi_member_gzip(labels):
    text = upload_text(HALF_RIGHT).encode()
    half = len(text) // 2
    check_half_right(labels.score(gzip.compress(text[:half]) + gzip.compress(text[half:])))


@pytest.mark.parametrize("name", ["predictions.zip", "predictions.csv"])
def test_zip_with_one_csv(labels, name):
    check_half_right(labels.score(zipped({"predictions.csv": upload_text(HALF_RIGHT)}), name=name))


def test_zip_made_on_a_mac_ignores_resource_forks(labels):
    archive = zipped({"sub/predictions.csv": upload_text(HALF_RIGHT), "__MACOSX/sub/._predictions.csv": b"\x00\x05",
                      "sub/.DS_Store": b"\x00\x00"})
    check_half_right(labels.score(archive, name="sub.zip"))


def test_zip_with_a_bom_and_crlf_inside(labels):
    content = b"\xef\xbb\xbf" + upload_text(HALF_RIGHT, newline="\r\n").encode()
    check_half_right(labels.score(zipped({"p.csv": content}), name="p.zip"))


def test_zip_without_a_csv(labels):
    error = labels.error(zipped({"notes.txt": "hello"}), name="sub.zip")
    assert error.message == ("The zip archive holds `notes.txt`, which is not a CSV file; it must hold exactly one "
                             "file ending in .csv.")
    assert error.code == "bad_archive" and error.status == 422


def test_empty_zip(labels):
    error = labels.error(zipped({}), name="sub.zip")
    assert error.message == "The zip archive contains no file; it must hold exactly one CSV file."


def test_zip_with_several_files(labels):
    error = labels.error(zipped({"a.csv": "id,label\n", "b.csv": "id,label\n", "c.txt": "x"}), name="sub.zip")
    assert error.message == ("The zip archive holds 3 files (`a.csv`, `b.csv`, `c.txt`); it must hold exactly one "
                             "CSV file.")


def test_excel_workbook_is_named(labels):
    workbook = zipped({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
    error = labels.error(workbook, name="predictions.xlsx")
    assert error.message == "The file `predictions.xlsx` is an Excel workbook, not a CSV file. Save it as CSV (UTF-8)."


def test_corrupt_zip(labels):
    error = labels.error(b"PK\x03\x04" + b"\x01" * 200, name="sub.zip")
    assert error.message.startswith("The file is a zip archive but it is corrupt")
    assert error.code == "corrupt_archive"


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_corrupt_gzip(labels, damage):
    packed = gzip.compress(upload_text(TRUTH).encode() * 20)
    content = packed[: len(packed) // 2] if damage == "truncated" else packed[:12] + b"\xff" * 40 + packed[52:]
    error = labels.error(content, name="p.csv.gz")
    assert error.message.startswith("The file is gzip-compressed but corrupt or truncated (")
    assert error.message.endswith("Compress it again, or upload the CSV file uncompressed.")
    assert error.code == "corrupt_archive"


def test_file_over_the_size_limit(labels):
    content = upload_text(TRUTH) + "\n" * 2_000_000  # 2 MB
    error = labels.error(content, limits=UploadLimits(max_bytes=1_000_000))
    assert error.message == "The file is 2.0 MB; the limit is 1 MB."
    assert error.code == "too_large" and error.status == 413


def test_plain_file_over_the_decompressed_limit(labels):
    error = labels.error(upload_text(TRUTH) + " " * 1_500_000, limits=UploadLimits(max_decompressed_bytes=1_000_000))
    assert error.message == "The file is 1.5 MB; the limit is 1 MB."


def test_size_just_over_the_limit_is_given_in_bytes(labels):
    content = upload_text(TRUTH).encode()
    content += b" " * (1_000_001 - len(content))
    error = labels.error(content, limits=UploadLimits(max_bytes=1_000_000))
    assert error.message == "The file is 1.0 MB (1,000,001 bytes); the limit is 1 MB."


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gzip_bomb(n_bytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0" * (1 << 20)
    parts = [compressor.compress(b"id,label\n")]
    parts += [compressor.compress(chunk) for _ in range(n_bytes // len(chunk))]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_not_inflated(labels):
    bomb = _gzip_bomb(600_000_000)
    assert len(bomb) < 1_000_000
    before = _peak_rss_mb()
    error = labels.error(bomb, name="p.csv.gz", limits=UploadLimits(max_decompressed_bytes=5_000_000))
    assert error.message == "The file decompresses to more than 5 MB (reading stopped there); the limit is 5 MB."
    assert error.code == "too_large"
    assert _peak_rss_mb() - before < 100  # reading stopped at the limit: no 600 MB in memory


def test_zip_bomb_is_refused_from_its_declared_size(labels):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("p.csv", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(b"0" * 1_000_000)
    before = _peak_rss_mb()
    error = labels.error(buffer.getvalue(), name="p.zip", limits=UploadLimits(max_decompressed_bytes=5_000_000))
    assert error.message == "The CSV file in the zip archive (`p.csv`) is 300 MB uncompressed; the limit is 5 MB."
    assert error.status == 413
    assert _peak_rss_mb() - before < 100


def _forge_uncompressed_size(archive: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size a one-file zip declares, in its local header and its central directory."""
    forged = bytearray(archive)
    local, central = forged.index(b"PK\x03\x04"), forged.index(b"PK\x01\x02")
    forged[local + 22: local + 26] = size.to_bytes(4, "little")
    forged[central + 24: central + 28] = size.to_bytes(4, "little")
    return bytes(forged)


def test_zip_that_lies_about_its_size_is_not_inflated(labels):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("p.csv", "w") as member:  # written in chunks: the test itself stays small
            for _ in range(200):
                member.write(b"0" * 1_000_000)
    forged = _forge_uncompressed_size(buffer.getvalue(), 10)
    assert len(forged) < 1_000_000
    before = _peak_rss_mb()
    error = labels.error(forged, name="p.zip", limits=UploadLimits(max_decompressed_bytes=5_000_000))
    assert error.message == ("The zip archive is corrupt or uses an unsupported compression (Bad CRC-32 for file "
                             "'p.csv'); create it again with standard (deflate) compression.")
    assert error.code == "corrupt_archive"
    assert _peak_rss_mb() - before < 100


def test_binary_content_names_the_byte_and_line(labels):
    error = labels.error(b"id,label\n0,3\n1,\x00\x01\x02\n")
    assert error.message == ("The file contains binary data (a NUL byte at byte offset 15, line 3), so it is not a "
                             "CSV text file. Save your predictions as a plain CSV text file in UTF-8 (optionally "
                             "compressed as .gz or .zip).")
    assert error.code == "not_text"


@pytest.mark.parametrize("content, what", [
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "an Excel (.xls) workbook"),
    (b"PAR1" + b"\x15\x04" * 50 + b"PAR1", "a Parquet file"),
    (b"BZh91AY&SY" + bytes(range(1, 100)), "a bzip2-compressed file"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
])
def test_other_binary_formats_are_named(labels, content, what):
    error = labels.error(content)
    assert error.message.startswith(f"The file is {what}")
    assert error.code == "not_text"


def test_utf16_is_refused_with_advice(labels):
    error = labels.error(upload_text(TRUTH).encode("utf-16"))
    assert error.message.startswith("The file is UTF-16 text, not a CSV text file.")


def test_non_utf8_bytes_name_offset_and_line(tmp_path):
    competition = Competition(tmp_path, "id,label,Usage\n1,chat,Public\n2,chien,Private\n", ACCURACY)
    content = "id,label\n1,chat\n2,caf\xe9\n".encode("latin-1")
    error = competition.error(content)
    assert error.message == ("The file is not UTF-8 text: byte 0xe9 at byte offset 21 (line 3) is not valid UTF-8. "
                             "Save the file with the UTF-8 encoding.")
    assert error.code == "not_utf8"


def test_non_utf8_in_an_integer_column_is_still_an_encoding_error(labels):
    error = labels.error(upload_text(TRUTH).replace("9,2", "9,2\xe9").encode("latin-1"))
    assert error.code == "not_utf8"
    assert "line 11" in error.message


def test_utf8_text_labels_are_accepted(tmp_path):
    competition = Competition(tmp_path, "id,label,Usage\n1,café,Public\n2,naïve,Private\n", ACCURACY)
    result = competition.score("id,label\n2,naïve\n1,cafe\n")
    assert (result.public, result.private) == (0.0, 1.0)
