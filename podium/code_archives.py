"""Students' code uploads, checked without trusting them (POLICY.md section 12; issue 17).

An upload is a single `.py` or `.ipynb` file, or a `.zip` or `.tar.gz` archive of files. An archive is read, never
extracted: every member is streamed through the standard library's readers with the limits enforced on the bytes
actually read, not on the sizes its headers claim. Refused, each with a message that says what to fix:

- member names that leave the archive (absolute paths, drive letters, `..`), links (symbolic or hard), devices;
- bombs: more bytes once decompressed than `Limits.total_bytes` in all or `Limits.member_bytes` in one member,
  or a decompressed size many times (`Limits.ratio`) the compressed one;
- more than `Limits.entries` members; encrypted zip members;
- a file that is not what its name says (a `.zip` that is no zip archive, a notebook that is not JSON).

An archive inside an archive is just a file: it is never opened. Nothing here imports the web or the database.
"""
from __future__ import annotations

import gzip
import json
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

KINDS = (".zip", ".tar.gz", ".py", ".ipynb")
CHUNK = 1 << 16
MB = 1_000_000


class CodeArchiveError(ValueError):
    """An upload refused; the message says what is wrong and what to upload instead."""


@dataclass(frozen=True)
class Limits:
    """What one upload may hold once decompressed. Below `ratio_floor` bytes no ratio is checked: a small file of
    repeated lines compresses well and harms no one."""

    total_bytes: int = 200 * MB
    member_bytes: int = 50 * MB
    entries: int = 2000
    ratio: float = 100.0
    ratio_floor: int = 1 * MB


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Member:
    """A regular file of an upload: its name inside the archive (the file's own name for a single file) and its
    size in bytes, as read."""

    name: str
    size_bytes: int


def kind_of(file_name: str) -> str | None:
    """The kind of an upload by the end of its name (case ignored), or None when it is none of KINDS."""
    lowered = file_name.lower()
    if lowered.endswith(".tgz"):
        return ".tar.gz"
    return next((kind for kind in KINDS if lowered.endswith(kind)), None)


def check(path: Path, kind: str, limits: Limits = DEFAULT_LIMITS) -> list[Member]:
    """Read the whole upload within the limits; its regular members, or CodeArchiveError saying what to fix."""
    return [member for member, _ in _walk(Path(path), kind, limits, keep=False)]


def texts(path: Path, kind: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[str, bytes]]:
    """(member name, raw bytes) for every regular member of an upload, in archive order; a single .py or .ipynb
    yields itself. The limits hold here too, so a file changed on disk since its check is still read safely."""
    for member, data in _walk(Path(path), kind, limits, keep=True):
        yield member.name, data


# --- reading ---------------------------------------------------------------------------------------------------


def _walk(path: Path, kind: str, limits: Limits, keep: bool) -> Iterator[tuple[Member, bytes]]:
    if kind not in KINDS:
        raise CodeArchiveError(f"{kind or 'This kind of file'} is not accepted; upload one of {', '.join(KINDS)}.")
    if kind == ".zip":
        yield from _zip_members(path, limits, keep)
    elif kind == ".tar.gz":
        yield from _tar_members(path, limits, keep)
    else:
        yield _single(path, kind, limits)


def _single(path: Path, kind: str, limits: Limits) -> tuple[Member, bytes]:
    with open(path, "rb") as stream:
        data = _read_limited(stream, path.name, limits.member_bytes, Budget(limits, compressed=None))
    if kind == ".py":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeArchiveError(f"{path.name} is not UTF-8 text; save the Python file as UTF-8 and upload it "
                                   "again.") from None
    else:
        try:
            notebook = json.loads(data)
        except (ValueError, RecursionError):
            raise CodeArchiveError(f"{path.name} is not a Jupyter notebook (not JSON); upload the .ipynb file as "
                                   "Jupyter saves it.") from None
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise CodeArchiveError(f"{path.name} is not a Jupyter notebook (it has no list of cells); upload the "
                                   ".ipynb file as Jupyter saves it.")
    return Member(path.name, len(data)), data


class Budget:
    """Bytes decompressed so far in one upload, against the total and ratio limits."""

    def __init__(self, limits: Limits, compressed: int | None):
        self.limits, self.compressed, self.total = limits, compressed, 0

    def spend(self, count: int) -> None:
        self.total += count
        if self.total > self.limits.total_bytes:
            raise CodeArchiveError(f"The archive holds more than {_mb(self.limits.total_bytes)} once decompressed; "
                                   "upload only your code, without data, models or outputs.")
        if (self.compressed is not None and self.total > self.limits.ratio_floor
                and self.total > self.limits.ratio * max(self.compressed, 1)):
            raise CodeArchiveError(f"The archive decompresses to more than {self.limits.ratio:g} times its size, "
                                   "which code does not; upload only your code, without generated files.")


def _read_limited(stream: BinaryIO, name: str, member_limit: int, budget: Budget,
                  compressed: int | None = None) -> bytes:
    """A member's bytes as read (never its header's size), stopping at the first limit passed."""
    parts, size = [], 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > member_limit:
            raise CodeArchiveError(f"{name} is larger than {_mb(member_limit)} once decompressed; upload only "
                                   "your code, without data, models or outputs.")
        if compressed is not None and size > budget.limits.ratio_floor and size > budget.limits.ratio * max(compressed, 1):
            raise CodeArchiveError(f"{name} decompresses to more than {budget.limits.ratio:g} times its compressed "
                                   "size, which code does not; upload only your code, without generated files.")
        budget.spend(len(chunk))
        parts.append(chunk)
    return b"".join(parts)


# A central directory entry is 46 bytes and its name, extra field and comment: a code archive's names are far under
# this on average, and a directory larger than `entries` of it holds more entries than the count allows.
DIRECTORY_BYTES_PER_ENTRY = 1024


