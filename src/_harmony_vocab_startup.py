"""What every interpreter start runs (``harmony_vocab.pth``, ``harmony_vocab.start``, a frozen
app's runtime hook): `run` points openai-harmony at the vocab directory the lookup order selects
(``TIKTOKEN_ENCODINGS_BASE``) and installs `TiktokenFinder`, through which ``harmony_vocab.tiktoken``
serves tiktoken. Kept small, since every start pays for it: stdlib ``os`` and ``sys`` only, no
hashing, no file writes, never an exception. When none of the settings the lookup reads before
the package tier is set, the package's own copy is checked here; otherwise
``harmony_vocab.tiers.startup_selection`` walks the whole order.
"""

import os
import sys

# Written by hand, checked against harmony_vocab.tiers and the pins by tests/test_startup.py.
AUTOREGISTER = "HARMONY_VOCAB_AUTOREGISTER"
REGISTERED = "HARMONY_VOCAB_REGISTERED"
BASE = "TIKTOKEN_ENCODINGS_BASE"
BEFORE_PACKAGE = ("HARMONY_VOCAB_O200K_BASE", BASE, REGISTERED, "HARMONY_VOCAB_MODEL_DIR")
"""The variables the lookup order reads for o200k_base before it reaches the package tier."""
FILE, SIZE = "o200k_base.tiktoken", 3613922
SAMPLE = ("49513d3d20300a49673d3d20310a49774c32567564673d3d2033343633300a49683059513d3d2036353232300a4948"
          "4e39343239350a49464e775a57356b20396e62773d3d203132313533380a3059660a4a796b704c54343d20313438"
          "3033316b7065436b7675436b70413d3d20313749474e765932397a203139393939370a")
"""16 bytes at each of 8 offsets spread evenly over the file (`sample_offsets`), hex: what start-up
compares instead of hashing the file."""


def enabled(environ):
    """False when HARMONY_VOCAB_AUTOREGISTER is 0, false, no or off (the .pth line checks the same
    words before importing this module)."""
    return environ.get(AUTOREGISTER, "").strip().lower() not in ("0", "false", "no", "off")


def sample_offsets(size):
    return [i * (size - 16) // 7 for i in range(8)]


def looks_pinned(path):
    """True when `path` is a regular file of o200k_base's size whose sampled bytes are the pin's:
    a stat, an open that never blocks and 8 reads of 16 bytes. A single changed byte between the
    samples is left to openai-harmony's own sha256 check."""
    try:
        if not os.path.isfile(path) or os.stat(path).st_size != SIZE:
            return False
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return False
    try:
        st = os.fstat(fd)
        return (st.st_size == SIZE and (st.st_mode & 0o170000) == 0o100000
                and b"".join(os.pread(fd, 16, o) for o in sample_offsets(SIZE)).hex() == SAMPLE)
    except OSError:
        return False
    finally:
        os.close(fd)


def registered_by_us(environ):
    tier, sep, directory = environ.get(REGISTERED, "").partition(":")
    return bool(sep) and environ.get(BASE) == directory


def selection(environ):
    """``(tier, directory)`` the registration points openai-harmony at, or None."""
    ignored = (REGISTERED, BASE) if registered_by_us(environ) else (REGISTERED,)
    if not any(environ.get(var) for var in BEFORE_PACKAGE if var not in ignored):
        for base in (os.path.dirname(os.path.abspath(__file__)), *sys.path):
            data = os.path.join(base or ".", "harmony_vocab", "data")
            if os.path.isdir(data):
                data = os.path.abspath(data)
                if looks_pinned(os.path.join(data, FILE)) and os.fsencode(data).decode("utf-8", "replace") == data:
                    return "package", data
                break
    from harmony_vocab.tiers import startup_selection

    return startup_selection(environ, looks_pinned)


def register(environ):
    """Point TIKTOKEN_ENCODINGS_BASE at `selection` when it is unset or empty (a value inherited
    from a parent's registration is redone; an operator's own is kept)."""
    if environ.get(BASE) and not registered_by_us(environ):
        return
    selected = selection(environ)
    if selected is None:
        for var in (BASE, REGISTERED) if registered_by_us(environ) else ():
            environ.pop(var, None)  # inherited, and nothing to point at here
        return
    environ[BASE] = selected[1]
    environ[REGISTERED] = selected[0] + ":" + selected[1]


class TiktokenFinder:
    """A ``sys.meta_path`` finder that reacts to one module, ``tiktoken.load``: it has the other
    finders find it and ``harmony_vocab.tiktoken`` wrap the loaded module's functions. It never
    leaves ``sys.meta_path``: any other import costs it one string comparison."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tiktoken.load":
            return None
        try:
            from harmony_vocab.tiktoken import find_spec

            return find_spec(self, fullname, path, target)
        except Exception:
            return None  # tiktoken's own import, as if we were not installed


_ran = False


def run():
    """Unless HARMONY_VOCAB_AUTOREGISTER is off: register for openai-harmony and install the
    tiktoken finder, once per process; never raises, each part failing alone."""
    global _ran
    if _ran or not enabled(os.environ):
        return
    _ran = True
    try:
        register(os.environ)
    except Exception:
        pass
    try:
        if not any(type(f).__name__ == "TiktokenFinder" for f in sys.meta_path):
            sys.meta_path.insert(0, TiktokenFinder())
    except Exception:
        pass
