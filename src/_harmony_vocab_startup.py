"""The lookup order as data, and the start-up hooks that ``harmony_vocab.pth`` runs.

A top-level module that imports nothing but ``os`` and ``sys``, so that interpreter start-up (and
a frozen app's runtime hook) can afford it. It holds, once for the whole project:

- the pins (generated from ``vocab_manifest.toml`` by ``hatch_build.py``);
- every variable name harmony-vocab reads, and the registration marker;
- `places`: the candidate places of the lookup order, in order, each with its tier and how a
  failure there is treated. ``harmony_vocab.resolve`` verifies them (sha256), ``verify`` and
  ``doctor`` list them, and the start-up registration (`run`) takes the first that passes a
  cheap check (size, and sampled bytes, no hashing) and can be handed to openai-harmony;
- `run`: the registration for openai-harmony (``TIKTOKEN_ENCODINGS_BASE``) and the
  ``sys.meta_path`` finder that lets ``harmony_vocab.tiktoken_hook`` serve tiktoken.
"""

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: this module runs at every start
if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Dict, Iterator, Mapping, MutableMapping, Sequence, Union

    Environ = Mapping[str, str]
    Pin = Dict[str, Any]
    PathArg = Union[str, "os.PathLike[str]", None]

# --- generated from vocab_manifest.toml by hatch_build.py: do not edit by hand ---
PINS: "Dict[str, Dict[str, Any]]" = {
    "o200k_base": {
        "file": "o200k_base.tiktoken",
        "sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "size": 3613922,
        "ranks": 199998,
        "byte_level_sha256": "0fc8da96e9c1e979d83a0ad79129255c04f3d2806273de8cba33bbc584ed23fe",
        "sample": "49513d3d20300a49673d3d20310a49774c32567564673d3d2033343633300a49683059513d3d2036353232300a49484e39343239350a49464e775a57356b20396e62773d3d203132313533380a3059660a4a796b704c54343d203134383033316b7065436b7675436b70413d3d20313749474e765932397a203139393939370a",
        "urls": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",),
        "cache_key": "fb374d419588a4632f3f557e76b4b70aebbca790",
    },
    "cl100k_base": {
        "file": "cl100k_base.tiktoken",
        "sha256": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "size": 1681126,
        "ranks": 100256,
        "byte_level_sha256": "382b386459ef54c9a389f04eb5dc1dd1143ea9183f0cc640df91a34e1857ca18",
        "sample": "49513d3d20300a49673d3d20310a49770a49454e50546c513d2031363531310a566b2033313138330a4c586476636d785a513d3d2034353337310a59574a696357772035393333300a49474c456d57526332316865513d3d2037333038320a492038363736370a49474631636d553d20626e5a6c65573979203130303235350a",
        "urls": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",),
        "cache_key": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    },
}
# --- end of generated part ---

VOCABS = tuple(PINS)
"""The pinned vocab names, in manifest order."""

SAMPLES = 8
SAMPLE_BYTES = 16
"""A pin's ``sample``: `SAMPLE_BYTES` bytes at each of `SAMPLES` offsets spread evenly over the
file (`sample_offsets`), hex. Start-up compares them instead of hashing (see `looks_pinned`)."""

# Variables harmony-vocab reads (harmony_vocab.locations re-exports them).
ENV_PREFIX = "HARMONY_VOCAB_"
ENV_MODEL_DIR = "HARMONY_VOCAB_MODEL_DIR"
ENV_CACHE_DIR = "HARMONY_VOCAB_CACHE_DIR"
ENV_ALLOW_DOWNLOAD = "HARMONY_VOCAB_ALLOW_DOWNLOAD"
ENV_BASE_URL = "HARMONY_VOCAB_BASE_URL"
ENV_SOURCE_DIR = "HARMONY_VOCAB_SOURCE_DIR"
ENV_OFFLINE = "HARMONY_VOCAB_OFFLINE"
ENV_DOWNLOAD_DEADLINE = "HARMONY_VOCAB_DOWNLOAD_DEADLINE"
ENV_AUTOREGISTER = "HARMONY_VOCAB_AUTOREGISTER"
ENV_REGISTERED = "HARMONY_VOCAB_REGISTERED"
"""Set by the registration beside TIKTOKEN_ENCODINGS_BASE: ``<tier>:<directory>`` (`marker`)."""
TIKTOKEN_ENCODINGS_BASE = "TIKTOKEN_ENCODINGS_BASE"
TIKTOKEN_RS_CACHE_DIR = "TIKTOKEN_RS_CACHE_DIR"
TIKTOKEN_CACHE_VARS = ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")
HF_HUB_CACHE_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")