def _check_directory(path: Path, limits: Limits) -> None:
    """Refuse a zip whose end record announces more entries, or a larger central directory, than the entry limit
    allows, before zipfile reads that whole directory into memory (about 450 bytes of memory an entry: a 20 MB
    upload of 47-byte entries is 400,000 of them). zipfile reads entries for as many bytes as the end record says,
    so a lying count cannot get more past it than the size lets through."""
    try:
        with open(path, "rb") as stream:
            end = zipfile._EndRecData(stream)  # the reader zipfile itself uses, zip64 end records included
    except (OSError, struct.error, ValueError):
        return  # zipfile says what is wrong with it
    if end is None:
        return
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > limits.entries or size > limits.entries * DIRECTORY_BYTES_PER_ENTRY:
        _check_count(max(entries, limits.entries + 1), limits)


def _zip_members(path: Path, limits: Limits, keep: bool) -> Iterator[tuple[Member, bytes]]:
    _check_directory(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CodeArchiveError(f"{path.name} is not a zip archive; make it again with a zip tool, or upload a "
                               ".tar.gz, .py or .ipynb file.") from None
    except NotImplementedError as exc:  # e.g. "zip file version 9.9": a member needs a newer reader
        raise CodeArchiveError(f"{path.name} uses a zip feature that cannot be read here ({_reason(exc)}); make it "
                               "again with a common zip tool, or upload a .tar.gz, .py or .ipynb file.") from None
    with archive:
        infos = archive.infolist()
        _check_count(len(infos), limits)
        budget = Budget(limits, compressed=path.stat().st_size)
        for info in infos:
            name = _safe_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise CodeArchiveError(f"{name} is a link; archives may hold only regular files. Make the archive "
                                       "again without links (zip stores the files themselves by default).")
            if info.is_dir():
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # 0: no type given (Windows tools)
                raise CodeArchiveError(f"{name} is not a regular file; archives may hold only files and folders.")
            if info.flag_bits & 0x1:
                raise CodeArchiveError(f"{name} is encrypted; make the archive again without a password.")
            try:
                with archive.open(info) as stream:
                    data = _read_limited(stream, name, limits.member_bytes, budget, compressed=info.compress_size)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
                raise CodeArchiveError(f"{name} cannot be read from the archive ({_reason(exc)}); make the archive "
                                       "again and upload it.") from None
            yield Member(name, len(data)), (data if keep else b"")


def _tar_members(path: Path, limits: Limits, keep: bool) -> Iterator[tuple[Member, bytes]]:
    compressed = path.stat().st_size
    budget = Budget(limits, compressed=compressed)
    with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
        # Every byte tarfile reads (headers and padding too) is counted, so a bomb of headers stops like one of data.
        counted = _CountingReader(unzipped, budget)
        try:
            archive = tarfile.open(fileobj=counted, mode="r|")
            count = 0
            for info in archive:
                count += 1
                _check_count(count, limits)
                yield from _tar_member(archive, info, limits, keep)
        except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
            raise CodeArchiveError(f"{path.name} is not a .tar.gz archive ({_reason(exc)}); make it again with "
                                   "`tar czf code.tar.gz FOLDER`, or upload a .zip, .py or .ipynb file.") from None


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo, limits: Limits, keep: bool
                ) -> Iterator[tuple[Member, bytes]]:
    name = _safe_name(info.name)
    if info.issym() or info.islnk():
        raise CodeArchiveError(f"{name} is a link; archives may hold only regular files. Make the archive again "
                               "without links (tar --dereference stores the files themselves).")
    if info.isdir():
        return
    if not info.isreg() or info.issparse():
        raise CodeArchiveError(f"{name} is not a regular file; archives may hold only files and folders.")
    stream = archive.extractfile(info)
    # Member bytes are counted by the reader underneath already: no second budget here.
    data = _read_limited(stream, name, limits.member_bytes, Budget(_unlimited(limits), None))
    yield Member(name, len(data)), (data if keep else b"")


def _unlimited(limits: Limits) -> Limits:
    return Limits(total_bytes=2**62, member_bytes=limits.member_bytes, entries=limits.entries, ratio=float("inf"),
                  ratio_floor=limits.ratio_floor)


class _CountingReader:
    """A read-only stream that spends every byte read from the decompressed stream against the upload's budget."""

    def __init__(self, stream: BinaryIO, budget: Budget):
        self.stream, self.budget = stream, budget

    def read(self, size: int = -1) -> bytes:
        # Never more than a chunk at once: tarfile asks for a header's whole announced size in one read.
        data = self.stream.read(CHUNK if size is None or size < 0 or size > CHUNK else size)
        self.budget.spend(len(data))
        return data


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.entries:
        raise CodeArchiveError(f"The archive holds more than {limits.entries:,} entries; upload only your code "
                               "(leave out data, environments such as .venv and caches such as __pycache__).")


def _safe_name(name: str) -> str:
    """A member's name, refused when it would leave the archive once extracted (POSIX or Windows)."""
    shown = name.replace("\x00", "\\0")
    normal = name.replace("\\", "/")
    if "\x00" in name or not normal.strip("/"):
        raise CodeArchiveError(f"The archive has a member with an invalid name ({shown!r}); make it again.")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        raise CodeArchiveError(f"{shown} is an absolute path; make the archive from inside your project folder so "
                               "that every path is relative.")
    if ".." in PurePosixPath(normal).parts:
        raise CodeArchiveError(f"{shown} leaves the archive's folder (it contains ..); make the archive from "
                               "inside your project folder.")
    return normal


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _mb(count: int) -> str:
    return f"{count / MB:g} MB"
