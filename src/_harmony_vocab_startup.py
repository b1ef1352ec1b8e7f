"""Run by ``harmony_vocab.pth`` at every interpreter start: when ``TIKTOKEN_ENCODINGS_BASE`` is
unset (and ``HARMONY_VOCAB_AUTOREGISTER`` is not 0), point it at the first directory holding
``o200k_base.tiktoken`` of the pinned size (see `startup_directory`), for openai-harmony.

A top-level module so that start-up imports nothing else; a few ``stat`` calls, no hashing
(openai-harmony checks the sha256 itself), no file writes, never an exception.
"""

import os
import sys

# A copy of the o200k_base pin (tests/test_pins.py checks it against vocab_manifest.toml).
O200K_FILE = "o200k_base.tiktoken"
O200K_SIZE = 3613922

_MODEL_SUBDIRS = ("", "encodings", "tokenizer", "original")
_HERE = os.path.dirname(os.path.abspath(__file__))


def startup_directory(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> "tuple[str, str] | None":
    """``(tier, directory)`` the registration selects, or None: the directory of
    ``HARMONY_VOCAB_O200K_BASE`` (if the file has its canonical name), the model directory
    (``HARMONY_VOCAB_MODEL_DIR``), then the package's data directory."""
    file, size = O200K_FILE, O200K_SIZE

    def holds(directory: str) -> bool:
        try:
            return os.stat(os.path.join(directory, file)).st_size == size
        except OSError:
            return False

    explicit = environ.get("HARMONY_VOCAB_O200K_BASE")
    if explicit and os.path.basename(explicit) == file and holds(os.path.dirname(explicit) or "."):
        return "environment", os.path.abspath(os.path.dirname(explicit) or ".")
    model_dir = environ.get("HARMONY_VOCAB_MODEL_DIR")
    if model_dir and os.path.isdir(model_dir):
        for sub in _MODEL_SUBDIRS:
            directory = os.path.join(model_dir, sub) if sub else model_dir
            if holds(directory):
                return "model", os.path.abspath(directory)
    # Beside this module (a wheel), else on sys.path (an editable install).
    for base in (_HERE, *sys.path):
        data = os.path.join(base or ".", "harmony_vocab", "data")
        if holds(data):
            return "package", os.path.abspath(data)
    return None


_ran = False


def registration_enabled(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> bool:
    """False when ``HARMONY_VOCAB_AUTOREGISTER`` is 0 / false / no / off."""
    return environ.get("HARMONY_VOCAB_AUTOREGISTER", "1").strip().lower() not in ("0", "false", "no", "off")


def run() -> None:
    """Register, unless opted out or already set; never raises (called by the .pth line, once
    per process even when site reads the .pth twice, as through a venv's lib64 -> lib link)."""
    global _ran
    if _ran:
        return
    _ran = True
    try:
        _register()
    except Exception:  # never fail an interpreter's start
        pass


def _register() -> None:
    env = os.environ
    if not registration_enabled(env):
        return
    base = env.get("TIKTOKEN_ENCODINGS_BASE")
    if base is not None and not env.get("HARMONY_VOCAB_REGISTERED", "").endswith(":" + base):
        return  # an operator's choice; one inherited from a parent's registration is redone
    selected = startup_directory(env)
    if selected is not None:
        tier, directory = selected
        env["TIKTOKEN_ENCODINGS_BASE"] = directory
        env["HARMONY_VOCAB_REGISTERED"] = tier + ":" + directory
