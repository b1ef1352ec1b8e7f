"""Copy verified vocab files into a directory: `export` (with a ``SHA256SUMS``, for an image or a
model repository) and `seed_cache` (under the names openai-harmony and tiktoken look for in their
download caches). Every source comes from the lookup order and is verified again as it is copied;
all writes are all or nothing, through an open directory (``files.Directory``)."""

import errno
import os
import re
import stat

from .errors import PathError, VocabError
from .files import Directory, copier, describe_failure, read_verified
from .lookup import resolve
from .pins import File, get_pin
from .tiers import ENV_LOCK_TIMEOUT, LOCK_TIMEOUT, seconds

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

    PathArg = Union[str, "os.PathLike[str]"]
    Waiting = Optional[Callable[[str], None]]

LAYOUTS = ("flat", "encodings")
"""``flat`` writes into DEST; ``encodings`` into ``DEST/encodings/`` (a model directory's place)."""
SUMS_FILE = "SHA256SUMS"
SUMS_MAX_BYTES = 1 << 20
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_TAG_LINE = re.compile(r"^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$")  # sha256sum --tag


class ExportConflictError(VocabError, FileExistsError):
    """Files at the destination that differ from what would be written, or are symlinks to files
    outside it; `.conflicts` lists them."""

    def __init__(self, conflicts: "List[Tuple[str, str]]") -> None:
        self.conflicts = conflicts
        listed = "; ".join(f"{path} ({reason})" for path, reason in conflicts)
        super().__init__(f"refusing to replace {len(conflicts)} file(s) that are not a real copy of the pinned "
                         f"vocab: {listed}. Pass --force (force=True) to replace them, or choose an empty destination")


def read_sums(text: str) -> "Tuple[Dict[str, str], bool]":
    """``({file: sha256}, tagged)`` of a ``SHA256SUMS`` text, in ``sha256sum`` or ``--tag`` format;
    `ValueError` naming the first line that is neither."""
    sums, tagged = {}, False
    for number, line in enumerate(text.splitlines(), 1):
        plain, tag = _SUM_LINE.match(line), _TAG_LINE.match(line)
        if plain:
            sums[plain.group(2)] = plain.group(1).lower()
        elif tag:
            sums[tag.group(1)], tagged = tag.group(2).lower(), True
        elif line.strip():
            raise ValueError(f"line {number} is not a 'sha256  file' line")
    return sums, tagged


def format_sums(sums: "Dict[str, str]", tagged: bool = False) -> str:
    """``SHA256SUMS`` text, sorted by file name, in the format the file had."""
    line = "SHA256 ({name}) = {sha}\n" if tagged else "{sha}  {name}\n"
    return "".join(line.format(name=name, sha=sha) for name, sha in sorted(sums.items()))


def export(dest: "PathArg", names: "Iterable[str]", *, layout: str = "flat", force: bool = False,
           waiting: "Waiting" = None) -> "List[Tuple[str, str]]":
    """Copy the verified files of the vocabs `names` into `dest` (or ``dest/encodings``) and write
    or update ``SHA256SUMS`` there (other files' entries kept); return ``(action, path)`` for each
    file, SHA256SUMS last. All or nothing; exports into one directory take turns. A file there that
    is not the pinned one, or a symlink to a file outside `dest`, is a conflict: replaced with
    `force`, else nothing is written (`ExportConflictError`). ``dest/encodings`` must be a real
    directory. Raises what `resolve` raises, and `OSError` naming the path that cannot be written."""
    if not os.fspath(dest):
        raise VocabError("the destination is empty: give a directory (an unset shell variable?)")
    if layout not in LAYOUTS:
        raise VocabError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    timeout, files = seconds(os.environ, ENV_LOCK_TIMEOUT, LOCK_TIMEOUT), _sources(names)
    with Directory(dest) as top:
        with top if layout == "flat" else Directory(os.path.join(top.path, "encodings"), follow=False, within=top) as d:
            d.lock(timeout, ENV_LOCK_TIMEOUT, waiting)
            return _export_locked(d, os.path.realpath(dest), files, force)


def _sources(names: "Iterable[str]") -> "List[Tuple[File, str]]":
    """Each file of the vocabs `names` (each vocab once, in order) and its verified copy (`resolve`)."""
    return [(f, path) for name in dict.fromkeys(names) for f, path in zip(get_pin(name).files, resolve(name).strings)]


