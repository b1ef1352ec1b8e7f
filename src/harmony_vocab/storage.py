"""Write files atomically: a temporary file in the target's directory, renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

PathLike = Union[str, "os.PathLike[str]"]


def _atomic(target: Path, fill: Callable[[BinaryIO], object]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(part, 0o644)
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return target


def copy_atomic(source: PathLike, target: PathLike) -> Path:
    """Copy `source` to `target` so that `target` is never seen half-written."""

    def fill(out: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)

    return _atomic(Path(target), fill)


def write_atomic(target: PathLike, data: bytes) -> Path:
    """Write `data` to `target` so that `target` is never seen half-written."""
    return _atomic(Path(target), lambda out: out.write(data))


def process_temp_dir() -> Path:
    """A new temporary directory, removed when the interpreter exits: where files go for this
    process only when the cache cannot be written."""
    import atexit
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="harmony-vocab-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory
