"""Reading and writing files safely: regular files only, bounded reads, size and sha256 checks
against a pin, and all-or-nothing writes through an open directory.

Every file harmony-vocab reads is opened by `open_regular`: stat-ed first (a device is never
opened), opened without blocking and fstat-ed, so a FIFO, a device or a path swapped in between is
refused unread. Every write goes through a `Directory`, an open descriptor: what is decided about
the directory (a symlink, its owner) holds for what is written there, and each file is written in
full beside its target, then renamed onto it; on any exception no target is touched.
"""

import errno
import hashlib
import io
import os
import stat
import time

from .errors import PathError, VocabIntegrityError
from .pins import File, Pin, get_pin

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from typing import BinaryIO, Callable, Iterator, List, Optional, Sequence, Set, Tuple, Union

    PathLike = Union[str, "os.PathLike[str]"]

READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
              | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))
# (path, size, mtime_ns, ctime_ns, inode, device, sha256) of files verified in this process. ctime
# cannot be set back: a file rewritten in place with its mtime restored still changes key.
_verified: "Set[Tuple[str, int, int, int, int, int, str]]" = set()


def forget_verified() -> None:
    """Hash every file again on its next check (files verified in this process are trusted while
    their path, size, mtime, ctime and inode stay the same)."""
    _verified.clear()


def require_regular(path: str, st: os.stat_result) -> None:
    """Raise `PathError` (naming what `path` is, and a symlink's target) unless `st` is a regular
    file's; `IsADirectoryError` for a directory."""
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file", path)
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
        if os.path.islink(path):
            kind += f" (a symlink to {os.path.realpath(path)})"
        raise PathError(errno.EINVAL, f"is {kind}, expected a regular file", path)


def open_regular(path: "PathLike", dir_fd: "Optional[int]" = None) -> "io.FileIO":
    """`path` open for reading, if it is a regular file (see the module's doc)."""
    fspath = os.fspath(path)
    st = os.stat(fspath, dir_fd=dir_fd)
    require_regular(fspath, st)
    fd = os.open(fspath, READ_FLAGS, dir_fd=dir_fd)
    try:
        opened = os.fstat(fd)
        if not os.path.samestat(st, opened):
            raise PathError(errno.EAGAIN, "changed while it was opened", fspath)
        require_regular(fspath, opened)
        return io.FileIO(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: "PathLike", limit: int, what: str, dir_fd: "Optional[int]" = None) -> bytes:
    """The bytes of the regular file `path`, at most `limit`: a larger file (or one growing past
    `limit` as it is read) raises `PathError` naming `what` it should have been."""
    with open_regular(path, dir_fd) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise PathError(errno.EFBIG, f"more than the {limit} bytes {what} may be", os.fspath(path))
    return data


def file_of(pin: Pin, path: "PathLike") -> File:
    """The file of `pin` that `path` is meant to be: its only one, or the one of that name."""
    return next((f for f in pin.files if os.path.basename(path) in (f.name, f.cache_key)), pin.files[0])


def _key(path: str, st: os.stat_result, f: File) -> "Tuple[str, int, int, int, int, int, str]":
    return (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, f.sha256)


def read_verified(path: "PathLike", f: File, keep: bool = True, trusted: bool = True) -> bytes:
    """The bytes of `path` once they are known to be the pinned file `f` (hashed unless this very
    file was verified before in this process and `trusted` allows that); `VocabIntegrityError` if
    not. With `keep` false, they are only checked, in 1 MiB pieces."""
    fspath = os.fspath(path)
    with open_regular(fspath) as src:
        st = os.fstat(src.fileno())
        if st.st_size != f.size:
            raise VocabIntegrityError(fspath, f.vocab, f.size, st.st_size, f.sha256, None)
        key = _key(fspath, st, f)
        if trusted and key in _verified:  # this very file, unchanged since: no second hashing
            data = src.read(f.size + 1) if keep else b""
            if not keep or (len(data) == f.size and _key(fspath, os.fstat(src.fileno()), f) == key):
                return data
            src.seek(0)
        step = f.size + 1 if keep else 1 << 20  # at once, or checked in 1 MiB pieces
        digest, chunks, total = hashlib.sha256(), [], 0
        for chunk in iter(lambda: src.read(min(step, f.size + 1 - total)), b""):  # never past f.size + 1
            digest.update(chunk)
            total += len(chunk)
            if keep:
                chunks.append(chunk)
    actual = digest.hexdigest()
    if total != f.size or actual != f.sha256:
        raise VocabIntegrityError(fspath, f.vocab, f.size, total, f.sha256, actual if total == f.size else None)
    _verified.add(key)
    return b"".join(chunks)


def check_file(path: "PathLike", f: File) -> None:
    """Raise unless `path` is a regular file of the pinned size and sha256 of `f`:
    `VocabIntegrityError` on a mismatch, `OSError` when it cannot be read."""
    read_verified(path, f, keep=False)


def verify_file(path: "PathLike", name: str) -> None:
    """Check that `path` is (a file of) the pinned vocab `name`; raise `VocabIntegrityError`
    naming the file, with expected and actual size and sha256, if it is not."""
    check_file(path, file_of(get_pin(name), path))


def describe_failure(exc: BaseException) -> str:
    """A short reason for an attempt's outcome: mismatch details or the OS error, no traceback."""
    if isinstance(exc, VocabIntegrityError):
        return exc.reason
    if isinstance(exc, FileNotFoundError):
        return "missing (dangling symlink)" if exc.filename and os.path.islink(exc.filename) else "missing"
    if isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if isinstance(exc, (PathError, IsADirectoryError)) else f"unreadable: {exc.strerror}"
    return str(exc)


def process_temp_dir() -> "Path":
    """A new temporary directory, removed when the interpreter exits."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    directory = tempfile.mkdtemp(prefix="harmony-vocab-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory)


# ------------------------------------------------------------------------------ writing

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


class Directory:
    """A directory open for writing: created where missing (a file in the way is one line naming
    it), a symlink to it refused when `follow` is false. Use as a context manager."""

    def __init__(self, path: "PathLike", follow: bool = True, within: "Optional[Directory]" = None) -> None:
        self.path = os.fspath(path)
        name, at = within._at(os.path.basename(self.path)) if within else (self.path, None)
        try:
            if within is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            try:
                os.mkdir(name, 0o777, dir_fd=at)
            except FileExistsError:
                pass  # whatever it is, the open below tells
        except OSError as exc:
            raise _in_the_way(exc, self.path) from None
        try:
            self.fd = os.open(name, _DIR_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0)), dir_fd=at)
        except PermissionError:  # a directory we may write but not read: write by path
            self.fd = -1
        except OSError as exc:
            if exc.errno == errno.ELOOP or (not follow and exc.errno == errno.ENOTDIR and os.path.islink(self.path)):
                raise PathError(errno.ELOOP, "is a symlink: not followed", self.path) from None
            raise _in_the_way(exc, self.path) from None
        self.stat = os.fstat(self.fd) if self.fd >= 0 else os.stat(self.path)

    def __enter__(self) -> "Directory":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:  # closed once, though entered twice (export's flat layout)
            fd, self.fd = self.fd, -1
            os.close(fd)  # releases the lock too

    def _at(self, name: str) -> "Tuple[str, Optional[int]]":
        return (name, self.fd) if self.fd >= 0 else (os.path.join(self.path, name), None)

    def lstat(self, name: str) -> "Optional[os.stat_result]":
        """The entry `name`, not followed; None when absent."""
        path, fd = self._at(name)
        try:
            return os.stat(path, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def read(self, name: str, limit: int, what: str) -> bytes:
        """The bytes of the regular file `name` here (a symlink followed), bounded (`read_regular`)."""
        path, fd = self._at(name)
        return read_regular(path, limit, what, fd)

    def lock(self, timeout: float, setting: str, waiting: "Optional[Callable[[str], None]]" = None) -> None:
        """Take the writers' lock of this directory (``flock`` on it: no file is left): writers
        in any process take turns. While another holds it, `waiting` is told once, and after
        `timeout` seconds `PathError` names the directory and the `setting` that allows more.
        Where locks are not to be had (a directory we cannot read, some network file systems)
        the write goes on unlocked."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        if self.fd < 0:
            return
        ends = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return  # ENOLCK, EOPNOTSUPP...: unlocked
            if time.monotonic() >= ends:
                raise PathError(errno.ETIMEDOUT, f"another process has held its writers' lock for {timeout:g}s: "
                                f"wait for it to end (or stop it), or raise {setting}", self.path)
            if waiting is not None:
                waiting(f"waiting for another process writing into {self.path} (up to {timeout:g}s)")
                waiting = None
            time.sleep(0.1)

    def write_all(self, items: "Sequence[Tuple[str, Callable[[BinaryIO], object]]]") -> None:
        """Write each ``(name, write)`` in full beside its target (``write(out)`` fills it; raise
        in it to refuse the bytes), then rename them all into place (mode 0644): all or nothing."""
        parts: "List[Tuple[str, str, Optional[int]]]" = []  # (part file, its target, the directory's fd)
        try:
            for name, write in items:
                part, fd = self._at(f".{name}.{os.urandom(4).hex()}.part")
                # "x" (O_CREAT | O_EXCL): a new file, never an existing one nor a symlink's target
                with open(part, "xb", opener=lambda path, flags: os.open(path, flags, 0o644, dir_fd=fd)) as out:
                    parts.append((part, self._at(name)[0], fd))
                    write(out)
                    out.flush()
                    os.fchmod(out.fileno(), 0o644)  # whatever the umask: readable as a package's file
                    os.fsync(out.fileno())
            for part, target, fd in parts:
                os.replace(part, target, src_dir_fd=fd, dst_dir_fd=fd)
            parts = []
        finally:
            for part, _, fd in parts:
                try:
                    os.unlink(part, dir_fd=fd)
                except OSError:
                    pass


def _in_the_way(exc: OSError, path: str) -> OSError:
    """A `PathError` naming the file in the way of the directory `path` (it, or the nearest parent
    that exists) and saying what to do, not a bare "File exists"; other errors as they are."""
    if exc.errno not in (errno.EEXIST, errno.ENOTDIR):
        return exc
    while path and not os.path.lexists(path):
        path = os.path.dirname(path)
    try:
        mode = os.lstat(path).st_mode
        kind = next((k for test, k in _KINDS if test(mode)), "a file")
        if stat.S_ISLNK(mode):
            kind = "a symlink to a non-directory" if os.path.exists(path) else "a dangling symlink"
    except OSError:
        kind = "a file"
    return PathError(errno.ENOTDIR, f"is {kind}, not a directory: remove it, or choose another directory", path)


def copier(source: "PathLike", f: File) -> "Callable[[BinaryIO], object]":
    """A ``write`` for `Directory.write_all`: the bytes of the regular file `source`, refused
    (`VocabIntegrityError`) unless they are the pinned file `f`: hashed as they are copied, since
    a copy carries them where nothing checks them again."""
    return lambda out: out.write(read_verified(source, f, trusted=False))


def write_file(target: "PathLike", data: bytes) -> None:
    """Write `data` to `target` so that `target` is never seen half-written."""
    with Directory(os.path.dirname(os.path.abspath(target))) as d:
        d.write_all([(os.path.basename(target), lambda out: out.write(data))])
