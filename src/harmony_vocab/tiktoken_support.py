"""tiktoken glue: a ``tiktoken.Encoding`` built offline from the resolved, verified files."""

from __future__ import annotations

import os
import types
from typing import Any, Dict, Optional, Union

from .errors import MissingExtraError, NotShippedError
from .integrity import read_verified
from .resolution import resolve
from .pins import get_pin
from .tiktoken_hook import BY_URL, ours, parse_ranks

PathArg = Union[str, "os.PathLike[str]", None]


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

    `name` is any encoding ``tiktoken_ext.openai_public`` builds on a vocab we ship:
    ``o200k_base``, ``cl100k_base``, ``o200k_harmony``... The pattern and special tokens come
    from tiktoken's own definition; only the ranks are read from our verified files, and the
    lookup options apply to each vocab the encoding reads. tiktoken's modules are left as they
    are (the definition runs against a private copy of its module's names), so other threads'
    tiktoken is never affected. Raises `NotShippedError` (a `ValueError`) for any other name,
    and what `resolve` raises.
    """
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        raise MissingExtraError("tiktoken", "tiktoken", "tiktoken_encoding") from None
    shipped = ", ".join(sorted(BY_URL.values()))
    constructors: Dict[str, Any] = getattr(openai_public, "ENCODING_CONSTRUCTORS", {})
    constructor = constructors.get(name) if isinstance(name, str) else None
    if constructor is None:
        raise NotShippedError(f"unknown tiktoken encoding {name!r}: expected one of tiktoken_ext.openai_public's "
                              f"encodings built on a vocab harmony-vocab ships ({shipped})")

    def load_verified(url: str, expected_hash: Optional[str] = None) -> Dict[bytes, int]:
        vocab = ours(url, expected_hash)
        if vocab is None:
            raise NotShippedError(f"tiktoken encoding {name!r} is built on {url}, which harmony-vocab does "
                                  f"not ship (it ships {shipped}): use tiktoken.get_encoding({name!r}) "
                                  f"with network access")
        found = resolve(vocab, vocab_path=vocab_path, vocab_dir=vocab_dir, model_dir=model_dir,
                        download=download)
        return parse_ranks(read_verified(found.path, get_pin(vocab)))

    def not_shipped(vocab_bpe_file: str, *args: Any, **kwargs: Any) -> Dict[bytes, int]:
        return load_verified(vocab_bpe_file, "")

    # The module's functions, rebuilt over a private copy of its names, with our loaders in it.
    names: Dict[str, Any] = dict(vars(openai_public))
    names.update(load_tiktoken_bpe=load_verified, data_gym_to_mergeable_bpe_ranks=not_shipped)
    for key, value in list(names.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == openai_public.__name__:
            names[key] = types.FunctionType(value.__code__, names, value.__name__, value.__defaults__,
                                            value.__closure__)
    private = names.get(constructor.__name__)
    if not isinstance(private, types.FunctionType):
        raise NotShippedError(f"tiktoken encoding {name!r} is not defined by a function of "
                              f"tiktoken_ext.openai_public: harmony-vocab cannot build it")
    return tiktoken.Encoding(**private())
