"""harmony-vocab: the tiktoken vocab files behind openai-harmony and tiktoken, shipped and verified.

Importing it is cheap: the public API below is imported on first use. Where each part lives, module by
module: CONTRIBUTING.md.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

_EXPORTS = {
    "resolve": "lookup", "Resolution": "lookup", "bundled_path": "lookup", "bundled_dir": "tiers",
    "register": "openai_harmony", "verify_file": "files", "get_pin": "pins", "VOCABS": "pins",
    "VocabError": "errors", "VocabNotFoundError": "errors", "VocabIntegrityError": "errors",
    "VocabWarning": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harmony_vocab' has no attribute {name!r}")
    # Import statements, not importlib: freezers (Nuitka) take in only the modules they see imported.
    from . import errors, files, lookup, openai_harmony, pins, tiers

    globals()[name] = getattr(locals()[module], name)
    return globals()[name]


def __dir__() -> "list[str]":
    return sorted(__all__)


# A worker started by spawn or forkserver from a program that called register() inherits the
# registration (tiers.ENV_REGISTERED, set only where the registration ran, written here so that
# nothing more is imported when it is unset: tests/test_startup.py checks it); importing this
# package there installs the tiktoken hook too, unless the opt-out holds.
_REGISTERED = "HARMONY_VOCAB_REGISTERED"
if _os.environ.get(_REGISTERED) and not any(type(f).__name__ == "TiktokenFinder" for f in _sys.meta_path):
    from .tiers import registration_enabled as _enabled

    if _enabled(_os.environ):
        from .tiktoken import install_hook as _install_hook

        _install_hook()

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .errors import VocabError, VocabIntegrityError, VocabNotFoundError, VocabWarning
    from .files import verify_file
    from .lookup import Resolution, bundled_path, resolve
    from .openai_harmony import register
    from .pins import VOCABS, get_pin
    from .tiers import bundled_dir
