"""Settings read from the environment and the directories derived from them, as `Path` objects.

The names and rules live once, in ``_harmony_vocab_lookup`` (which start-up can afford to
import); this module gives them to the package. Everything is read when called, never at import,
so a change to ``os.environ`` takes effect on the next lookup.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

import _harmony_vocab_paths as _paths
import _harmony_vocab_lookup as _base
# Re-exported: each name is defined once, in _harmony_vocab_lookup.
from _harmony_vocab_lookup import ENV_ALLOW_DOWNLOAD as ENV_ALLOW_DOWNLOAD
from _harmony_vocab_lookup import ENV_AUTOREGISTER as ENV_AUTOREGISTER
from _harmony_vocab_lookup import ENV_BASE_URL as ENV_BASE_URL
from _harmony_vocab_lookup import ENV_CACHE_DIR as ENV_CACHE_DIR
from _harmony_vocab_lookup import ENV_DOWNLOAD_DEADLINE as ENV_DOWNLOAD_DEADLINE
from _harmony_vocab_lookup import ENV_MODEL_DIR as ENV_MODEL_DIR
from _harmony_vocab_lookup import ENV_OFFLINE as ENV_OFFLINE
from _harmony_vocab_lookup import ENV_PREFIX as ENV_PREFIX
from _harmony_vocab_lookup import ENV_REGISTERED as ENV_REGISTERED
from _harmony_vocab_lookup import ENV_SOURCE_DIR as ENV_SOURCE_DIR
from _harmony_vocab_lookup import MODEL_SUBDIRS as MODEL_SUBDIRS
from _harmony_vocab_lookup import TIKTOKEN_CACHE_VARS as TIKTOKEN_CACHE_VARS
from _harmony_vocab_lookup import TIKTOKEN_ENCODINGS_BASE as TIKTOKEN_ENCODINGS_BASE
from _harmony_vocab_lookup import TIKTOKEN_RS_CACHE_DIR as TIKTOKEN_RS_CACHE_DIR
from _harmony_vocab_lookup import file_env_var as file_env_var
from _harmony_vocab_lookup import marker as marker

from .errors import VocabError
from .pins import url_cache_name as url_cache_name

def _environ(environ: Optional[Mapping[str, str]]) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def env_flag(var: str, default: bool, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Read a boolean variable; raise `VocabError` naming it if its value is not a boolean."""
    value = _base.flag(_environ(environ), var, default)
    if value is None:
        raise VocabError(f"{var}={_environ(environ)[var]!r} is not a boolean: use 1 or 0 "
                         f"(also true/false, yes/no, on/off)")
    return value


def cache_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Our per-user cache: ``$HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
    else ``~/.cache/harmony-vocab``. Raises `VocabError` when there is no home directory."""
    found = _paths.cache_dir(_environ(environ))
    if found is None:
        raise VocabError(f"no home directory to keep harmony-vocab's cache in: set {ENV_CACHE_DIR} "
                         f"to a directory of yours")
    return Path(found)


def harmony_cache_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Where openai-harmony caches downloads: ``$TIKTOKEN_RS_CACHE_DIR``, else
    ``$TMPDIR/tiktoken-rs-cache``."""
    return Path(_paths.harmony_cache_dir(_environ(environ)))


def tiktoken_cache_dir(environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """Where tiktoken caches downloads: ``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``,
    else ``$TMPDIR/data-gym-cache``; None when tiktoken's cache is disabled (set to "")."""
    found = _paths.tiktoken_cache_dir(_environ(environ))
    return Path(found) if found else None


def hf_hub_cache(environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The local Hugging Face hub cache, found as ``huggingface_hub`` finds it; None without a
    home directory."""
    found = _paths.hf_hub_cache(_environ(environ))
    return Path(found) if found else None