def _export_locked(directory: Directory, dest: str, files: "List[Tuple[File, str]]",
                   force: bool) -> "List[Tuple[str, str]]":
    sums: "Dict[str, str]" = {}
    tagged, conflicts = False, []
    if directory.lstat(SUMS_FILE) is not None:
        try:
            sums, tagged = read_sums(directory.read(SUMS_FILE, SUMS_MAX_BYTES, "a SHA256SUMS").decode("utf-8"))
        except (ValueError, OSError) as exc:
            conflicts.append((os.path.join(directory.path, SUMS_FILE), f"not a sha256sum file, kept: {exc}"))
    writes: "List[Tuple[str, Callable[..., object]]]" = []
    for f, source in files:
        problem = _problem(directory, f, dest)
        if problem:
            conflicts.append((os.path.join(directory.path, f.name), problem))
        if problem or directory.lstat(f.name) is None:
            writes.append((f.name, copier(source, f)))
    if conflicts and not force:
        raise ExportConflictError(conflicts)
    before = format_sums(sums, tagged)
    sums.update({f.name: f.sha256 for f, _ in files})
    text = format_sums(sums, tagged)
    if text != before or directory.lstat(SUMS_FILE) is None:
        writes.append((SUMS_FILE, lambda out: out.write(text.encode("utf-8"))))
    try:
        directory.write_all(writes)
    except OSError as exc:
        if isinstance(exc, VocabError):
            raise
        needed = sum(f.size for f, _ in files) + len(text)
        space = f" (the export needs {needed} bytes there)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        raise PathError(exc.errno or errno.EIO, f"cannot be written: {exc.strerror or exc}; nothing was changed"
                        + space, directory.path) from None
    written = {name for name, _ in writes}
    return [("written" if name in written else "unchanged", os.path.join(directory.path, name))
            for name in [*(f.name for f, _ in files), SUMS_FILE]]


def _problem(directory: Directory, f: File, dest: str) -> "Optional[str]":
    """Why the file `f.name` in `directory` must not stay (None when absent, or the pinned file)."""
    st = directory.lstat(f.name)
    if st is None:
        return None
    path = os.path.join(directory.path, f.name)
    if stat.S_ISLNK(st.st_mode) and not os.path.realpath(path).startswith(dest + os.sep):
        return (f"a symlink to {os.path.realpath(path)}, outside {dest}: a copy of {dest} would not carry the file, "
                f"so --force replaces the link with a real file")
    try:
        read_verified(path, f, keep=False)
    except (VocabError, OSError) as exc:
        return describe_failure(exc)
    return None


class CacheDirError(VocabError, PermissionError):
    """A cache directory that seed-cache will not write into; the message says why and what to do."""


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def seed_cache(directory: "PathArg", names: "Iterable[str]", var: str, reader: str, *,
               waiting: "Waiting" = None) -> "List[str]":
    """Write verified copies of the vocabs `names` into the download cache `directory` of
    `reader`, named as it names them (the sha1 of the URL); return the paths. In a directory every
    user may write to (``/tmp``), only into a real directory of one's own: a symlink or another
    user's directory raises `CacheDirError` naming `var`, the variable that gives `reader` a cache
    of one's own. Decided on the opened directory, so that nothing swapped in between is used."""
    path = os.fspath(directory)
    if not path:
        raise VocabError(f"{reader}'s cache directory is empty: give a directory (an unset shell variable?)")
    timeout, sources = seconds(os.environ, ENV_LOCK_TIMEOUT, LOCK_TIMEOUT), _sources(names)
    advice = (f"give {reader} a cache of your own: set {var} to a directory of yours ({reader} reads it from "
              f"there too), then run harmony-vocab seed-cache again")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        shared = bool(os.stat(parent).st_mode & stat.S_IWOTH)
    except OSError:
        shared = False
    try:
        opened = Directory(path, follow=not shared)
    except OSError as exc:
        raise CacheDirError(f"{path}: {describe_failure(exc)}; {advice}") from None
    with opened as d:
        if shared and d.stat.st_uid != os.geteuid():
            raise CacheDirError(f"{path} belongs to {_owner(d.stat.st_uid)} and you are {_owner(os.geteuid())}: in the "
                                f"shared directory {parent} only a directory of your own is written into; {advice}")
        try:
            d.lock(timeout, ENV_LOCK_TIMEOUT, waiting)
            todo = []
            for f, source in sources:
                try:
                    read_verified(os.path.join(path, f.cache_key), f, keep=False)
                except (VocabError, OSError):
                    todo.append((f.cache_key, copier(source, f)))
            d.write_all(todo)
        except OSError as exc:
            if isinstance(exc, VocabError) and not isinstance(exc, PathError):
                raise
            raise CacheDirError(f"cannot write {reader}'s cache {path}: {exc.strerror or exc}; {advice}") from None
    return [os.path.join(path, f.cache_key) for f, _ in sources]
