"""Settings read from the environment and the directories derived from them.

Everything here is read when called, never at import, so a change to ``os.environ`` takes effect
on the next lookup.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from .errors import VocabError

ENV_PREFIX = "HARMONY_VOCAB_"
ENV_MODEL_DIR = "HARMONY_VOCAB_MODEL_DIR"
ENV_CACHE_DIR = "HARMONY_VOCAB_CACHE_DIR"
ENV_ALLOW_DOWNLOAD = "HARMONY_VOCAB_ALLOW_DOWNLOAD"
ENV_BASE_URL = "HARMONY_VOCAB_BASE_URL"
ENV_SOURCE_DIR = "HARMONY_VOCAB_SOURCE_DIR"
ENV_OFFLINE = "HARMONY_VOCAB_OFFLINE"
ENV_DOWNLOAD_DEADLINE = "HARMONY_VOCAB_DOWNLOAD_DEADLINE"
ENV_AUTOREGISTER = "HARMONY_VOCAB_AUTOREGISTER"
# Set by the registration next to TIKTOKEN_ENCODINGS_BASE: "<tier>:<directory>".
ENV_REGISTERED = "HARMONY_VOCAB_REGISTERED"
TIKTOKEN_ENCODINGS_BASE = "TIKTOKEN_ENCODINGS_BASE"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_flag(var: str, default: bool, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Read a boolean variable; raise `VocabError` naming it if its value is not a boolean."""
    value = (os.environ if environ is None else environ).get(var)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise VocabError(f"{var}={value!r} is not a boolean: use 1 or 0 (also true/false, yes/no, on/off)")


def file_env_var(name: str) -> str:
    """The variable that names one vocab file, e.g. ``HARMONY_VOCAB_O200K_BASE``."""
    return ENV_PREFIX + name.upper()


def cache_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Our per-user cache: ``$HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
    else ``~/.cache/harmony-vocab``."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "harmony-vocab"


def harmony_cache_dir() -> Path:
    """Where openai-harmony caches downloads: ``$TIKTOKEN_RS_CACHE_DIR``, else
    ``$TMPDIR/tiktoken-rs-cache``."""
    explicit = os.environ.get("TIKTOKEN_RS_CACHE_DIR")
    return Path(explicit) if explicit else Path(tempfile.gettempdir()) / "tiktoken-rs-cache"


def tiktoken_cache_dir() -> Optional[Path]:
    """Where tiktoken caches downloads: ``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``,
    else ``$TMPDIR/data-gym-cache``; None when tiktoken's cache is disabled (set to "")."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            value = os.environ[var]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def url_cache_name(url: str) -> str:
    """The file name openai-harmony and tiktoken give a download: the sha1 of its URL."""
    return hashlib.sha1(url.encode()).hexdigest()


def hf_hub_cache() -> Path:
    """The local Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``~/.cache/huggingface/hub``."""
    explicit = os.environ.get("HF_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"
