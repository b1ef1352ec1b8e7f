"""The lookup order as data: every setting's name, and `TIERS`, the one description of where a
vocab may come from.

`TIERS` is an ordered table of (tier, how a failure there is treated, the function that yields
its candidate places). `places` walks it; ``resolve`` verifies what it yields (sha256), ``verify``
and ``doctor`` list it, and the start-up registration takes the first place that passes its cheap
check (`startup_selection`). A directory, a model's or one given to ``verify``, is searched by one
function, `directory_places`. Everything is read from the environment when called. Stdlib only,
imported lazily: interpreter start-up imports this module only when a setting asks for it.
"""

import os
import stat
import sys

from .errors import VocabError
from .pins import PINS, WHEELS, Pin, harmony_cached, harmony_pin

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from typing import Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

    Environ = Mapping[str, str]
    PathArg = Union[str, "os.PathLike[str]", None]
    Given = Dict[str, str]

# Every variable harmony-vocab reads. _harmony_vocab_startup holds its own copies of the few it
# needs (it cannot afford this import); tests/test_startup.py checks them against these.
ENV_PREFIX = "HARMONY_VOCAB_"
ENV_AUTOREGISTER = "HARMONY_VOCAB_AUTOREGISTER"
ENV_REGISTERED = "HARMONY_VOCAB_REGISTERED"
ENV_MODEL_DIR = "HARMONY_VOCAB_MODEL_DIR"
ENV_CACHE_DIR = "HARMONY_VOCAB_CACHE_DIR"
ENV_ALLOW_DOWNLOAD = "HARMONY_VOCAB_ALLOW_DOWNLOAD"
ENV_OFFLINE = "HARMONY_VOCAB_OFFLINE"
ENV_BASE_URL = "HARMONY_VOCAB_BASE_URL"
ENV_DOWNLOAD_DEADLINE = "HARMONY_VOCAB_DOWNLOAD_DEADLINE"
ENV_LOCK_TIMEOUT = "HARMONY_VOCAB_LOCK_TIMEOUT"
LOCK_TIMEOUT = 60.0
"""How long a write waits, by default, for another writer of the same directory (``ENV_LOCK_TIMEOUT``)."""
TIKTOKEN_ENCODINGS_BASE = "TIKTOKEN_ENCODINGS_BASE"
TIKTOKEN_RS_CACHE_DIR = "TIKTOKEN_RS_CACHE_DIR"
TIKTOKEN_CACHE_VARS = ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")
HF_HUB_CACHE_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")

MODEL_SUBDIRS = ("", "encodings", "tokenizer", "original")
"""Looked at in this order inside a model directory ("" is the directory itself)."""

STRICT, WARN, QUIET = "is an error", "warns, goes on", "goes on"
"""How a candidate that fails is treated: an error (explicit), a warning (a setting that points
somewhere wrong), or only a line in the trace."""

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
NO_CACHE_DIR = f"no home directory, so no cache: set {ENV_CACHE_DIR} to a directory of yours"


def file_env_var(name: str) -> str:
    """The variable that names one vocab's file (or, for a vocab of several files, its
    directory), e.g. ``HARMONY_VOCAB_O200K_BASE``."""
    return ENV_PREFIX + name.upper()


def flag(environ: "Environ", var: str, default: bool) -> bool:
    """A boolean setting: `default` when unset or empty; `VocabError` naming it when its value is
    no boolean word."""
    value = (environ.get(var) or "").strip().lower()
    if value in TRUE_WORDS or value in FALSE_WORDS or not value:
        return value in TRUE_WORDS if value else default
    raise VocabError(f"{var}={environ[var]!r} is not a boolean: use 1 or 0 (also true/false, yes/no, on/off)")


def seconds(environ: "Environ", var: str, default: float) -> float:
    """A number of seconds: `default` when unset or empty; `VocabError` naming `var` when its value
    is not a positive number."""
    value = (environ.get(var) or "").strip()
    try:
        number = float(value) if value else default
    except ValueError:
        number = -1.0
    if not 0 < number < float("inf"):
        raise VocabError(f"{var}={value!r} is not a number of seconds: expected a positive number "
                         f"(unset, it is {default:g})")
    return number


