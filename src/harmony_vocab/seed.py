"""Seed openai-harmony's and tiktoken's download caches with verified copies, so that unmodified
programs find the vocab where they would have downloaded it (files named by the sha1 of the URL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Union

from .errors import VocabError
from .integrity import check_file
from .locations import harmony_cache_dir, tiktoken_cache_dir, url_cache_name
from .pins import VOCABS, get_pin
from .resolution import resolve
from .storage import copy_atomic

PathArg = Union[str, "os.PathLike[str]", None]


def _seed(directory: Path, names: Iterable[str], **lookup: object) -> List[Path]:
    written = []
    for name in names:
        pin = get_pin(name)
        source = resolve(name, **lookup).path  # type: ignore[arg-type]
        target = directory / url_cache_name(pin.canonical_url)
        try:
            check_file(target, pin)  # already there and right: leave it alone
        except (VocabError, OSError):
            copy_atomic(source, target)
            check_file(target, pin)
        written.append(target)
    return written


def seed_tiktoken_cache(directory: PathArg = None, names: Iterable[str] = VOCABS, **lookup: object) -> List[Path]:
    """Write verified copies where ``tiktoken.get_encoding`` looks before downloading.

    `directory` defaults to tiktoken's own choice (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR``,
    ``$TMPDIR/data-gym-cache``). Returns the paths written; `lookup` is passed to `resolve`.
    """
    target = Path(directory) if directory is not None else tiktoken_cache_dir()
    if target is None:
        raise VocabError("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is empty): pass a directory")
    return _seed(target, names, **lookup)


def seed_harmony_cache(directory: PathArg = None, names: Iterable[str] = VOCABS, **lookup: object) -> List[Path]:
    """Write verified copies where openai-harmony looks before downloading.

    `directory` defaults to ``TIKTOKEN_RS_CACHE_DIR``, else ``$TMPDIR/tiktoken-rs-cache``.
    """
    return _seed(Path(directory) if directory is not None else harmony_cache_dir(), names, **lookup)
