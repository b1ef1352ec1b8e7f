"""The vocab files packaged in the wheel, found with importlib.resources (like certifi.where())."""

from __future__ import annotations

import atexit
import contextlib
from pathlib import Path
from typing import Optional

from .pins import get_pin

_dir: Optional[Path] = None


def bundled_dir() -> Path:
    """The directory holding the packaged ``<name>.tiktoken`` files.

    Usable as ``TIKTOKEN_ENCODINGS_BASE``. From a zip import it is extracted once to a temporary
    directory that lives until the interpreter exits.
    """
    global _dir
    if _dir is None:
        from importlib.resources import as_file, files  # files() and as_file() exist from 3.9

        resource = files(__package__) / "data"
        if isinstance(resource, Path):
            _dir = resource
        else:
            stack = contextlib.ExitStack()
            atexit.register(stack.close)
            _dir = stack.enter_context(as_file(resource))
    return _dir


def bundled_path(name: str) -> Path:
    """The path of the packaged copy of vocab `name` (e.g. ``"o200k_base"``).

    Raises `UnknownVocabError` for a name that is not pinned. The file is not hashed here: use
    `verify_file` or `resolve` for that.
    """
    return bundled_dir() / get_pin(name).file
