"""harmony-vocab: the tiktoken vocab files behind openai-harmony and tiktoken, shipped and verified.

The public API is imported lazily so that ``import harmony_vocab`` (run at every interpreter
start by the registration hook) stays a few microseconds of work: no hashing, no requests.
"""

TYPE_CHECKING = False  # typing is not imported at run time: this module runs at every start

__version__ = "0.1.0"

from _harmony_vocab_lookup import VOCABS as VOCABS  # generated from vocab_manifest.toml

_EXPORTS: "dict[str, str]" = {
    "bundled_dir": "bundled",
    "bundled_path": "bundled",
    "verify_file": "integrity",
    "resolve": "resolution",
    "Resolution": "resolution",
    "register": "harmony",
    "load_harmony_encoding": "harmony",
    "tiktoken_encoding": "tiktoken_support",
    "seed_tiktoken_cache": "seed",
    "seed_harmony_cache": "seed",
    "Pin": "pins",
    "get_pin": "pins",
    "Attempt": "errors",
    "VocabError": "errors",
    "UnknownVocabError": "errors",
    "VocabIntegrityError": "errors",
    "VocabNotFoundError": "errors",
    "FetchError": "errors",
    "MissingExtraError": "errors",
    "NotShippedError": "errors",
}

__all__ = ["VOCABS", "__version__", *_EXPORTS]


def __getattr__(name: str) -> "object":
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harmony_vocab' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from .bundled import bundled_dir, bundled_path
    from .errors import (
        Attempt,
        FetchError,
        MissingExtraError,
        NotShippedError,
        UnknownVocabError,
        VocabError,
        VocabIntegrityError,
        VocabNotFoundError,
    )
    from .harmony import load_harmony_encoding, register
    from .integrity import verify_file
    from .pins import Pin, get_pin
    from .resolution import Resolution, resolve
    from .seed import seed_harmony_cache, seed_tiktoken_cache
    from .tiktoken_support import tiktoken_encoding
