"""tiktoken glue: a ``tiktoken.Encoding`` built offline from the resolved, verified files."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional, Union

from .errors import MissingExtraError, NotShippedError
from .integrity import read_verified
from .resolution import resolve
from .tiktoken_hook import BY_URL, parse_ranks

PathArg = Union[str, "os.PathLike[str]", None]

_constructor_lock = threading.Lock()


def tiktoken_encoding(
    name: str,
    *,
    vocab_path: PathArg = None,
    vocab_dir: PathArg = None,
    model_dir: PathArg = None,
    download: Optional[bool] = None,
) -> Any:
    """Return a ``tiktoken.Encoding`` that behaves as ``tiktoken.get_encoding(name)``, built from
    the resolved files with no network. Needs ``harmony-vocab[tiktoken]``.

    `name` is any encoding tiktoken defines on a vocab we ship: ``o200k_base``, ``cl100k_base``,
    ``o200k_harmony``... The pattern and special tokens come from tiktoken's own definition
    (``tiktoken_ext.openai_public``); only the ranks are read from our verified files, and the
    lookup options apply to each vocab the encoding reads. Raises `NotShippedError` (a
    `ValueError`) for an encoding built on another vocab, and what `resolve` raises.
    """
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        raise MissingExtraError("tiktoken", "tiktoken", "tiktoken_encoding") from None
    constructors: Dict[str, Any] = getattr(openai_public, "ENCODING_CONSTRUCTORS", {})
    constructor = constructors.get(name)
    if constructor is None:
        raise NotShippedError(f"unknown tiktoken encoding {name!r}: expected one of tiktoken's "
                              f"{', '.join(constructors)}")

    def load_verified(url: str, expected_hash: Optional[str] = None) -> Dict[bytes, int]:
        pin = BY_URL.get(url)
        if pin is None or expected_hash not in (None, pin.sha256):
            raise NotShippedError(f"tiktoken encoding {name!r} is built on {url}, which harmony-vocab does "
                                  f"not ship (it ships {', '.join(p.file for p in BY_URL.values())}): "
                                  f"use tiktoken.get_encoding({name!r}) with network access")
        found = resolve(pin.name, vocab_path=vocab_path, vocab_dir=vocab_dir, model_dir=model_dir,
                        download=download)
        return parse_ranks(read_verified(found.path, pin))

    def not_shipped(vocab_bpe_file: str, *args: Any, **kwargs: Any) -> Dict[bytes, int]:
        return load_verified(vocab_bpe_file, "")

    replaced = {"load_tiktoken_bpe": load_verified, "data_gym_to_mergeable_bpe_ranks": not_shipped}
    with _constructor_lock:
        originals = {attr: getattr(openai_public, attr) for attr in replaced if hasattr(openai_public, attr)}
        for attr in originals:
            setattr(openai_public, attr, replaced[attr])
        try:
            spec = constructor()
        finally:
            for attr, function in originals.items():
                setattr(openai_public, attr, function)
    return tiktoken.Encoding(**spec)
