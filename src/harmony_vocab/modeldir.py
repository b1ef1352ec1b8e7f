"""Model directories: where a vocab may sit inside a model repository, local or in the HF cache."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Tuple

from .locations import hf_hub_cache

SUBDIRS = ("", "encodings", "tokenizer", "original")
"""Looked at in this order inside a model directory."""

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def search_roots(model_dir: "str | os.PathLike[str]") -> Tuple[List[Path], str]:
    """The model roots to search for `model_dir`, and a note on how they were found.

    A path that exists is its own root. Otherwise a Hugging Face repo id (``org/name``) is looked
    up in the local hub cache, with no network: ``models--org--name/snapshots/<rev>/``, the
    revision named in ``refs/main`` first, then the others by name.
    """
    path = Path(model_dir).expanduser()
    if path.is_dir():
        return [path], "directory"
    text = os.fspath(model_dir)
    if path.exists() or not _REPO_ID.match(text):
        return [], "not a directory"
    repo = hf_hub_cache() / ("models--" + text.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return [], f"not a directory, nor a repo id in the Hugging Face cache ({repo} missing)"
    try:
        main = (repo / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    revisions = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    ordered = ([main] if main in revisions else []) + [r for r in revisions if r != main]
    return [snapshots / rev for rev in ordered], f"Hugging Face cache {repo}"


def candidate_dirs(roots: List[Path]) -> List[Path]:
    """The directories to look in, in order: each root, then its encodings/, tokenizer/, original/."""
    return [root / sub if sub else root for root in roots for sub in SUBDIRS]