def home(environ: "Environ") -> "Optional[str]":
    """The home directory, or None when there is none (no HOME and no passwd entry)."""
    if environ.get("HOME"):
        return environ["HOME"]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir or None
    except (ImportError, KeyError, OSError):
        return None


def absolute(path: "Union[str, os.PathLike[str]]") -> str:
    """`path` made absolute; left as it is (and so not found) when the current directory is gone."""
    try:
        return os.path.abspath(path)
    except OSError:
        return os.path.normpath(path)


def user_path(environ: "Environ", value: "Union[str, os.PathLike[str]]") -> str:
    """A path a user gave: ``~`` expanded (from `environ`'s HOME), made absolute (what we hand on
    must survive a chdir)."""
    text = os.fspath(value)
    if text == "~" or text.startswith("~/"):
        text = (home(environ) or "~") + text[1:]
    return absolute(os.path.expanduser(text))


# ------------------------------------------------------------------------------ where things are

def cache_dir(environ: "Environ") -> "Optional[str]":
    """Our per-user cache: ``$HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
    else ``~/.cache/harmony-vocab``; None without a home directory."""
    if environ.get(ENV_CACHE_DIR):
        return user_path(environ, environ[ENV_CACHE_DIR])
    if environ.get("XDG_CACHE_HOME"):
        return os.path.join(user_path(environ, environ["XDG_CACHE_HOME"]), "harmony-vocab")
    base = home(environ)
    return os.path.join(base, ".cache", "harmony-vocab") if base else None


def harmony_cache_dir(environ: "Environ") -> str:
    """openai-harmony's download cache as its Rust code reads it: ``$TIKTOKEN_RS_CACHE_DIR``, else
    ``$TMPDIR`` (else ``/tmp``) joined with ``tiktoken-rs-cache``; set but empty, the current
    directory, there and so here."""
    default = os.path.join(environ.get("TMPDIR", "/tmp"), "tiktoken-rs-cache")
    return absolute(environ.get(TIKTOKEN_RS_CACHE_DIR, default))


def tiktoken_cache_dir(environ: "Environ") -> "Optional[str]":
    """tiktoken's download cache: ``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``, else
    ``tempfile.gettempdir()/data-gym-cache``; None when tiktoken's cache is disabled (set to "")."""
    for var in TIKTOKEN_CACHE_VARS:
        if var in environ:
            return absolute(environ[var]) if environ[var] else None
    import tempfile

    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def hf_hub_cache(environ: "Environ") -> "Optional[str]":
    """The Hugging Face hub cache as ``huggingface_hub.constants`` finds it: ``HF_HUB_CACHE``,
    ``HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``, ``$XDG_CACHE_HOME/huggingface/hub``,
    ``~/.cache/huggingface/hub`` (set but empty counts as set, as there)."""
    hf_home = environ.get("HF_HOME")
    if hf_home is None:
        xdg = environ.get("XDG_CACHE_HOME")
        if xdg is None and (base := home(environ)):
            xdg = os.path.join(base, ".cache")
        hf_home = None if xdg is None else os.path.join(xdg, "huggingface")
    default = None if hf_home is None else os.path.join(_hf_path(environ, hf_home), "hub")
    hub = environ.get(HF_HUB_CACHE_VARS[0], environ.get(HF_HUB_CACHE_VARS[1], default))
    return None if hub is None else _hf_path(environ, hub)


def _hf_path(environ: "Environ", value: str) -> str:
    """A path as huggingface_hub reads one: ``~``, then ``$VAR`` / ``${VAR}`` expanded."""
    value = os.path.expanduser(value)
    if "$" in value:
        import re

        value = re.sub(r"\$(\w+|\{[^}]*\})", lambda m: environ.get(m.group(1).strip("{}"), m.group(0)),
                       value, flags=re.ASCII)
    return absolute(value)


