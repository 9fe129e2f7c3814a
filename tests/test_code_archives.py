"""Students' code uploads are read without trusting them: every hostile archive is refused with a message that says
what to fix, and limits hold on the bytes read, not on what headers claim. No database: these run once."""
from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from podium.code_archives import CodeArchiveError, Limits, check, kind_of, texts

SMALL = Limits(total_bytes=3_000_000, member_bytes=2_000_000, entries=50, ratio=100, ratio_floor=100_000)


def make_zip(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None,
             compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tar(path: Path, members: dict[str, bytes], *, extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)
    return path


def refused(path: Path, kind: str, limits: Limits = SMALL) -> str:
    with pytest.raises(CodeArchiveError) as caught:
        check(path, kind, limits)
    with pytest.raises(CodeArchiveError):  # reading the texts refuses alike
        list(texts(path, kind, limits))
    return str(caught.value)


def test_kinds_by_name():
    assert [kind_of(n) for n in ("a.ZIP", "b.tar.gz", "c.tgz", "d.py", "e.ipynb", "f.rar", "g.gz")] == [
        ".zip", ".tar.gz", ".tar.gz", ".py", ".ipynb", None, None]


def test_good_uploads_yield_their_files(tmp_path):
    z = make_zip(tmp_path / "c.zip", {"src/model.py": b"import torch\n", "README.md": b"# hi\n", "src/": b""})
    assert [(m.name, m.size_bytes) for m in check(z, ".zip")] == [("src/model.py", 13), ("README.md", 5)]
    assert dict(texts(z, ".zip")) == {"src/model.py": b"import torch\n", "README.md": b"# hi\n"}
    t = make_tar(tmp_path / "c.tar.gz", {"a/train.py": b"x = 1\n", "inner.zip": b"PK\x03\x04 not opened"})
    assert dict(texts(t, ".tar.gz")) == {"a/train.py": b"x = 1\n", "inner.zip": b"PK\x03\x04 not opened"}
    py = tmp_path / "solo.py"
    py.write_bytes(b"print('hi')\n")
    assert list(texts(py, ".py")) == [("solo.py", b"print('hi')\n")]
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [], "nbformat": 4}))
    assert [m.name for m in check(nb, ".ipynb")] == ["n.ipynb"]


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/passwd", "C:/evil.py", "..\\evil.py"])
def test_zip_slip_and_absolute_paths_are_refused(tmp_path, name):
    message = refused(make_zip(tmp_path / "c.zip", {"ok.py": b"1", name: b"x"}), ".zip")
    assert ("leaves the archive" in message) or ("absolute path" in message)
    assert "inside your project folder" in message


@pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py"])
def test_tar_slip_and_absolute_paths_are_refused(tmp_path, name):
    message = refused(make_tar(tmp_path / "c.tar.gz", {name: b"x"}), ".tar.gz")
    assert "inside your project folder" in message


def test_links_are_refused_in_zip_and_tar(tmp_path):
    assert "is a link" in refused(make_zip(tmp_path / "c.zip", {"a.py": b"1"}, links={"l": "/etc/passwd"}), ".zip")
    for link_type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info = tarfile.TarInfo("link.py")
        info.type, info.linkname = link_type, "/etc/passwd"
        message = refused(make_tar(tmp_path / f"c{link_type!r}.tar.gz", {"a.py": b"1"}, extra=[info]), ".tar.gz")
        assert "link.py is a link" in message


def test_devices_in_a_tar_are_refused(tmp_path):
    info = tarfile.TarInfo("dev")
    info.type = tarfile.CHRTYPE
    assert "not a regular file" in refused(make_tar(tmp_path / "c.tar.gz", {}, extra=[info]), ".tar.gz")


def test_a_bomb_by_ratio_is_refused(tmp_path):
    # 1.5 MB of zeros compress to about 1.5 KB: a ratio of 1000, within every size limit.
    assert "times" in refused(make_zip(tmp_path / "c.zip", {"zeros.py": bytes(1_500_000)}), ".zip")
    assert "times" in refused(make_tar(tmp_path / "c.tar.gz", {"zeros.py": bytes(1_500_000)}), ".tar.gz")


