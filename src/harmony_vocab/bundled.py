"""The vocab files packaged in the wheel, found with importlib.resources (like certifi.where())."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .pins import PINS, get_pin

if TYPE_CHECKING:  # pragma: no cover
    from importlib.abc import Traversable

_dir: Optional[Path] = None


def bundled_dir() -> Path:
    """The directory holding the packaged ``<name>.tiktoken`` files.

    Usable as ``TIKTOKEN_ENCODINGS_BASE``. From a zip import it is extracted once to a temporary
    directory that lives until the interpreter exits.
    """
    global _dir
    if _dir is not None:
        return _dir
    here = os.path.join(os.path.dirname(__file__), "data")
    if os.path.isdir(here):
        # A package on disk: this is what importlib.resources.files() returns, without the ~1 ms
        # that importing importlib.resources (and zipfile) costs a first resolve().
        _dir = Path(here)
    else:  # any other loader (a zip import): importlib.resources, extracting when it must
        from importlib.resources import files  # exists from 3.9

        resource = files(__package__) / "data"
        _dir = resource if isinstance(resource, Path) else _extract(resource)
    return _dir


def _extract(resource: "Traversable") -> Path:
    """Copy the vocab files of a non-filesystem package into a temporary directory that lives
    until the interpreter exits (as_file() handles directories only from Python 3.12)."""
    import shutil
    import tempfile

    target = Path(tempfile.mkdtemp(prefix="harmony-vocab-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    for pin in PINS.values():
        try:  # not is_file(): Python 3.9's zipfile.Path says True for a missing entry
            data = (resource / pin.file).read_bytes()
        except (OSError, KeyError):
            continue  # left missing: resolve() reports it
        (target / pin.file).write_bytes(data)
    return target


def bundled_path(name: str) -> Path:
    """The path of the packaged copy of vocab `name` (e.g. ``"o200k_base"``).

    Raises `UnknownVocabError` for a name that is not pinned. The file is not hashed here: use
    `verify_file` or `resolve` for that.
    """
    return bundled_dir() / get_pin(name).file