_SITE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The directory this package was imported from (site-packages, a frozen app's, an editable install's)."""


def data_dir(wheel: str) -> "Optional[str]":
    """The ``data`` directory of the installed `wheel` ("core" or "legacy"), found beside this
    package (a wheel, a frozen app) or on ``sys.path`` (an editable install), never imported."""
    package = WHEELS[wheel]["package"]
    for base in (_SITE_DIR, *sys.path):
        candidate = os.path.join(base or ".", package, "data")
        if os.path.isdir(candidate):
            return absolute(candidate)
    return None


def bundled_dir(wheel: str = "core") -> "Path":
    """The directory holding the files the installed `wheel` ships (like ``certifi.where()``);
    usable as ``TIKTOKEN_ENCODINGS_BASE``. From a zip import the files are extracted once, to a
    temporary directory that lives until the interpreter exits."""
    from pathlib import Path

    found = data_dir(wheel) or _extracted.get(wheel)
    if found is not None:
        return Path(found)
    if wheel != "core":
        raise VocabError(not_installed(wheel))
    from importlib.resources import files

    from .files import process_temp_dir

    resource, target = files(WHEELS[wheel]["package"]) / "data", process_temp_dir()
    for f in (f for pin in PINS.values() if pin.wheel == wheel for f in pin.files):
        try:
            (target / f.name).write_bytes((resource / f.name).read_bytes())
        except (OSError, KeyError):
            continue  # left missing: the lookup reports it
    _extracted[wheel] = str(target)
    return target


_extracted: "Dict[str, str]" = {}
"""The directory each wheel's files were extracted to from a zip import, once per process."""


def not_installed(wheel: str) -> str:
    """What every message says of a missing companion `wheel`: the one command that adds it."""
    return f"{WHEELS[wheel]['distribution']} is not installed: pip install 'harmony-vocab[{wheel}]' adds it"


def installed_vocabs() -> "List[str]":
    """The vocabs whose wheel is installed (the core's always): what commands act on by default."""
    return [name for name, pin in PINS.items() if pin.wheel == "core" or data_dir(pin.wheel) is not None]


def safe_dir(path: str) -> bool:
    """False when some directory on the way to `path`, inside a directory every user may write
    to (``/tmp``), belongs to another user (not root): whoever owns it chooses what it holds."""
    me = os.geteuid() if hasattr(os, "geteuid") else 0
    current = os.sep
    for part in absolute(path).split(os.sep)[1:]:
        parent, current = current, os.path.join(current, part)
        try:
            if os.stat(parent).st_mode & stat.S_IWOTH and os.lstat(current).st_uid not in (me, 0):
                return False
        except OSError:
            return True  # missing from here on: nothing there to trust or not
    return True


# ------------------------------------------------------------------------------ the places

class Place:
    """One candidate of the lookup order: `tier`; `label`, what a trace shows; `paths`, one per
    file of the vocab (None when the place is not usable, `outcome` then says why); `kind`:
    "files", "tokenizer.json" (rebuilt by resolve) or "download"; `on_failure`; `registrable`:
    canonically named files openai-harmony can be pointed at; `optional`: a missing file there
    is no problem (a directory that may hold only some vocabs)."""

    __slots__ = ("tier", "label", "paths", "outcome", "kind", "on_failure", "registrable", "optional")

    def __init__(self, tier: str, label: str, paths: "Optional[Tuple[str, ...]]" = None, outcome: str = "",
                 kind: str = "files", on_failure: str = QUIET, registrable: bool = False,
                 optional: bool = False) -> None:
        self.tier, self.label, self.paths, self.outcome, self.kind = tier, label, paths, outcome, kind
        self.on_failure, self.registrable, self.optional = on_failure, registrable, optional


def _in(directory: str, pin: Pin, names: str = "name") -> "Tuple[str, ...]":
    return tuple(os.path.join(directory, getattr(f, names)) for f in pin.files)