def test_a_bomb_by_total_size_is_refused_even_when_headers_lie(tmp_path):
    # Stored (no compression), so no ratio applies: only the total counts.
    members = {f"f{i}.py": bytes(1_000_000) for i in range(4)}
    message = refused(make_zip(tmp_path / "c.zip", members, compression=zipfile.ZIP_STORED), ".zip",
                      Limits(total_bytes=3_000_000, member_bytes=2_000_000, entries=50))
    assert "more than 3 MB once decompressed" in message
    # A header that claims a small size does not shorten what is read: patch the central directory's size field.
    path = make_zip(tmp_path / "lie.zip", {"big.py": bytes(2_500_000)}, compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(data))
    message = refused(path, ".zip", Limits(total_bytes=10_000_000, member_bytes=2_000_000))
    assert "big.py" in message and ("larger than 2 MB" in message or "cannot be read" in message)


def test_one_member_too_large_is_refused(tmp_path):
    path = make_zip(tmp_path / "c.zip", {"weights.py": bytes(2_100_000)}, compression=zipfile.ZIP_STORED)
    assert "weights.py is larger than 2 MB" in refused(path, ".zip")


def test_ten_thousand_entries_are_refused(tmp_path):
    members = {f"f{i}.py": b"" for i in range(10_000)}
    message = refused(make_zip(tmp_path / "c.zip", members), ".zip", Limits())
    assert "more than 2,000 entries" in message and "__pycache__" in message
    message = refused(make_tar(tmp_path / "c.tar.gz", members), ".tar.gz", Limits())
    assert "more than 2,000 entries" in message


def test_wrong_kinds_are_refused(tmp_path):
    fake = tmp_path / "c.zip"
    fake.write_text("print(1)\n")
    assert "not a zip archive" in refused(fake, ".zip")
    assert "not a .tar.gz archive" in refused(fake, ".tar.gz")
    assert "not a Jupyter notebook" in refused(fake, ".ipynb")
    binary = tmp_path / "c.py"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in refused(binary, ".py")
    assert "not accepted; upload one of .zip, .tar.gz, .py, .ipynb" in refused(fake, ".rar")


def test_encrypted_zip_members_are_refused(tmp_path):
    path = make_zip(tmp_path / "c.zip", {"a.py": b"1"})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    path.write_bytes(bytes(data))
    assert "encrypted" in refused(path, ".zip")


def test_a_zip_needing_a_version_no_reader_has_is_refused(tmp_path):
    # The central directory's "version needed to extract" of a member set to 9.9 (by a newer tool or by hand):
    # zipfile raises NotImplementedError while opening the archive, which must be a refusal, never a 500.
    path = make_zip(tmp_path / "c.zip", {"a.py": b"print(1)\n"})
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    data[at + 6:at + 8] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    assert "uses a zip feature that cannot be read here (zip file version 9.9)" in refused(path, ".zip")


def central_directory_bomb(path: Path, entries: int, claimed: int | None = None) -> Path:
    """A small zip whose central directory lists `entries` one-byte names, all pointing at one local header: 47
    bytes an entry, so a 20 MB upload lists 400,000 of them."""
    import struct

    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    one = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    directory = one * entries
    count = min(entries, 0xFFFF) if claimed is None else claimed
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(local), 0)
    path.write_bytes(local + directory + end)
    return path


def test_a_central_directory_bomb_is_refused_before_zipfile_reads_it(tmp_path, monkeypatch):
    # zipfile reads the whole central directory into memory before the entry count can be checked: 400,000 entries
    # of a 20 MB upload are 4 s and 180 MB, 1000 MB of them would exhaust the server. Its size is read first.
    path = central_directory_bomb(tmp_path / "c.zip", 50_000)

    def never(*args, **kwargs):
        raise AssertionError("zipfile read a central directory of 50,000 entries")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    message = refused(path, ".zip", Limits())
    assert "more than 2,000 entries" in message
    lying = central_directory_bomb(tmp_path / "lying.zip", 50_000, claimed=1)  # the count lies, the size cannot
    assert "more than 2,000 entries" in refused(lying, ".zip", Limits())
