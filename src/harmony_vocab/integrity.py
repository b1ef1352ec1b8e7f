"""Check files against their pins: size first, then a streaming sha256."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import threading
from typing import BinaryIO, Optional, Set, Tuple, Union

import _harmony_vocab_lookup as _base

from .errors import FileInTheWayError, FileTooLargeError, NotRegularFileError, VocabIntegrityError
from .pins import Pin, get_pin

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20
# (path, size, mtime_ns, ctime_ns, inode, device, sha256): files already verified in this process.
# ctime is in the key because it cannot be set back: a file rewritten in place whose mtime was
# restored (os.utime, cp -p, tar) keeps its size, mtime and inode, but not its ctime.
_verified: Set[Tuple[str, int, int, int, int, int, str]] = set()
_lock = threading.Lock()


def open_regular(path: PathLike) -> "io.FileIO":
    """Open `path` for reading, if it is a regular file (a symlink is followed).

    Every file harmony-vocab reads is opened here (through ``_harmony_vocab_lookup.open_regular``,
    which start-up uses too). A FIFO, a device or a socket is refused (`NotRegularFileError`) and
    a directory raises `IsADirectoryError`: stat-ed before it is opened (a device is never
    opened), opened non-blocking and fstat-ed, so a path swapped in between cannot hang us.
    """
    fspath = os.fspath(path)
    try:
        fd = _base.open_regular(fspath)
    except OSError as exc:
        if exc.errno == errno.EINVAL and exc.filename == fspath:  # not regular: say what it is
            require_regular(fspath, os.stat(fspath))
        raise
    try:
        f = io.FileIO(fd, "rb", closefd=True)
        f.name = fspath  # as open() names it
        return f
    except BaseException:
        os.close(fd)
        raise


def require_regular(fspath: str, st: os.stat_result) -> None:
    """Raise unless `st` (of `fspath`) is a regular file: `IsADirectoryError` for a directory,
    `NotRegularFileError` (naming the kind, and a symlink's target) for anything else."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file", fspath)
    kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
    if os.path.islink(fspath):
        kind += f" (a symlink to {os.path.realpath(fspath)})"
    raise NotRegularFileError(fspath, kind)


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_regular(path: PathLike, limit: int, what: str) -> bytes:
    """The bytes of the regular file `path` (see `open_regular`), at most `limit` of them: a larger
    file, or one that grows past `limit` while read, raises `FileTooLargeError` naming `what`."""
    fspath = os.fspath(path)
    with open_regular(fspath) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise FileTooLargeError(fspath, size, limit, what)
        chunks = []
        total = 0
        want = size + 1  # one read in the usual case; then small ones if the file grew
        while total <= limit:
            chunk = f.read(min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = _CHUNK
    if total > limit:
        raise FileTooLargeError(fspath, total, limit, what)
    return b"".join(chunks)


def sha256_of(source: Union[PathLike, BinaryIO, "io.RawIOBase"], limit: Optional[int] = None) -> str:
    """The hex sha256 of a file (a path, or a binary file open at its start), in 1 MiB chunks;
    with `limit`, of its first `limit` bytes at most. A path is opened with `open_regular`."""
    if not hasattr(source, "readinto"):
        with open_regular(source) as f:  # type: ignore[arg-type]
            return sha256_of(f, limit)
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    left = -1 if limit is None else limit
    while left:
        n = source.readinto(view[:left] if 0 < left < _CHUNK else buf)
        if not n:
            break
        digest.update(view[:n])
        left = -1 if limit is None else left - n
    return digest.hexdigest()


def check_file(path: PathLike, pin: Pin) -> None:
    """Raise unless `path` is a regular file whose size and sha256 match `pin`.

    Raises `VocabIntegrityError` on a mismatch and `OSError` (`FileNotFoundError`,
    `IsADirectoryError`, `NotRegularFileError`, `PermissionError`...) when the file cannot be read;
    a FIFO or device is refused unopened. A file verified once is not hashed again in this
    process while its path, size, mtime, ctime and inode stay the same.
    """
    fspath = os.fspath(path)
    st = os.stat(fspath)
    require_regular(fspath, st)
    if _key(fspath, st, pin) in _verified:
        return
    if st.st_size != pin.size:
        raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
    with open_regular(fspath) as f:
        st = os.fstat(f.fileno())  # the file actually hashed, even if the path was just replaced
        if st.st_size != pin.size:
            raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
        actual = sha256_of(f, pin.size + 1)  # a file that grows while hashed cannot match
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
    if isinstance(exc, (NotRegularFileError, FileTooLargeError)):
        return str(exc.strerror)
    if isinstance(exc, FileInTheWayError):
        return str(exc)
    if isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    return str(exc)


def _is_dangling(exc: FileNotFoundError) -> bool:
    return bool(exc.filename) and os.path.islink(exc.filename)


def read_verified(path: PathLike, pin: Pin) -> bytes:
    """The bytes of `path`, once they are known to be the pinned vocab: read in one go from a
    regular file (see `open_regular`), hashed unless this very file (path, size, mtime, ctime,
    inode) was verified before in this process."""
    fspath = os.fspath(path)
    with open_regular(fspath) as f:
        st = os.fstat(f.fileno())
        if st.st_size != pin.size:
            raise VocabIntegrityError(fspath, pin.name, pin.size, st.st_size, pin.sha256, None)
        data = f.read(pin.size + 1)
        after = os.fstat(f.fileno())
    unchanged = _key(fspath, after, pin) == _key(fspath, st, pin)
    if unchanged and _key(fspath, st, pin) in _verified and len(data) == pin.size:
        return data
    actual = hashlib.sha256(data).hexdigest()
    if len(data) != pin.size or actual != pin.sha256:
        raise VocabIntegrityError(fspath, pin.name, pin.size, len(data), pin.sha256, actual)
    with _lock:
        _verified.add(_key(fspath, st, pin))
    return data