TIERS = ("explicit", "environment", "model", "package", "cache", "download")
"""The tiers, in lookup order."""

MODEL_SUBDIRS = ("", "encodings", "tokenizer", "original")
"""Looked at in this order inside a model directory ("" is the directory itself)."""

STRICT, WARN, QUIET = "strict", "warn", "quiet"
"""How a candidate that fails is treated: an error (explicit), reported in the trace and a
warning (a setting that points somewhere wrong), or only reported in the trace."""

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def env_value(environ: "Environ", var: str) -> "str | None":
    """The value of `var`, or None when it is unset or empty: one rule for every setting."""
    value = environ.get(var)
    return value if value else None


def user_path(environ: "Environ", value: "str | os.PathLike[str]") -> str:
    """A path a user gave: a leading ``~`` expanded (from `environ`'s HOME), made absolute
    (what we hand on must survive a chdir)."""
    text = os.fspath(value)
    if text == "~" or text.startswith("~/"):
        base = home(environ)
        if base:
            text = base + text[1:]
    return absolute(os.path.expanduser(text))


def absolute(path: "str | os.PathLike[str]") -> str:
    """`path` made absolute; left relative (and so not found) when the current directory is gone."""
    try:
        return os.path.abspath(path)
    except OSError:
        return os.path.normpath(path)


def flag(environ: "Environ", var: str, default: bool) -> "bool | None":
    """A boolean setting: `default` when unset, None when its value is not a boolean word."""
    value = environ.get(var)
    if value is None:
        return default
    lowered = value.strip().lower()
    return True if lowered in TRUE_WORDS else False if lowered in FALSE_WORDS else None


def home(environ: "Environ") -> "str | None":
    """The home directory, or None when there is none (no HOME and no passwd entry)."""
    value = environ.get("HOME")
    if value:
        return value
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir or None
    except (ImportError, KeyError, OSError):
        return None


def user_cache_root(environ: "Environ") -> "str | None":
    """``$XDG_CACHE_HOME``, else ``~/.cache``; None without a home directory."""
    xdg = env_value(environ, "XDG_CACHE_HOME")
    if xdg:
        return user_path(environ, xdg)
    base = home(environ)
    return os.path.join(base, ".cache") if base else None


def cache_dir(environ: "Environ") -> "str | None":
    """Our per-user cache: ``$HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
    else ``~/.cache/harmony-vocab``; None when none of them can be known."""
    explicit = env_value(environ, ENV_CACHE_DIR)
    if explicit:
        return user_path(environ, explicit)
    root = user_cache_root(environ)
    return os.path.join(root, "harmony-vocab") if root else None


def harmony_cache_dir(environ: "Environ") -> str:
    """openai-harmony's download cache, as its Rust code reads it: ``$TIKTOKEN_RS_CACHE_DIR``,
    else ``std::env::temp_dir()`` (``$TMPDIR``, else ``/tmp``) joined with ``tiktoken-rs-cache``;
    a variable set but empty is the current directory there, and so here."""
    explicit = environ.get(TIKTOKEN_RS_CACHE_DIR)
    if explicit is not None:
        return absolute(explicit)
    tmp = environ.get("TMPDIR")
    return absolute(os.path.join("/tmp" if tmp is None else tmp, "tiktoken-rs-cache"))


