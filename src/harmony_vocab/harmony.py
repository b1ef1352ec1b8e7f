"""openai-harmony glue: load an encoding from a verified file; register a vocab directory."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Union

from . import locations as loc
from .errors import MissingExtraError, VocabError, VocabNotFoundError
from .pins import VOCABS, get_pin
from .resolution import Resolution, registered_by_us, resolve
from .storage import process_temp_dir

PathArg = Union[str, "os.PathLike[str]", None]

# The encoding names openai-harmony's Python API accepts (HarmonyEncodingName values), and the
# vocab each one reads. (Its Rust core also knows o200k_harmony, o200k_base and cl100k_base, but
# load_harmony_encoding rejects them.)
HARMONY_ENCODING_VOCABS: Dict[str, str] = {
    "HarmonyGptOss": "o200k_base",
}

_env_lock = threading.Lock()


def vocab_for_encoding(encoding: Any) -> str:
    """The vocab name behind an openai-harmony encoding name (str or `HarmonyEncodingName`)."""
    key = getattr(encoding, "value", encoding)
    try:
        return HARMONY_ENCODING_VOCABS[key]
    except (KeyError, TypeError):
        known = ", ".join(HARMONY_ENCODING_VOCABS)
        raise VocabError(f"unknown openai-harmony encoding {encoding!r}: expected one of {known}") from None


def directory_for(resolutions: "Dict[str, Resolution]") -> Path:
    """One directory holding every resolved file under its canonical name: the files' own
    directory when they already share one, else a directory of links in our cache. Always an
    absolute path: it is handed to other tools, which may look at it from another directory."""
    files = {n: Path(os.path.abspath(r.path)) for n, r in resolutions.items()}
    parents = {path.parent for path in files.values()}
    if len(parents) == 1 and all(path.name == get_pin(n).file for n, path in files.items()):
        return parents.pop()
    return linked_dir(files)


def linked_dir(files: "dict[str, Path]") -> Path:
    """A directory in our cache whose ``<name>.tiktoken`` entries link to `files` (name -> path),
    for tools that want one directory of canonically named files (``TIKTOKEN_ENCODINGS_BASE``)."""
    key = hashlib.sha256("\0".join(f"{n}={p}" for n, p in sorted(files.items())).encode()).hexdigest()[:24]
    try:
        return _link_into(loc.cache_dir() / "linked" / key, files)
    except OSError:  # a read-only cache: links for this process only
        return _link_into(process_temp_dir(), files)


def _link_into(directory: Path, files: "dict[str, Path]") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        link = directory / get_pin(name).file
        if os.path.islink(link) and os.readlink(link) == str(path):
            continue
        part = directory / f".{link.name}.{uuid.uuid4().hex}.part"
        os.symlink(str(path), part)
        os.replace(part, link)
    return directory


def load_harmony_encoding(
    name: Any,
    *,
    vocab_path: PathArg = None,
    vocab_dir: PathArg = None,
    model_dir: PathArg = None,
    download: Optional[bool] = None,
) -> Any:
    """Return a real ``openai_harmony.HarmonyEncoding`` loaded from the resolved, verified file.

    `name` is an ``openai_harmony.HarmonyEncodingName`` or its string value (``"HarmonyGptOss"``).
    The file may have any name. openai-harmony never touches the network: it is pointed at the
    file through ``TIKTOKEN_ENCODINGS_BASE`` for the duration of the call (under a lock, so the
    call is safe from several threads). Needs ``harmony-vocab[harmony]``.
    """
    try:
        import openai_harmony
    except ImportError:
        raise MissingExtraError("openai-harmony", "harmony", "load_harmony_encoding") from None
    vocab = vocab_for_encoding(name)
    resolution = resolve(vocab, vocab_path=vocab_path, vocab_dir=vocab_dir,
                         model_dir=model_dir, download=download)
    directory = directory_for({vocab: resolution})
    with _env_lock:
        saved = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
        os.environ[loc.TIKTOKEN_ENCODINGS_BASE] = str(directory)
        try:
            return openai_harmony.load_harmony_encoding(name)
        finally:
            if saved is None:
                del os.environ[loc.TIKTOKEN_ENCODINGS_BASE]
            else:
                os.environ[loc.TIKTOKEN_ENCODINGS_BASE] = saved


def install_tiktoken_hook() -> None:
    """Serve tiktoken's pinned vocab downloads from the lookup order in this process, as the
    start-up run does: the finder, or, when ``tiktoken.load`` is already imported, its functions
    wrapped now (``harmony_vocab.tiktoken_hook``)."""
    import sys

    from _harmony_vocab_startup import TiktokenFinder

    from .tiktoken_hook import patch

    loaded = sys.modules.get("tiktoken.load")
    if loaded is not None:
        patch(loaded)
    elif not any(isinstance(f, TiktokenFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TiktokenFinder())


def register(
    *,
    vocab_dir: PathArg = None,
    model_dir: PathArg = None,
    download: Optional[bool] = None,
) -> Path:
    """Point openai-harmony at the vocab directory the lookup order selects, and return it.

    Sets ``TIKTOKEN_ENCODINGS_BASE`` unless an operator already set it (then that directory is
    returned unchanged); a value set by an earlier registration is replaced. Every vocab is
    resolved and verified; one that cannot be found is left out with a warning, and if none is
    found `VocabNotFoundError` is raised. It also installs the tiktoken start-up hook, as the
    ``.pth`` does (`install_tiktoken_hook`): the one call a program that starts without the
    ``.pth`` (``python -S``, ``PYTHONPATH`` installs, a zipapp) needs at its top.
    """
    install_tiktoken_hook()
    current = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    if current and registered_by_us() is None:
        return Path(current)
    saved = {k: os.environ.pop(k) for k in (loc.TIKTOKEN_ENCODINGS_BASE, loc.ENV_REGISTERED) if k in os.environ}
    resolutions: Dict[str, Resolution] = {}
    first_error: Optional[VocabNotFoundError] = None
    try:
        for vocab in VOCABS:
            try:
                resolutions[vocab] = resolve(vocab, vocab_dir=vocab_dir, model_dir=model_dir, download=download)
            except VocabNotFoundError as exc:
                first_error = first_error or exc
                warnings.warn(f"harmony-vocab: {vocab} not registered: no verified copy found", stacklevel=2)
        if not resolutions:
            assert first_error is not None
            raise first_error
    except BaseException:
        os.environ.update(saved)
        raise
    directory = directory_for(resolutions)
    tier = resolutions[VOCABS[0]].tier if VOCABS[0] in resolutions else next(iter(resolutions.values())).tier
    os.environ[loc.TIKTOKEN_ENCODINGS_BASE] = str(directory)
    os.environ[loc.ENV_REGISTERED] = loc.marker(tier, str(directory))
    return directory