def _explicit(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    path, directory = given.get("vocab_path"), given.get("vocab_dir")
    if path and len(pin.files) > 1:
        yield Place("explicit", f"vocab_path={path}", on_failure=STRICT,
                    outcome=f"{pin.name} is {len(pin.files)} files: give vocab_dir, the directory holding them")
    elif path:
        yield Place("explicit", f"vocab_path={path}", (user_path(environ, path),), on_failure=STRICT)
    elif directory:
        paths = _in(user_path(environ, directory), pin)
        yield Place("explicit", "vocab_dir: " + ", ".join(paths), paths, on_failure=STRICT, registrable=True)
    else:
        yield Place("explicit", "vocab_path / vocab_dir", outcome="not given")


def _environment(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    var = file_env_var(pin.name)
    value = environ.get(var) or None
    if value is None:
        yield Place("environment", var, outcome="not set")
    elif len(pin.files) > 1:
        yield Place("environment", f"{var}={value}", _in(user_path(environ, value), pin), on_failure=WARN,
                    registrable=True)
    else:
        path = user_path(environ, value)
        yield Place("environment", f"{var}={value}", (path,), on_failure=WARN,
                    registrable=os.path.basename(path) == pin.file)
    base = environ.get(TIKTOKEN_ENCODINGS_BASE) or None
    ours = registered_by_us(environ)
    if base is None:
        yield Place("environment", TIKTOKEN_ENCODINGS_BASE, outcome="not set")
    elif ours:
        yield Place("environment", f"{TIKTOKEN_ENCODINGS_BASE}={base}",
                    outcome=f"set by harmony-vocab's start-up registration, not by the environment: the file "
                            f"comes from the {ours[0]} tier, looked at below")
    else:  # no ~ expansion: openai-harmony reads it as it is
        yield Place("environment", f"{TIKTOKEN_ENCODINGS_BASE}={base}", _in(absolute(base), pin),
                    on_failure=WARN, registrable=True, optional=True)


def _model(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    source, value = ("model_dir", given.get("model_dir")) if given.get("model_dir") else (
        ENV_MODEL_DIR, environ.get(ENV_MODEL_DIR))
    if not value:
        yield Place("model", "model_dir / " + ENV_MODEL_DIR, outcome="not set")
        return
    roots, how = model_roots(value, environ)
    if not roots:
        yield Place("model", f"{source}={value}", outcome=how, on_failure=WARN)
        return
    yield from directory_places("model", roots, pin, f"{source}={value}")


def subdirs_text() -> str:
    """`MODEL_SUBDIRS` as messages name them: ``./, encodings/, ...``."""
    return ", ".join((sub or ".") + "/" for sub in MODEL_SUBDIRS)


def directory_places(tier: str, roots: "List[str]", pin: Pin, label: str) -> "Iterator[Place]":
    """The places a model directory (or one given to ``verify``) offers for `pin`: in each root
    and its `MODEL_SUBDIRS`, the vocab's files under their own names, then under the names the
    caches give them; then its ``tokenizer.json`` files (a vocab of one ``.tiktoken`` file only)."""
    dirs = [os.path.join(root, sub) if sub else root for root in roots for sub in MODEL_SUBDIRS]
    found = False
    for directory in dirs:
        for names in ("name", "cache_key"):
            paths = _in(directory, pin, names)
            if any(os.path.lexists(p) for p in paths):
                found = True
                yield Place(tier, ", ".join(paths), paths, on_failure=WARN, registrable=names == "name")
    tokenizers = [t for t in (os.path.join(d, "tokenizer.json") for d in dirs) if os.path.lexists(t)]
    for tokenizer in tokenizers if pin.ranks and len(pin.files) == 1 else ():
        yield Place(tier, tokenizer, (tokenizer,), kind="tokenizer.json", on_failure=WARN)
    if not found and not tokenizers:
        other = any(os.path.lexists(p) for d in dirs for o in PINS.values() for p in _in(d, o))
        files = " and ".join(f.name for f in pin.files)
        yield Place(tier, label, outcome=f"holds neither {files} nor a tokenizer.json (looked in {subdirs_text()})",
                    on_failure=QUIET if other else WARN)


def model_roots(model_dir: str, environ: "Environ") -> "Tuple[List[str], str]":
    """``(roots, how)``: the directories a model directory or Hugging Face repo id stands for.

    A directory is its own root, when it is the user's own (see `safe_dir`). An ``org/name`` repo
    id is looked up in the local hub cache with no network: ``models--org--name/snapshots/<rev>/``,
    the revision named in ``refs/main`` first. `how` says what was found, or why nothing was."""
    path = user_path(environ, model_dir)
    parts = model_dir.split("/")
    repo_id = len(parts) == 2 and all(p[:1].isalnum() and all(c.isalnum() or c in "_.-" for c in p) for p in parts)
    if os.path.isdir(path) and (safe_dir(path) or not repo_id):
        return [path], "directory"
    if not repo_id:
        return [], "not a directory"
    hub = hf_hub_cache(environ)
    if hub is None:
        return [], "not a directory, nor a repo id in the Hugging Face cache (no home directory to find it in)"
    repo = os.path.join(hub, "models--" + "--".join(parts))
    snapshots = os.path.join(repo, "snapshots")
    try:
        revisions = sorted(e for e in os.listdir(snapshots) if os.path.isdir(os.path.join(snapshots, e)))
    except OSError:
        return [], f"not a directory, nor a repo id in the Hugging Face cache ({repo} missing)"
    try:
        from .files import read_regular

        main = read_regular(os.path.join(repo, "refs", "main"), 100, "a refs/main").decode("ascii").strip()
    except (OSError, ValueError):
        main = ""
    ordered = ([main] if main in revisions else []) + [r for r in revisions if r != main]
    return [os.path.join(snapshots, r) for r in ordered], "Hugging Face cache " + repo


def _package(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    found = data_dir(pin.wheel)
    if found is None and pin.wheel == "core":
        found = os.fspath(bundled_dir())  # a zip import: extracted
    if found is None:
        yield Place("package", WHEELS[pin.wheel]["distribution"], outcome=not_installed(pin.wheel))
    else:
        yield Place("package", ", ".join(_in(found, pin)), _in(found, pin), registrable=True)


def _cache(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    ours = cache_dir(environ)
    if ours is None:
        yield Place("cache", "harmony-vocab's cache", outcome=NO_CACHE_DIR)
    else:
        yield Place("cache", ", ".join(_in(ours, pin)), _in(ours, pin), registrable=True)
    if pin.name in harmony_cached():  # openai-harmony caches only the vocabs it knows
        paths = _in(harmony_cache_dir(environ), pin, "cache_key")
        yield Place("cache", ", ".join(paths), paths)
    tiktoken_dir = tiktoken_cache_dir(environ)
    if tiktoken_dir is None:
        yield Place("cache", "tiktoken's cache", outcome=f"disabled ({TIKTOKEN_CACHE_VARS[0]} is empty)")
    else:
        yield Place("cache", ", ".join(_in(tiktoken_dir, pin, "cache_key")), _in(tiktoken_dir, pin, "cache_key"))


def _download(pin: Pin, environ: "Environ", given: "Given") -> "Iterator[Place]":
    yield Place("download", ", ".join(u for f in pin.files for u in f.urls[:1]), kind="download")


class Tier:
    """One row of `TIERS`: its `name`, how a failing candidate there is treated (`on_failure`),
    the function yielding its places, and the settings that steer it (for the README's table)."""

    __slots__ = ("name", "on_failure", "places", "settings")

    def __init__(self, name: str, on_failure: str, places: "Callable[[Pin, Environ, Given], Iterator[Place]]",
                 settings: str) -> None:
        self.name, self.on_failure, self.places, self.settings = name, on_failure, places, settings


TIERS = (
    Tier("explicit", STRICT, _explicit, "`vocab_path=` (a file, any name), `vocab_dir=` (a directory holding "
         "the vocab's files); `--vocab-path`, `--vocab-dir`"),
    Tier("environment", WARN, _environment, f"`{ENV_PREFIX}<NAME>` (a file; a directory for gpt2), then "
         f"`{TIKTOKEN_ENCODINGS_BASE}` (a directory)"),
    Tier("model", WARN, _model, f"`model_dir=`, `--model-dir`, `{ENV_MODEL_DIR}`: a directory (searched in "
         + ", ".join(f"`{s or '.'}/`" for s in MODEL_SUBDIRS) + ") or a Hugging Face repo id in the local hub "
         "cache; a `tokenizer.json` is rebuilt into the vocab"),
    Tier("package", QUIET, _package, "the files inside the installed wheels (the companion's for its vocabs)"),
    Tier("cache", QUIET, _cache, f"ours (`{ENV_CACHE_DIR}`, else `$XDG_CACHE_HOME/harmony-vocab`, else "
         f"`~/.cache/harmony-vocab`), openai-harmony's (`{TIKTOKEN_RS_CACHE_DIR}`), tiktoken's "
         f"(`{TIKTOKEN_CACHE_VARS[0]}`, `{TIKTOKEN_CACHE_VARS[1]}`)"),
    Tier("download", QUIET, _download, f"`download=True`, `--download` or `{ENV_ALLOW_DOWNLOAD}=1`, never with "
         f"`{ENV_OFFLINE}=1`; `{ENV_BASE_URL}` (a mirror) first"),
)
"""The tiers, in lookup order: the first verified candidate wins."""


def places(pin: Pin, environ: "Environ", **given: "PathArg") -> "Iterator[Place]":
    """Every candidate place for `pin`, in lookup order (a generator: stop when found); `given`:
    ``vocab_path``, ``vocab_dir``, ``model_dir`` (an empty one counts as not given)."""
    chosen = {key: os.fspath(value) for key, value in given.items() if value}
    for tier in TIERS:
        yield from tier.places(pin, environ, chosen)


def tiers_table() -> str:
    """The README's table of the lookup order, from `TIERS`."""
    rows = ["| # | tier | settings | a candidate that fails |", "| --- | --- | --- | --- |"]
    rows += [f"| {i} | {t.name} | {t.settings} | {t.on_failure} |" for i, t in enumerate(TIERS, 1)]
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------ registration

def marker(tier: str, directory: str) -> str:
    """The value of ``HARMONY_VOCAB_REGISTERED`` for a registration of `directory`."""
    return tier + ":" + directory


def registration_enabled(environ: "Environ") -> bool:
    """False when ``HARMONY_VOCAB_AUTOREGISTER`` turns the start-up registration and the tiktoken
    hook off (the .pth line and ``_harmony_vocab_startup.enabled`` test the same words)."""
    return (environ.get(ENV_AUTOREGISTER) or "").strip().lower() not in FALSE_WORDS


def registered_by_us(environ: "Environ") -> "Optional[Tuple[str, str]]":
    """``(tier, directory)`` when ``TIKTOKEN_ENCODINGS_BASE`` holds what our registration set."""
    tier, sep, directory = environ.get(ENV_REGISTERED, "").partition(":")
    return (tier, directory) if sep and environ.get(TIKTOKEN_ENCODINGS_BASE) == directory else None


def harmony_readable(directory: str) -> bool:
    """Whether openai-harmony (Rust, which reads variables as UTF-8) can be pointed at `directory`."""
    try:
        return os.fsencode(directory).decode("utf-8", "replace") == directory
    except UnicodeError:  # a lone surrogate: no file system path at all
        return False


def startup_selection(environ: "Environ", looks_pinned: "Callable[[str], bool]") -> "Optional[Tuple[str, str]]":
    """``(tier, directory)``: where the start-up registration points openai-harmony, or None.

    The first place of the lookup order for the GPT-OSS vocab whose canonically named file passes
    `looks_pinned` (size and sampled bytes, no hashing), in a directory openai-harmony can read
    (UTF-8) and that is the user's own (`safe_dir`). A renamed file and a tokenizer.json are passed
    over; reaching openai-harmony's own cache means None: it reads that itself."""
    for place in places(harmony_pin(), environ):
        if place.paths is None or place.kind != "files":
            continue
        if place.tier == "cache" and not place.registrable:
            return None
        directory = os.path.dirname(place.paths[0])
        if (place.registrable and harmony_readable(directory) and safe_dir(directory)
                and looks_pinned(place.paths[0])):
            return place.tier, directory
    return None
