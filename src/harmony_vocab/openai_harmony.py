"""openai-harmony glue: `load_harmony_encoding` from a verified file, `register` (what the start-up
registration does, for programs that start without it), `seed_harmony_cache`."""

import hashlib
import os
import threading
import warnings

from .errors import MissingExtraError, VocabError, VocabNotFoundError
from .files import process_temp_dir
from .lookup import Resolution, resolve
from .pins import PINS, harmony_cached, harmony_pin
from .tiers import ENV_REGISTERED, TIKTOKEN_ENCODINGS_BASE, TIKTOKEN_RS_CACHE_DIR, cache_dir, harmony_cache_dir
from .tiers import harmony_readable, marker, registered_by_us

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from typing import Any, Iterable, List, Optional, Union

    PathArg = Union[str, "os.PathLike[str]", None]

HARMONY_ENCODINGS = {"HarmonyGptOss": "o200k_base"}
"""The encodings openai-harmony's Python API loads (HarmonyEncodingName values), and their vocab."""

_env_lock = threading.Lock()


def directory_for(found: Resolution) -> "Path":
    """One directory holding the resolved files under their canonical names, readable by
    openai-harmony (UTF-8): the files' own directory when they share one, else a directory of
    links in our cache (or, when it cannot be written, in a directory for this process)."""
    from pathlib import Path

    files = {f.name: Path(os.path.abspath(p)) for f, p in zip(PINS[found.name].files, found.strings)}
    parents = {p.parent for p in files.values()}
    if len(parents) == 1 and all(p.name == name for name, p in files.items()) and harmony_readable(str(*parents)):
        return parents.pop()
    key = hashlib.sha256("\0".join(f"{n}={p}" for n, p in sorted(files.items())).encode(errors="surrogateescape"))
    for base in (cache_dir(os.environ), None):
        directory = os.path.join(base, "linked", key.hexdigest()[:24]) if base else str(process_temp_dir())
        try:
            os.makedirs(directory, exist_ok=True)
            for name, path in files.items():
                link = os.path.join(directory, name)
                if not (os.path.islink(link) and os.readlink(link) == str(path)):
                    part = f"{link}.{os.getpid()}.part"
                    os.symlink(path, part)
                    os.replace(part, link)
            if harmony_readable(directory):
                return Path(directory)
        except OSError:
            continue
    raise VocabError("no directory openai-harmony can read to link the vocab into: set HARMONY_VOCAB_CACHE_DIR "
                     "to a writable directory whose path is UTF-8")


def load_harmony_encoding(name: "Any", *, vocab_path: "PathArg" = None, vocab_dir: "PathArg" = None,
                          model_dir: "PathArg" = None, download: "Optional[bool]" = None) -> "Any":
    """A real ``openai_harmony.HarmonyEncoding`` loaded from the resolved, verified file (any file
    name, any directory), never from the network: openai-harmony is pointed at it through
    ``TIKTOKEN_ENCODINGS_BASE`` for the call, under a lock (thread-safe). `name` is a
    ``HarmonyEncodingName`` or its value. Needs ``harmony-vocab[harmony]``."""
    try:
        import openai_harmony
    except ImportError:
        raise MissingExtraError("openai-harmony", "harmony", "load_harmony_encoding") from None
    vocab = HARMONY_ENCODINGS.get(getattr(name, "value", name))
    if vocab is None:
        raise VocabError(f"unknown openai-harmony encoding {name!r}: expected one of {', '.join(HARMONY_ENCODINGS)}")
    found = resolve(vocab, vocab_path=vocab_path, vocab_dir=vocab_dir, model_dir=model_dir, download=download)
    directory = directory_for(found)
    with _env_lock:
        saved = os.environ.get(TIKTOKEN_ENCODINGS_BASE)
        os.environ[TIKTOKEN_ENCODINGS_BASE] = str(directory)
        try:
            return openai_harmony.load_harmony_encoding(name)
        finally:
            if saved is None:
                del os.environ[TIKTOKEN_ENCODINGS_BASE]
            else:
                os.environ[TIKTOKEN_ENCODINGS_BASE] = saved


def register(*, vocab_dir: "PathArg" = None, model_dir: "PathArg" = None, download: "Optional[bool]" = None) -> "Path":
    """Do what the start-up registration does, for a program started without it (``python -S``,
    ``--target`` installs, zipapps, frozen apps): point openai-harmony at the directory the lookup
    order selects (``TIKTOKEN_ENCODINGS_BASE``, unless an operator set it: that directory is then
    returned) and install the tiktoken hook in this process. Worker processes inherit the
    registration; the hook reaches them when they import harmony_vocab (spawn and forkserver
    workers do when the main module imports it at its top, even if `register` is called under
    ``if __name__ == "__main__"``). Raises `VocabNotFoundError` when openai-harmony's vocab has no
    verified copy."""
    from pathlib import Path

    from .tiktoken import install_hook

    install_hook()
    current = os.environ.get(TIKTOKEN_ENCODINGS_BASE)
    if current and registered_by_us(os.environ) is None:
        return Path(current)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = resolve(harmony_pin().name, vocab_dir=vocab_dir, model_dir=model_dir, download=download)
    directory = directory_for(found)
    os.environ[TIKTOKEN_ENCODINGS_BASE] = str(directory)
    os.environ[ENV_REGISTERED] = marker(found.tier, str(directory))
    return directory


def seed_harmony_cache(directory: "PathArg" = None, names: "Optional[Iterable[str]]" = None,
                       waiting: "Optional[Any]" = None) -> "List[str]":
    """Write verified copies where openai-harmony looks before downloading (default:
    ``TIKTOKEN_RS_CACHE_DIR``, else ``$TMPDIR/tiktoken-rs-cache``); return the paths. Raises
    `export.CacheDirError` for a directory it will not write into (see `export.seed_cache`)."""
    from .export import seed_cache

    known = harmony_cached()
    names = known if names is None else list(names)
    if not set(names) <= set(known):
        raise VocabError(f"openai-harmony reads only {', '.join(known)}: its cache takes no "
                         f"{', '.join(n for n in names if n not in known)}")
    target = harmony_cache_dir(os.environ) if directory is None else os.fspath(directory)
    return seed_cache(target, names, TIKTOKEN_RS_CACHE_DIR, "openai-harmony", waiting=waiting)


__all__ = ["HARMONY_ENCODINGS", "load_harmony_encoding", "register", "seed_harmony_cache", "VocabNotFoundError"]
