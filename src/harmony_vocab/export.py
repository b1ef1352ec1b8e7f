"""Copy verified vocab files into a directory, with a ``SHA256SUMS`` file (``sha256sum -c`` format).

Used by ``harmony-vocab export`` to prepare a container image or a mirrored model repository.
Every source comes from the lookup order (so it is verified against its pin); every copy is
written atomically and verified again in place. A file already at the target that differs from
the pinned vocab is never overwritten unless `force` is true, and then nothing at all is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .errors import VocabError
from .integrity import check_file, describe_failure, read_regular
from .pins import VOCABS, get_pin
from .resolution import resolve
from .storage import copy_atomic, write_atomic

PathArg = Union[str, "os.PathLike[str]"]

LAYOUTS = ("flat", "encodings")
"""``flat`` writes into DEST; ``encodings`` into ``DEST/encodings/`` (a model directory's place)."""

SUMS_FILE = "SHA256SUMS"
SUMS_MAX_BYTES = 1 << 20
"""A SHA256SUMS larger than this (about 8,000 lines) is not ours to update."""

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class ExportConflictError(VocabError, FileExistsError):
    """Files at the destination that differ from what would be written; `.conflicts` lists them."""

    def __init__(self, conflicts: List[Tuple[Path, str]]) -> None:
        self.conflicts = conflicts
        listed = "; ".join(f"{path} ({reason})" for path, reason in conflicts)
        super().__init__(
            f"refusing to overwrite {len(conflicts)} file(s) that differ from the pinned vocab: "
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

    Entries of an existing ``SHA256SUMS`` for other files are kept. Raises `UnknownVocabError`,
    `VocabNotFoundError` (a vocab the lookup order cannot find; `lookup` is passed to `resolve`),
    `ExportConflictError` (a different file is in the way and `force` is false; nothing written).
    """
    directory = target_dir(dest, layout)
    pins = [get_pin(n) for n in dict.fromkeys(names)]
    sources = {pin.name: resolve(pin.name, **lookup).path for pin in pins}  # type: ignore[arg-type]

    sums_path = directory / SUMS_FILE
    existing_sums: Dict[str, str] = {}
    conflicts: List[Tuple[Path, str]] = []
    if os.path.lexists(sums_path):
        try:
            existing_sums = read_sums(sums_path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            conflicts.append((sums_path, f"not a readable sha256sum file: {exc}"))
    todo: List[Tuple[str, Path, bool]] = []  # name, target, needs writing
    for pin in pins:
        target = directory / pin.file
        if not os.path.lexists(target):
            todo.append((pin.name, target, True))
            continue
        try:
            check_file(target, pin)
        except (VocabError, OSError) as exc:
            conflicts.append((target, describe_failure(exc)))
            todo.append((pin.name, target, True))
        else:
            todo.append((pin.name, target, False))
    if conflicts and not force:
        raise ExportConflictError(conflicts)

    done: List[Exported] = []
    for name, target, needs_writing in todo:
        pin = get_pin(name)
        if needs_writing:
            if os.path.isdir(target) and not os.path.islink(target):
                raise VocabError(f"{target} is a directory: remove it, then export again")
            copy_atomic(sources[name], target)
            check_file(target, pin)
        done.append(Exported(name, target, "written" if needs_writing else "unchanged"))

    sums = dict(existing_sums)
    sums.update({get_pin(name).file: get_pin(name).sha256 for name, _, _ in todo})
    text = format_sums(sums)
    try:
        unchanged = sums_path.is_file() and sums_path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        unchanged = False
    if not unchanged:
        write_atomic(sums_path, text.encode("utf-8"))
    done.append(Exported(None, sums_path, "unchanged" if unchanged else "written"))
    return done