def tiktoken_cache_dir(environ: "Environ") -> str:
    """tiktoken's download cache: ``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``, else
    ``tempfile.gettempdir()/data-gym-cache``; "" when tiktoken's cache is disabled (set to "")."""
    for var in TIKTOKEN_CACHE_VARS:
        if var in environ:
            return environ[var]
    import tempfile

    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def hf_hub_cache(environ: "Environ") -> "str | None":
    """The Hugging Face hub cache, found as ``huggingface_hub.constants`` finds it:
    ``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``,
    ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub`` (a variable set but empty
    counts as set, as there); None without a home directory to start from."""
    hf_home = environ.get("HF_HOME")
    if hf_home is None:
        xdg = environ.get("XDG_CACHE_HOME")
        base = home(environ)
        if xdg is None and base is not None:
            xdg = os.path.join(base, ".cache")
        hf_home = None if xdg is None else os.path.join(xdg, "huggingface")
    default = None if hf_home is None else os.path.join(hf_path(environ, hf_home), "hub")
    legacy = environ.get(HF_HUB_CACHE_VARS[1], default)
    hub = environ.get(HF_HUB_CACHE_VARS[0], legacy)
    return None if hub is None else hf_path(environ, hub)


def hf_path(environ: "Environ", value: str) -> str:
    """A path as huggingface_hub reads one from the environment: ``~``, then ``$VAR`` and
    ``${VAR}`` (from `environ`; an unknown one is left as it is) expanded; made absolute."""
    value = os.path.expanduser(value)
    if "$" in value:
        import re

        value = re.sub(r"\$(\w+|\{[^}]*\})",
                       lambda m: environ.get(m.group(1).strip("{}"), m.group(0)), value, flags=re.ASCII)
    return absolute(value)


def file_env_var(name: str) -> str:
    """The variable that names one vocab file, e.g. ``HARMONY_VOCAB_O200K_BASE``."""
    return ENV_PREFIX + name.upper()


def marker(tier: str, directory: str) -> str:
    """The value of ``HARMONY_VOCAB_REGISTERED`` for a registration of `directory`."""
    return tier + ":" + directory


def registered_by_us(environ: "Environ") -> "tuple[str, str] | None":
    """``(tier, directory)`` when TIKTOKEN_ENCODINGS_BASE holds what our registration set."""
    tier, sep, directory = environ.get(ENV_REGISTERED, "").partition(":")
    if sep and environ.get(TIKTOKEN_ENCODINGS_BASE) == directory:
        return tier, directory
    return None


def registration_enabled(environ: "Environ") -> bool:
    """False when ``HARMONY_VOCAB_AUTOREGISTER`` is 0 / false / no / off (or empty); a value that
    is no boolean leaves it on (start-up never fails; doctor names the value)."""
    return flag(environ, ENV_AUTOREGISTER, True) is not False


# ------------------------------------------------------------------------------ the places


class Place:
    """One candidate of the lookup order.

    `tier`; `label`, what a trace shows; `path`, the file to check (None when the place is not
    set or not usable, `outcome` then says why); `kind`: "vocab", "tokenizer.json" (rebuilt by
    resolve) or "download"; `on_failure`: STRICT, WARN or QUIET; `registrable`: the file has its
    canonical name in a directory openai-harmony can be pointed at.
    """

    __slots__ = ("tier", "label", "path", "outcome", "kind", "on_failure", "registrable")

    def __init__(self, tier: str, label: str, path: "str | None" = None, outcome: str = "",
                 kind: str = "vocab", on_failure: str = QUIET, registrable: bool = False) -> None:
        self.tier = tier
        self.label = label
        self.path = path
        self.outcome = outcome
        self.kind = kind
        self.on_failure = on_failure
        self.registrable = registrable

    def __repr__(self) -> str:
        return "Place(%r, %r, %r, %r, %r)" % (self.tier, self.label, self.path, self.outcome, self.kind)


