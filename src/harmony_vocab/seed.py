"""Seed openai-harmony's and tiktoken's download caches with verified copies, so that unmodified
programs find the vocab where they would have downloaded it (files named by the sha1 of the URL).

Their default caches sit in the shared temporary directory (``$TMPDIR/data-gym-cache``,
``$TMPDIR/tiktoken-rs-cache``), where another user may have made the directory first. There a
cache directory is written into only when it is a real directory of the current user: a symlink
(whoever made it chooses where it leads) or another user's directory is refused with one line
naming the per-user variable that gives this user a cache of their own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, List, Union

from . import locations as loc
from .errors import VocabError
from .integrity import check_file
from .pins import VOCABS, get_pin
from .resolution import resolve
from .storage import copy_atomic, locked_dir, make_dir

PathArg = Union[str, "os.PathLike[str]", None]

TIKTOKEN_CACHE_VAR = loc.TIKTOKEN_CACHE_VARS[0]


class CacheDirError(VocabError, PermissionError):
    """A cache directory that seed-cache will not write into; the message says why and what to do."""

    def __str__(self) -> str:
        return str(self.args[0])


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _advice(var: str, reader: str) -> str:
    default = loc.tiktoken_cache_dir({}) if var == TIKTOKEN_CACHE_VAR else loc.harmony_cache_dir({})
    try:  # the default directory's name, in our per-user cache
        mine = str(loc.cache_dir() / default.name) if default else "DIR"
    except VocabError:
        mine = "DIR"
    return (f"give {reader} a cache of your own: set {var}={mine} (a directory of yours; {reader} "
            f"reads it from there too), then run harmony-vocab seed-cache again")


def check_cache_dir(directory: Path, var: str, reader: str) -> None:
    """Raise `CacheDirError` unless `directory` (missing, or a directory) can safely be written.

    In a shared directory (one every user may write to, such as /tmp) it must be a real directory
    owned by the current user; anywhere, an existing one must be a directory we may write to.
    `var` is the variable that moves this cache (named in the advice), `reader` the program that
    reads the cache.
    """
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return  # created by the first write, with the user's own umask, as the reader would
    except OSError as exc:
        raise CacheDirError(f"{directory}: {exc.strerror}; {_advice(var, reader)}") from None
    parent = directory.parent
    try:
        shared = bool(os.stat(parent).st_mode & stat.S_IWOTH)
    except OSError:
        shared = False
    me = os.geteuid()
    if stat.S_ISLNK(st.st_mode) and shared:
        raise CacheDirError(
            f"{directory} is a symlink (made by {_owner(st.st_uid)}) in the shared directory {parent}: "
            f"not followed, since whoever made it chooses where it leads; {_advice(var, reader)}")
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(directory)
        except OSError:
            raise CacheDirError(f"{directory} is a dangling symlink; {_advice(var, reader)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CacheDirError(f"{directory} is a file, not a directory: {reader} cannot cache there "
                            f"either; remove it, or {_advice(var, reader)}")
    if shared and st.st_uid != me:
        raise CacheDirError(
            f"{directory} belongs to {_owner(st.st_uid)} and you are {_owner(me)}: in the shared "
            f"directory {parent} only a directory of your own is written into; {_advice(var, reader)}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CacheDirError(f"{directory} is not writable by you, {_owner(me)}; {_advice(var, reader)}")


def _seed(directory: Path, names: Iterable[str], var: str, reader: str, **lookup: object) -> List[Path]:
    pins = [get_pin(name) for name in names]
    sources = [resolve(pin.name, **lookup).path for pin in pins]  # type: ignore[arg-type]
    check_cache_dir(directory, var, reader)
    written = []
    try:
        make_dir(directory)
        with locked_dir(directory):
            for pin, source in zip(pins, sources):
                target = directory / pin.cache_key
                try:
                    check_file(target, pin)  # already there and right: leave it alone
                except (VocabError, OSError):
                    copy_atomic(source, target, pin)
                written.append(target)
    except OSError as exc:
        if isinstance(exc, VocabError):
            raise
        where = exc.filename or directory
        raise CacheDirError(f"cannot write {reader}'s cache {directory} ({where}: {exc.strerror or exc}); "
                            f"{_advice(var, reader)}") from None
    return written


def seed_tiktoken_cache(directory: PathArg = None, names: Iterable[str] = VOCABS, **lookup: object) -> List[Path]:
    """Write verified copies where ``tiktoken.get_encoding`` looks before downloading.

    `directory` defaults to tiktoken's own choice (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR``,
    ``$TMPDIR/data-gym-cache``). Returns the paths written; `lookup` is passed to `resolve`.
    Raises `CacheDirError` (a symlinked, another user's, or unwritable directory: see
    `check_cache_dir`).
    """
    target = Path(directory) if directory is not None else loc.tiktoken_cache_dir()
    if target is None:
        raise VocabError("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is empty): pass a directory")
    return _seed(target, names, TIKTOKEN_CACHE_VAR, "tiktoken", **lookup)


def seed_harmony_cache(directory: PathArg = None, names: Iterable[str] = VOCABS, **lookup: object) -> List[Path]:
    """Write verified copies where openai-harmony looks before downloading.

    `directory` defaults to ``TIKTOKEN_RS_CACHE_DIR``, else ``$TMPDIR/tiktoken-rs-cache``.
    Raises `CacheDirError` as `seed_tiktoken_cache` does.
    """
    target = Path(directory) if directory is not None else loc.harmony_cache_dir()
    return _seed(target, names, loc.TIKTOKEN_RS_CACHE_DIR, "openai-harmony", **lookup)
