"""The lookup order as data: the one description of where a vocab may come from.

Stdlib ``os`` only. It holds, once for the whole project:

- the pins (generated from ``vocab_manifest.toml`` by ``hatch_build.py``);
- every variable name harmony-vocab reads (those start-up needs come from
  ``_harmony_vocab_startup``);
- `places`: the candidate places of the lookup order, in order, each with its tier and how a
  failure there is treated. ``harmony_vocab.resolve`` verifies them (sha256), ``verify`` and
  ``doctor`` list them, and `startup_selection` takes the first that passes the start-up check
  (size and sampled bytes, no hashing) and can be handed to openai-harmony. The model and cache
  tiers' places come from ``_harmony_vocab_paths``, imported only when the lookup gets there.

Interpreter start-up imports this module only when a setting asks for more than the package's
own files (see ``_harmony_vocab_startup.BEFORE_PACKAGE``).
"""

import os

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterator, Mapping, Union

    Environ = Mapping[str, str]
    Pin = Dict[str, Any]
    PathArg = Union[str, "os.PathLike[str]", None]

# What start-up needs is defined there, once; the lookup takes it from there.
from _harmony_vocab_startup import ENV_AUTOREGISTER as ENV_AUTOREGISTER
from _harmony_vocab_startup import ENV_REGISTERED as ENV_REGISTERED
from _harmony_vocab_startup import SAMPLE_BYTES as SAMPLE_BYTES
from _harmony_vocab_startup import SAMPLES as SAMPLES
from _harmony_vocab_startup import TIKTOKEN_ENCODINGS_BASE as TIKTOKEN_ENCODINGS_BASE
from _harmony_vocab_startup import env_value as env_value
from _harmony_vocab_startup import flag as flag
from _harmony_vocab_startup import looks_pinned as looks_pinned
from _harmony_vocab_startup import marker as marker
from _harmony_vocab_startup import open_regular as open_regular
from _harmony_vocab_startup import package_data_dir as package_data_dir
from _harmony_vocab_startup import registered_by_us as registered_by_us
from _harmony_vocab_startup import registration_enabled as registration_enabled
from _harmony_vocab_startup import sample_offsets as sample_offsets

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


def file_env_var(name: str) -> str:
    """The variable that names one vocab file, e.g. ``HARMONY_VOCAB_O200K_BASE``."""
    return ENV_PREFIX + name.upper()


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

    if model_dir or env_value(environ, ENV_MODEL_DIR):
        from _harmony_vocab_paths import model_places

        if model_dir:
            yield from model_places(pin, os.fspath(model_dir), "model_dir", environ)
        else:
            yield from model_places(pin, environ[ENV_MODEL_DIR], ENV_MODEL_DIR, environ)
    else:
        yield Place("model", "model_dir / " + ENV_MODEL_DIR, outcome="not set")

    package = package_dir if package_dir is not None else package_data_dir()
    if package is None:
        yield Place("package", "harmony_vocab/data", outcome="no package data directory found")
    else:
        path = os.path.join(package, file)
        yield Place("package", path, path, registrable=True)

    import _harmony_vocab_paths as paths  # the rest, only now: start-up rarely gets here

    yield from paths.cache_places(pin, environ)
    yield Place("download", ", ".join(pin["urls"]), kind="download")


def startup_selection(environ: "Environ" = os.environ, package_dir: "str | None" = None) -> "tuple[str, str] | None":
    """``(tier, directory)``: the directory the registration points openai-harmony at, or None.

    The first place of the lookup order for o200k_base (openai-harmony's GPT-OSS vocab) that
    passes `looks_pinned` and that openai-harmony can read (a canonically named file: a renamed
    file, a tokenizer.json and the caches named by URL hash are passed over). Reaching
    openai-harmony's own cache means None: it reads that cache itself."""
    name = VOCABS[0]
    pin = PINS[name]
    for place in places(name, environ, package_dir=package_dir):
        if place.path is None or place.kind != "vocab":
            continue
        if place.tier == "cache" and not place.registrable:
            return None  # openai-harmony's own cache is next: it reads that itself
        if place.registrable and looks_pinned(place.path, pin):
            return place.tier, os.path.dirname(place.path)
    return None


# ------------------------------------------------------------------------------ start-up


