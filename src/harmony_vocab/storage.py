"""Write files atomically: a temporary file in the target's directory, renamed into place.

The temporary file is ``.<target name>.<host>.<pid>.<random>.part``. It is removed when the write
fails, when it is interrupted (Ctrl-C), and when the process is sent SIGTERM while the default
handler is in place (the part file is removed, then the process dies of SIGTERM as it would have).
What cannot be caught (SIGKILL, a power cut) is swept by the next write into the same directory:
a part file of ours is stale when its writer, named in it, is no longer running on this host, or
when nothing has been written to it for `STALE_AFTER` seconds (a part of another host, or of an
older version without a pid in its name). Only regular files we own are removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional, Tuple, Union

from .errors import FileInTheWayError, VocabIntegrityError
from .integrity import open_regular
from .pins import Pin

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20

# A live writer writes at least once per read time-out (30 s); an hour of silence means it is gone.
STALE_AFTER = 3600.0

# ".<target>.<host>.<pid>.<8 random>.part"; the older ".<target>.<8 random>.part" is swept by age.
_PART = re.compile(r"^\..+?(?:\.(?P<host>[A-Za-z0-9-]{1,32})\.(?P<pid>\d+))?\.[a-z0-9_]{8}\.part$")


def _host() -> str:
    import socket  # imported when a file is written, not with the package

    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def _writer_gone(host: Optional[str], pid: Optional[str]) -> bool:
    if host != _host() or pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):  # another user's process: alive
        return False
    return False


def sweep_stale_parts(directory: Path) -> None:
    """Remove the part files of ours in `directory` whose writer is gone (see the module's doc)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    for name in names:
        match = _PART.match(name)
        if not match:
            continue
        path = directory / name
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
                continue
            if _writer_gone(match["host"], match["pid"]) or now - st.st_mtime > STALE_AFTER:
                os.unlink(path)
        except OSError:  # gone meanwhile, or not ours to remove
            continue


class _Terminated(BaseException):
    """SIGTERM arrived during a write; raised so that the part file is removed on the way out."""


@contextmanager
def _removed_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into `_Terminated` for the duration, then die of SIGTERM once cleaned up.

    Only in the main thread (the only one that may set handlers) and only where SIGTERM has its
    default action: a handler of the application's own, or an ignored SIGTERM, is left alone.
    """
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)  # the default action: the process ends here
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


class Stage:
    """The files of one `atomic_files` block (see there)."""

    def __init__(self) -> None:
        self.parts: List[str] = []  # every part file made, removed at the end unless renamed
        self.done: List[Tuple[str, Path]] = []  # (part, target) written in full: renamed at the end

    @contextmanager
    def file(self, target: PathLike) -> Iterator[BinaryIO]:
        """Yield a file to write `target`'s bytes to, beside `target`; a block left normally has
        its bytes flushed and synced, to be renamed onto `target` when the whole group is."""
        target = Path(target)
        make_dir(target.parent)
        sweep_stale_parts(target.parent)
        fd, part = tempfile.mkstemp(prefix=f".{target.name}.{_host()}.{os.getpid()}.",
                                    suffix=".part", dir=target.parent)
        self.parts.append(part)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(part, 0o644)
        self.done.append((part, target))


@contextmanager
def atomic_files() -> Iterator[Stage]:
    """Write several files all or nothing: each ``stage.file(target)`` block writes one in full
    beside its target; when the outer block ends normally, each is renamed onto its target in the
    order written (mode 0644). On any exception (a full disk, a refused hash, Ctrl-C, SIGTERM) no
    target is touched and every temporary file is removed."""
    stage = Stage()
    with _removed_on_sigterm():
        try:
            yield stage
            for part, target in stage.done:
                os.replace(part, target)
        finally:
            for part in stage.parts:
                if os.path.lexists(part):
                    os.unlink(part)


@contextmanager
def atomic_file(target: PathLike) -> Iterator[BinaryIO]:
    """Yield a file to write `target`'s bytes to: on a normal exit the bytes are flushed, synced
    and renamed onto `target` (mode 0644); on any exception `target` is untouched and the
    temporary file is removed. Raise inside the block to refuse the bytes (e.g. a hash mismatch)."""
    with atomic_files() as stage, stage.file(target) as out:
        yield out


def make_dir(directory: PathLike) -> Path:
    """Create `directory` and its parents where missing. A file in the way raises
    `FileInTheWayError` (a `NotADirectoryError`) naming it and saying what to do, not a bare
    "File exists"."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        culprit = next((p for p in (directory, *directory.parents) if os.path.lexists(p)), directory)
        raise FileInTheWayError(os.fspath(culprit)) from None
    return directory


@contextmanager
def locked_dir(directory: PathLike) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (``flock`` on the directory itself, so no lock file
    is left in it) for the duration: writers of one directory, in any process, take turns. Where
    the file system has no such lock (some network file systems) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(os.fspath(directory), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EBADF, errno.EINVAL):
                raise
        yield
    finally:
        os.close(fd)  # releases the lock


def copy_to(out: BinaryIO, source: PathLike, pin: Optional[Pin] = None) -> None:
    """Write the bytes of the regular file `source` (see `open_regular`) to `out`; with `pin`,
    raise `VocabIntegrityError` unless they are the pinned vocab, never reading more than one
    byte past its size."""
    limit = None if pin is None else pin.size + 1
    digest = hashlib.sha256()
    size = 0
    with open_regular(source) as src:
        while limit is None or size < limit:
            chunk = src.read(_CHUNK if limit is None else min(_CHUNK, limit - size))
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if pin is not None and (size != pin.size or digest.hexdigest() != pin.sha256):
        raise VocabIntegrityError(os.fspath(source), pin.name, pin.size, size, pin.sha256,
                                  None if size != pin.size else digest.hexdigest())


def copy_atomic(source: PathLike, target: PathLike, pin: Optional[Pin] = None) -> Path:
    """Copy the regular file `source` to `target` so that `target` is never seen half-written;
    with `pin`, only if the bytes are the pinned vocab (else `VocabIntegrityError`, `target`
    untouched)."""
    with atomic_file(target) as out:
        copy_to(out, source, pin)
    return Path(target)


def write_atomic(target: PathLike, data: bytes) -> Path:
    """Write `data` to `target` so that `target` is never seen half-written."""
    with atomic_file(target) as out:
        out.write(data)
    return Path(target)


def process_temp_dir() -> Path:
    """A new temporary directory, removed when the interpreter exits: where files go for this
    process only when the cache cannot be written."""
    import atexit

    directory = Path(tempfile.mkdtemp(prefix="harmony-vocab-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory
