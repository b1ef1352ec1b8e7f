"""Check files against their pins: size first, then a streaming sha256."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from typing import BinaryIO, Set, Tuple, Union

from .errors import VocabIntegrityError
from .pins import Pin, get_pin

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20
# (path, size, mtime_ns, ctime_ns, inode, device, sha256): files already verified in this process.
# ctime is in the key because it cannot be set back: a file rewritten in place whose mtime was
# restored (os.utime, cp -p, tar) keeps its size, mtime and inode, but not its ctime.
_verified: Set[Tuple[str, int, int, int, int, int, str]] = set()
_lock = threading.Lock()


def sha256_of(source: Union[PathLike, BinaryIO, "io.RawIOBase"]) -> str:
    """The hex sha256 of a file (a path, or a binary file open at its start), in 1 MiB chunks."""
    if not hasattr(source, "readinto"):
        with open(source, "rb", buffering=0) as f:  # type: ignore[arg-type]
            return sha256_of(f)  # type: ignore[arg-type]
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while True:
        n = source.readinto(buf)
        if not n:
            break
        digest.update(view[:n])
    return digest.hexdigest()


def check_file(path: PathLike, pin: Pin) -> None:
    """Raise unless `path` is a regular file whose size and sha256 match `pin`.

    Raises `VocabIntegrityError` on a mismatch and `OSError` (`FileNotFoundError`,
    `IsADirectoryError`, `PermissionError`...) when the file cannot be read. A file verified once
    is not hashed again in this process while its path, size, mtime, ctime and inode stay the same.
    """
    fspath = os.fspath(path)
    st = os.stat(fspath)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory, expected a file", fspath)
    if _key(fspath, st, pin) in _verified:
        return
    if st.st_size != pin.size:
        raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
    with open(fspath, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())  # the file actually hashed, even if the path was just replaced
        if st.st_size != pin.size:
            raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
        actual = sha256_of(f)
    if actual != pin.sha256:
        raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, actual)
    with _lock:
        _verified.add(_key(fspath, st, pin))


def _key(fspath: str, st: os.stat_result, pin: Pin) -> Tuple[str, int, int, int, int, int, str]:
    return (fspath, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, pin.sha256)


def verify_file(path: PathLike, name: str) -> None:
    """Check that `path` is the pinned vocab `name`; raise `VocabIntegrityError` if not.

    The error names the file and gives the expected and actual size and sha256.
    """
    check_file(path, get_pin(name))


def describe_failure(exc: BaseException) -> str:
    """A short reason for an attempt's outcome: mismatch details or the OS error, no traceback."""
    if isinstance(exc, VocabIntegrityError):
        return exc.reason
    if isinstance(exc, FileNotFoundError):
        return "missing (dangling symlink)" if _is_dangling(exc) else "missing"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    if isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    return str(exc)


def _is_dangling(exc: FileNotFoundError) -> bool:
    return bool(exc.filename) and os.path.islink(exc.filename)


def read_verified(path: PathLike, pin: Pin) -> bytes:
    """The bytes of `path`, once they are known to be the pinned vocab: read in one go from a
    regular file (a FIFO or device is refused without blocking), hashed unless this very file
    (path, size, mtime, ctime, inode) was verified before in this process."""
    fspath = os.fspath(path)
    fd = os.open(fspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(22, "not a regular file", fspath)
        if st.st_size != pin.size:
            raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
        data = f.read(pin.size + 1)
    if _key(fspath, st, pin) in _verified and len(data) == pin.size:
        return data
    actual = hashlib.sha256(data).hexdigest()
    if len(data) != pin.size or actual != pin.sha256:
        raise VocabIntegrityError(fspath, pin.name, pin.size, len(data), pin.sha256, actual)
    with _lock:
        _verified.add(_key(fspath, st, pin))
    return data
