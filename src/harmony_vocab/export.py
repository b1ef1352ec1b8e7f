"""Copy verified vocab files into a directory, with a ``SHA256SUMS`` file (``sha256sum -c`` format).

Used by ``harmony-vocab export`` to prepare a container image or a mirrored model repository.
Every source comes from the lookup order (so it is verified against its pin) and is verified
again as it is copied. A file already at the target that is not the pinned vocab is never
replaced unless `force` is true; otherwise nothing at all is written.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .errors import VocabError
from .integrity import check_file, describe_failure, read_regular
from .pins import VOCABS, Pin, get_pin
from .resolution import resolve
from .storage import atomic_files, copy_to, locked_dir, make_dir

PathArg = Union[str, "os.PathLike[str]"]

LAYOUTS = ("flat", "encodings")
"""``flat`` writes into DEST; ``encodings`` into ``DEST/encodings/`` (a model directory's place)."""

SUMS_FILE = "SHA256SUMS"
SUMS_MAX_BYTES = 1 << 20
"""A SHA256SUMS larger than this (about 8,000 lines) is not ours to update."""

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class ExportConflictError(VocabError, FileExistsError):
    """Files at the destination that differ from what would be written, or are symlinks to
    files outside it; `.conflicts` lists them."""

    def __init__(self, conflicts: List[Tuple[Path, str]]) -> None:
        self.conflicts = conflicts
        listed = "; ".join(f"{path} ({reason})" for path, reason in conflicts)
        super().__init__(
            f"refusing to replace {len(conflicts)} file(s) that are not a real copy of the pinned vocab: "
            f"{listed}. Pass --force (force=True) to replace them, or choose an empty destination"
        )

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Exported:
    """One file of an export: the vocab `name` (None for SHA256SUMS), where it went, and whether
    it was ``written`` or already there and ``unchanged``."""

    name: Optional[str]
    path: Path
    action: str


def target_dir(dest: PathArg, layout: str = "flat") -> Path:
    """The directory an export with `layout` writes into."""
    if layout not in LAYOUTS:
        raise VocabError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    base = Path(dest)
    return base / "encodings" if layout == "encodings" else base


def read_sums(path: Path) -> Dict[str, str]:
    """Parse a ``SHA256SUMS`` file into ``{file name: sha256}``; raise `ValueError` on a line
    that is not ``<64 hex>  <name>``."""
    sums: Dict[str, str] = {}
    text = read_regular(path, SUMS_MAX_BYTES, "a SHA256SUMS file").decode("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _SUM_LINE.match(line)
        if not match:
            raise ValueError(f"{path}:{number} is not a 'sha256  file' line")
        sums[match.group(2)] = match.group(1).lower()
    return sums


def format_sums(sums: Dict[str, str]) -> str:
    """``SHA256SUMS`` text: one ``<sha256>  <file>`` line per file, sorted by file name."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(sums.items()))


class ExportWriteError(VocabError, OSError):
    """The destination could not be written (a full disk, no permission); nothing was changed."""

    def __str__(self) -> str:
        return str(self.args[0])


def export(
    dest: PathArg,
    names: Iterable[str] = VOCABS,
    *,
    layout: str = "flat",
    force: bool = False,
    **lookup: object,
) -> List[Exported]:
    """Copy the verified vocab files `names` into `dest` (or ``dest/encodings``) and write or
    update ``SHA256SUMS`` there; return what was done, SHA256SUMS last.

    All or nothing: every file is written in full beside its target, and only then renamed into
    place, so a failure (a full disk) leaves the destination as it was. Exports into one
    directory take turns (a lock on the directory), so entries of an existing ``SHA256SUMS`` for
    other files, also those another export is adding at the same time, are kept. A file at the
    target that is not the pinned vocab, or that is a symlink to a file outside `dest` (which a
    copy of `dest` would not carry), is a conflict: replaced by a real file with `force`, else
    nothing is written.

    Raises `UnknownVocabError`, `VocabNotFoundError` (a vocab the lookup order cannot find;
    `lookup` is passed to `resolve`), `ExportConflictError` (a conflict and `force` is false),
    `ExportWriteError` (the destination cannot be created or written; names the path).
    """
    directory = target_dir(dest, layout)
    pins = [get_pin(n) for n in dict.fromkeys(names)]
    sources = {pin.name: resolve(pin.name, **lookup).path for pin in pins}  # type: ignore[arg-type]
    try:
        make_dir(directory)
    except OSError as exc:
        where = "" if exc.filename == os.fspath(directory) else f"{exc.filename}: "
        raise ExportWriteError(f"cannot export into {directory}: {where}{exc.strerror or exc}") from None
    with locked_dir(directory):
        return _export_locked(directory, Path(dest), pins, sources, force)


def _export_locked(directory: Path, dest: Path, pins: List[Pin], sources: Dict[str, Path],
                   force: bool) -> List[Exported]:
    sums_path = directory / SUMS_FILE
    sums: Dict[str, str] = {}
    conflicts: List[Tuple[Path, str]] = []
    if os.path.lexists(sums_path):
        try:
            sums = read_sums(sums_path)
        except (ValueError, OSError) as exc:
            conflicts.append((sums_path, f"not a readable sha256sum file: {exc}"))
    todo: List[Tuple[Pin, Path, bool]] = []  # pin, target, needs writing
    for pin in pins:
        target = directory / pin.file
        problem = _problem(target, pin, dest)
        if problem:
            conflicts.append((target, problem))
        todo.append((pin, target, problem is not None or not os.path.lexists(target)))
    if conflicts and not force:
        raise ExportConflictError(conflicts)
    for pin, target, needs_writing in todo:
        if needs_writing and os.path.isdir(target) and not os.path.islink(target):
            raise VocabError(f"{target} is a directory: remove it, then export again")

    sums.update({pin.file: pin.sha256 for pin in pins})
    text = format_sums(sums).encode("utf-8")
    try:
        sums_unchanged = not os.path.islink(sums_path) and read_regular(
            sums_path, SUMS_MAX_BYTES, "a SHA256SUMS file") == text
    except OSError:
        sums_unchanged = False
    writing = [(pin, target) for pin, target, needs_writing in todo if needs_writing]
    current = directory
    try:
        with atomic_files() as stage:
            for pin, target in writing:
                current = target
                with stage.file(target) as out:
                    copy_to(out, sources[pin.name], pin)
            if not sums_unchanged:
                current = sums_path
                with stage.file(sums_path) as out:
                    out.write(text)
            current = directory
    except OSError as exc:
        if isinstance(exc, VocabError):
            raise
        needed = sum(pin.size for pin, _ in writing) + len(text)
        detail = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename).parent != directory:
            detail = f"{exc.filename}: {detail}"  # the source, not the destination
        space = f" (the export needs {needed} bytes there)" if exc.errno in _NO_SPACE else ""
        raise ExportWriteError(f"cannot write {current}: {detail}; nothing was changed in "
                               f"{directory}{space}") from None
    done = [Exported(pin.name, target, "written" if needs_writing else "unchanged")
            for pin, target, needs_writing in todo]
    done.append(Exported(None, sums_path, "unchanged" if sums_unchanged else "written"))
    return done


_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _problem(target: Path, pin: Pin, dest: Path) -> Optional[str]:
    """Why the file at `target` must not stay (None when absent, or the pinned vocab)."""
    if not os.path.lexists(target):
        return None
    try:
        check_file(target, pin)
    except (VocabError, OSError) as exc:
        return describe_failure(exc)
    if os.path.islink(target):
        real = Path(os.path.realpath(target))
        inside = Path(os.path.realpath(dest))
        if inside not in real.parents:
            return (f"a symlink to {real}, outside {dest}: a copy of {dest} would not carry the "
                    f"file, so --force replaces the link with a real file")
    return None
