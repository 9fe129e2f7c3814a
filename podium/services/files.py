"""Durable files: written to a temporary name, fsynced, renamed into place, the folder fsynced.

An upload is acknowledged only after this returns, so a crash can lose an upload in flight but never one the
student was told was received.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from podium.errors import StorageUnavailable

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size_bytes: int


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def store_stream(stream: BinaryIO, dest: Path, *, max_bytes: int | None = None) -> StoredFile:
    """Copy a stream to `dest` durably, hashing as it goes; stop at `max_bytes` and leave nothing behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
    return StoredFile(dest, digest.hexdigest(), size)


def store_incoming(stream: BinaryIO, dest: Path, *, max_bytes: int | None = None) -> StoredFile:
    """`store_stream` for what a person sends: a folder that refuses the file (not writable, not a folder, the disk
    full) is StorageUnavailable, answered 503 "try again shortly", with nothing left behind."""
    try:
        return store_stream(stream, dest, max_bytes=max_bytes)
    except OSError as exc:
        unavailable = _unavailable(dest.parent, exc)
        log.warning("could not store an upload: %s", unavailable.detail)
        raise unavailable from exc


def check_writable(folder: Path) -> None:
    """Raise StorageUnavailable unless a file can be created in `folder` (made when missing, as an upload would)
    right now; the probe file is removed at once."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _unavailable(folder, exc) from exc


def _unavailable(folder: Path, exc: OSError) -> StorageUnavailable:
    problem = exc.strerror or str(exc) or type(exc).__name__
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        problem = f"{existing} is a file, not a folder"
    return StorageUnavailable(f"{folder} is not writable: {problem}")


def store_copy(source: Path, dest: Path) -> StoredFile:
    with open(source, "rb") as stream:
        return store_stream(stream, dest)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_tree(source: Path, dest: Path) -> None:
    """Put a freshly built folder in place of an older one."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, dest)