def model_roots(model_dir: str, environ: "Environ") -> "tuple[list[str], str]":
    """``(roots, how)``: the directories a model directory or Hugging Face repo id stands for.

    A directory is its own root. An ``org/name`` repo id is looked up in the local hub cache with
    no network: ``models--org--name/snapshots/<rev>/``, the revision named in ``refs/main`` first,
    then the others by name. `how` says what was found (or why nothing was)."""
    path = user_path(environ, model_dir)
    if os.path.isdir(path):
        return [path], "directory"
    parts = model_dir.split("/")
    if os.path.lexists(path) or len(parts) != 2 or not all(_repo_part(p) for p in parts):
        return [], "not a directory"
    hub = hf_hub_cache(environ)
    if hub is None:
        return [], "not a directory, nor a repo id in the Hugging Face cache (no home directory to find it in)"
    repo = os.path.join(hub, "models--" + "--".join(parts))
    snapshots = os.path.join(repo, "snapshots")
    try:
        revisions = sorted(e for e in os.listdir(snapshots) if os.path.isdir(os.path.join(snapshots, e)))
    except OSError:
        return [], "not a directory, nor a repo id in the Hugging Face cache (%s missing)" % repo
    try:
        main = _read_small(os.path.join(repo, "refs", "main"), 100).decode("ascii").strip()
    except (OSError, ValueError):
        main = ""
    ordered = ([main] if main in revisions else []) + [r for r in revisions if r != main]
    return [os.path.join(snapshots, r) for r in ordered], "Hugging Face cache " + repo


# Opening never blocks (a FIFO without a writer opens at once), never takes a terminal, and the
# descriptor is not inherited.
READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
              | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def open_regular(path: str) -> int:
    """A descriptor open for reading on `path`, if it is a regular file (a symlink is followed).

    The path is stat-ed first, so a device is never opened (opening some has side effects), then
    opened without blocking and fstat-ed: a path swapped for a FIFO in between cannot hang us.
    Raises `IsADirectoryError`, or `OSError` with errno EINVAL for anything else not regular."""
    st = os.stat(path)
    fd = -1
    if (st.st_mode & 0o170000) == 0o100000:
        fd = os.open(path, READ_FLAGS)
        opened = os.fstat(fd)
        if (opened.st_mode & 0o170000) == 0o100000 and (opened.st_dev, opened.st_ino) == (st.st_dev, st.st_ino):
            return fd
        os.close(fd)
    if (st.st_mode & 0o170000) == 0o040000:
        raise IsADirectoryError(21, "is a directory, expected a file", path)
    raise OSError(22, "not a regular file", path)


def _read_small(path: str, limit: int) -> bytes:
    """The first `limit` bytes of the regular file `path` (see `open_regular`)."""
    fd = open_regular(path)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _repo_part(text: str) -> bool:
    return bool(text) and text[0].isalnum() and all(c.isalnum() or c in "_.-" for c in text)


def _model_places(pin: "Pin", model_dir: str, source: str, environ: "Environ") -> "Iterator[Place]":
    roots, how = model_roots(model_dir, environ)
    label = "%s=%s" % (source, model_dir)
    if not roots:
        yield Place("model", label, outcome=how, on_failure=WARN)
        return
    dirs = [os.path.join(root, sub) if sub else root for root in roots for sub in MODEL_SUBDIRS]
    found = False
    for directory in dirs:
        path = os.path.join(directory, pin["file"])
        if os.path.lexists(path):
            found = True
            yield Place("model", path, path, on_failure=WARN, registrable=True)
        else:
            yield Place("model", path, outcome="missing")
    tokenizers = [os.path.join(d, "tokenizer.json") for d in dirs]
    tokenizers = [t for t in tokenizers if os.path.lexists(t)]
    for tokenizer in tokenizers:
        yield Place("model", tokenizer, tokenizer, kind="tokenizer.json", on_failure=WARN)
    holds_any = any(os.path.lexists(os.path.join(d, p["file"])) for d in dirs for p in PINS.values())
    if (found or holds_any) and not tokenizers:
        # a model directory for another vocab (GPT-OSS ships o200k only): nothing to warn about
        yield Place("model", os.path.join(model_dir, "**", "tokenizer.json"), outcome="none found")
    elif not tokenizers:
        where = ", ".join((sub or ".") + "/" for sub in MODEL_SUBDIRS)
        yield Place("model", label, outcome="holds neither %s nor a tokenizer.json (looked in %s)"
                    % (pin["file"], where), on_failure=WARN)


def places(name: str, environ: "Environ" = os.environ, vocab_path: "PathArg" = None,
           vocab_dir: "PathArg" = None, model_dir: "PathArg" = None,
           package_dir: "str | None" = None, pin: "Pin | None" = None) -> "Iterator[Place]":
    """The candidate places for vocab `name`, in lookup order (a generator: stop when found).

    explicit: `vocab_path` (a file, any name) or `vocab_dir`; environment: ``HARMONY_VOCAB_<NAME>``
    then ``TIKTOKEN_ENCODINGS_BASE`` (unless our registration set it); model: `model_dir` or
    ``HARMONY_VOCAB_MODEL_DIR``, a directory or a Hugging Face repo id, with its sub-directories
    and tokenizer.json files; package: `package_dir` (default: found beside this module or on
    sys.path); cache: ours, openai-harmony's, tiktoken's; download (the URLs; never a file here).
    An empty value counts as not set, for parameters and variables alike. `pin` (default:
    ``PINS[name]``) gives the file, cache_key and urls."""
    pin = PINS[name] if pin is None else pin
    file = pin["file"]
    if vocab_path:
        path = user_path(environ, vocab_path)
        yield Place("explicit", "vocab_path=" + str(vocab_path), path, on_failure=STRICT)
    elif vocab_dir:
        path = os.path.join(user_path(environ, vocab_dir), file)
        yield Place("explicit", "vocab_dir: " + path, path, on_failure=STRICT, registrable=True)
    else:
        yield Place("explicit", "vocab_path / vocab_dir", outcome="not given")

    var = file_env_var(name)
    value = env_value(environ, var)
    if value:
        path = user_path(environ, value)
        yield Place("environment", "%s=%s" % (var, value), path, on_failure=WARN,
                    registrable=os.path.basename(path) == file)
    else:
        yield Place("environment", var, outcome="not set")
    base = env_value(environ, TIKTOKEN_ENCODINGS_BASE)
    registered = registered_by_us(environ)
    if not base:
        yield Place("environment", TIKTOKEN_ENCODINGS_BASE, outcome="not set")
    elif registered:
        yield Place("environment", "%s=%s" % (TIKTOKEN_ENCODINGS_BASE, base),
                    outcome="set by harmony-vocab's start-up registration, not by the environment: "
                            "the file comes from the %s tier, looked at below" % registered[0])
    else:
        path = os.path.join(absolute(base), file)  # no ~ expansion: openai-harmony reads it as it is
        yield Place("environment", "%s: %s" % (TIKTOKEN_ENCODINGS_BASE, path), path, on_failure=WARN,
                    registrable=True)

    if model_dir:
        yield from _model_places(pin, os.fspath(model_dir), "model_dir", environ)
    elif env_value(environ, ENV_MODEL_DIR):
        yield from _model_places(pin, environ[ENV_MODEL_DIR], ENV_MODEL_DIR, environ)
    else:
        yield Place("model", "model_dir / " + ENV_MODEL_DIR, outcome="not set")

    package = package_dir if package_dir is not None else package_data_dir()
    if package is None:
        yield Place("package", "harmony_vocab/data", outcome="no package data directory found")
    else:
        path = os.path.join(package, file)
        yield Place("package", path, path, registrable=True)

    ours = cache_dir(environ)
    if ours is None:
        yield Place("cache", "harmony-vocab's cache",
                    outcome="no home directory: set %s to a directory of yours" % ENV_CACHE_DIR)
    else:
        path = os.path.join(ours, file)
        yield Place("cache", path, path, registrable=True)
    path = os.path.join(harmony_cache_dir(environ), pin["cache_key"])
    yield Place("cache", path, path)
    tiktoken_dir = tiktoken_cache_dir(environ)
    if tiktoken_dir:
        path = os.path.join(tiktoken_dir, pin["cache_key"])
        yield Place("cache", path, path)
    else:
        yield Place("cache", "tiktoken's cache", outcome="disabled (TIKTOKEN_CACHE_DIR is empty)")

    yield Place("download", ", ".join(pin["urls"]), kind="download")


_HERE = os.path.dirname(os.path.abspath(__file__))


def package_data_dir() -> "str | None":
    """``harmony_vocab/data`` beside this module (a wheel, a frozen app), else on sys.path (an
    editable install); None when there is none."""
    for base in (_HERE, *sys.path):
        data = os.path.join(base or ".", "harmony_vocab", "data")
        if os.path.isdir(data):
            return os.path.abspath(data)
    return None


# ------------------------------------------------------------------------------ cheap checks


