"""What a wheel is built from: the source files of the working tree or of a git revision."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

from harness import ROOT, SetupError, run

# What a wheel is built from (a clean checkout needs no more); its hash keys the cached wheel.
SOURCE_ITEMS = ("pyproject.toml", "hatch_build.py", "vocab_manifest.toml", "README.md", "LICENSE", "src", "legacy")
# Build artifacts git ignores: the vocab files the build copies into each package's data/, the
# pins it writes into _pins.py, and caches.
SOURCE_IGNORE = ("data", "_pins.py", "*.tiktoken", "*.part", "__pycache__", "*.pyc", "*.egg-info", "build",
                 "dist", ".*")


def source_files(root: Path) -> List[Path]:
    """The files a wheel is built from, as a clean checkout under `root` has them (no built vocab
    files, no caches): pyproject.toml, hatch_build.py, vocab_manifest.toml (the pins), README.md,
    LICENSE, everything under src/ (the package, and the ``harmony_vocab.pth``,
    ``harmony_vocab.start`` and top-level ``_harmony_vocab_startup.py`` that the wheel
    force-includes) and the companion's project under legacy/ (whose build hook and manifest are
    links to the root's). Both the cache key of the wheels and the tree they are built from come
    from this list."""
    files: List[Path] = []
    for item in SOURCE_ITEMS:
        base = root / item
        for path in sorted(base.rglob("*")) if base.is_dir() else [base]:
            rel = path.relative_to(root)
            if not path.is_file() or any(
                    fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in SOURCE_IGNORE):
                continue
            files.append(path)
    return files


def copy_source_tree(root: Path, dest: Path) -> Path:
    """A copy of `root`'s `source_files` in `dest` (replaced): what a clean checkout holds."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in source_files(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():  # legacy/'s links to the root's build hook and manifest stay links
            os.symlink(os.readlink(path), target)
        else:
            shutil.copy2(path, target)
    return dest


def source_key(root: Path) -> str:
    """A hash of `root`'s `source_files` (paths and contents): a cached wheel is reused while it
    matches."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def git(*args: str) -> str:
    out: str = run(["git", "-C", ROOT, *args]).stdout
    return out.strip()


def export_revision(rev: str, work: Path) -> Tuple[Path, Dict[str, Any]]:
    """The source files of git revision `rev`, exported under `work` (not the working tree, which
    may hold uncommitted edits): ``(root, description)``."""
    commit = git("rev-parse", "--verify", rev + "^{commit}")
    dest = work / "sources" / commit[:12]
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        listed = git("ls-tree", "--name-only", commit).splitlines()
        items = [item for item in SOURCE_ITEMS if item in listed]
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "--", *items],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # our own repository's archive
                tar.extractall(dest)
        (dest / ".complete").write_text(commit + "\n")
    return dest, {"rev": rev, "commit": commit, "dirty": False}


def describe_working_tree() -> Dict[str, Any]:
    """The commit the working tree is at, and whether its source files differ from it."""
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", *SOURCE_ITEMS))
    except (SetupError, OSError):
        return {"rev": None, "commit": None, "dirty": None}
    return {"rev": "working tree", "commit": commit, "dirty": dirty}


def describe_source(info: Mapping[str, Any]) -> str:
    if info.get("wheel"):
        return str(info["wheel"])
    if not info.get("commit"):
        return "a tree outside git"
    text = f"{info['rev']} at {info['commit'][:12]}"
    return text + (" with uncommitted edits" if info.get("dirty") else "")
