"""tiktoken glue: a ``tiktoken.Encoding`` built offline from the resolved, verified file."""

from __future__ import annotations

import binascii
import os
import threading
from typing import Any, Dict, Optional, Union

from .errors import MissingExtraError, VocabError
from .integrity import read_regular
from .pins import PINS, get_pin
from .resolution import resolve

PathArg = Union[str, "os.PathLike[str]", None]

_constructor_lock = threading.Lock()


def load_ranks(path: "os.PathLike[str] | str") -> Dict[bytes, int]:
    """Parse a ``.tiktoken`` file (no larger than the largest pin) into tiktoken's
    ``mergeable_ranks`` (token bytes -> rank)."""
    limit = max(pin.size for pin in PINS.values())
    parts = read_regular(path, limit, "a pinned .tiktoken vocab").split()
    if len(parts) % 2:
        raise VocabError(f"{os.fspath(path)} is not a .tiktoken vocab: expected 'token rank' pairs")
    return dict(zip(map(binascii.a2b_base64, parts[::2]), map(int, parts[1::2])))


def tiktoken_encoding(
    name: str,
    *,
    vocab_path: PathArg = None,
    vocab_dir: PathArg = None,
    model_dir: PathArg = None,
    download: Optional[bool] = None,
) -> Any:
    """Return a ``tiktoken.Encoding`` that behaves as ``tiktoken.get_encoding(name)``, built from
    the resolved file with no network. Needs ``harmony-vocab[tiktoken]``.

    The pattern and special tokens come from tiktoken's own definition of the encoding
    (``tiktoken_ext.openai_public``); only the ranks are read from our verified file.
    """
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        raise MissingExtraError("tiktoken", "tiktoken", "tiktoken_encoding") from None
    pin = get_pin(name)
    resolution = resolve(pin.name, vocab_path=vocab_path, vocab_dir=vocab_dir,
                         model_dir=model_dir, download=download)
    ranks = load_ranks(resolution.path)
    constructor = getattr(openai_public, pin.name)
    with _constructor_lock:
        original = openai_public.load_tiktoken_bpe

        def load_verified(blobpath: str, expected_hash: Optional[str] = None) -> Dict[bytes, int]:
            if expected_hash == pin.sha256:
                return ranks
            return original(blobpath, expected_hash)  # type: ignore[no-any-return]

        openai_public.load_tiktoken_bpe = load_verified
        try:
            spec = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)