def sample_offsets(size: int) -> "list[int]":
    """Where a pin's sampled bytes are taken from in a file of `size` bytes."""
    return [i * (size - SAMPLE_BYTES) // (SAMPLES - 1) for i in range(SAMPLES)]


def looks_pinned(path: str, pin: "Pin") -> bool:
    """True when `path` is a regular file of the pinned size whose sampled bytes are the pin's.

    Opened without blocking (a FIFO or device is refused) and never read beyond the samples: a
    few microseconds, no hashing. It catches a different or damaged file of the right size; a
    single changed byte between the samples is left to the full sha256 check of whoever reads
    the file (resolve, openai-harmony, tiktoken)."""
    try:
        fd = open_regular(path)
    except (OSError, ValueError):
        return False
    try:
        if os.fstat(fd).st_size != pin["size"]:
            return False
        got = []
        for offset in sample_offsets(pin["size"]):
            os.lseek(fd, offset, 0)
            got.append(os.read(fd, SAMPLE_BYTES))
        return bool(b"".join(got).hex() == pin["sample"])
    except OSError:
        return False
    finally:
        os.close(fd)


def startup_selection(environ: "Environ" = os.environ, package_dir: "str | None" = None) -> "tuple[str, str] | None":
    """``(tier, directory)``: the directory the registration points openai-harmony at, or None.

    The first place of the lookup order for o200k_base (openai-harmony's GPT-OSS vocab) that
    passes `looks_pinned` and that openai-harmony can read (a canonically named file: a renamed
    file, a tokenizer.json and the caches named by URL hash are passed over). Reaching
    openai-harmony's own cache means None: it reads that cache itself."""
    name = VOCABS[0]
    pin = PINS[name]
    own_cache = os.path.join(harmony_cache_dir(environ), pin["cache_key"])
    for place in places(name, environ, package_dir=package_dir):
        if place.path is None or place.kind != "vocab":
            continue
        if place.path == own_cache:
            return None
        if place.registrable and looks_pinned(place.path, pin):
            return place.tier, os.path.dirname(place.path)
    return None


# ------------------------------------------------------------------------------ start-up


class TiktokenFinder:
    """A ``sys.meta_path`` finder that reacts to one module, ``tiktoken.load``: it lets the
    other finders find it, then has ``harmony_vocab.tiktoken_hook`` wrap the loaded module's
    functions. Any other import costs one string comparison."""

    def find_spec(self, fullname: str, path: "Sequence[str] | None" = None,
                  target: "ModuleType | None" = None) -> "ModuleSpec | None":
        if fullname != "tiktoken.load":
            return None
        try:
            from harmony_vocab.tiktoken_hook import find_spec

            return find_spec(self, fullname, path, target)
        except Exception:
            return None  # tiktoken's own import, as if we were not installed


_ran = False


def run() -> None:
    """What ``harmony_vocab.pth`` (and a frozen app's runtime hook) runs: unless
    ``HARMONY_VOCAB_AUTOREGISTER`` is off, register for openai-harmony and install the tiktoken
    finder. Once per process (site may read the .pth twice, through a venv's lib64 -> lib);
    never raises."""
    global _ran
    if _ran:
        return
    _ran = True
    try:
        if not registration_enabled(os.environ):
            return
    except Exception:  # never fail an interpreter's start
        return
    try:
        register(os.environ)
    except Exception:
        pass
    try:
        if not any(isinstance(f, TiktokenFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, TiktokenFinder())
    except Exception:
        pass


def register(environ: "MutableMapping[str, str]") -> None:
    """Point ``TIKTOKEN_ENCODINGS_BASE`` at `startup_selection` when it is unset or empty (a
    value inherited from a parent's registration is redone; an operator's is kept)."""
    if env_value(environ, TIKTOKEN_ENCODINGS_BASE) and registered_by_us(environ) is None:
        return
    selected = startup_selection(environ)
    if selected is None:
        if registered_by_us(environ):  # inherited, and nothing to point at here
            for var in (TIKTOKEN_ENCODINGS_BASE, ENV_REGISTERED):
                environ.pop(var, None)
        return
    tier, directory = selected
    environ[TIKTOKEN_ENCODINGS_BASE] = directory
    environ[ENV_REGISTERED] = marker(tier, directory)
