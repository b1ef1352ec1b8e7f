"""The pins: what every known vocab file must be, from ``vocab_manifest.toml``.

The build hook writes the manifest into ``_pins.py`` (a build artifact); this module gives it a
shape. Plain classes with ``__slots__``: no dataclasses, so that the CLI starts fast.
"""

from .errors import UnknownVocabError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Mapping, Optional, Tuple

try:
    from ._pins import PINS as _RAW, WHEELS as _RAW_WHEELS
except ImportError:  # pragma: no cover - a source tree that was never built
    raise ImportError("harmony_vocab/_pins.py is missing: it is generated from vocab_manifest.toml by "
                      "the build (pip install -e ., or python hatch_build.py)") from None


def url_cache_name(url: str) -> str:
    """The name openai-harmony and tiktoken give a download in their caches: the sha1 of its URL."""
    import hashlib

    return hashlib.sha1(url.encode()).hexdigest()


class File:
    """One pinned file: its `name` in a vocab directory, `sha256`, `size`, `urls` (canonical
    first) and `cache_key` (its name in openai-harmony's and tiktoken's caches)."""

    __slots__ = ("vocab", "name", "sha256", "size", "urls")

    def __init__(self, vocab: str, name: str, sha256: str, size: int, urls: "Tuple[str, ...]") -> None:
        self.vocab, self.name, self.sha256, self.size, self.urls = vocab, name, sha256, size, tuple(urls)

    @property
    def cache_key(self) -> str:
        return url_cache_name(self.urls[0])

    def __repr__(self) -> str:
        return f"File({self.vocab!r}, {self.name!r}, {self.size})"


class Pin:
    """One pinned vocab: `name`, the `files` it is made of, the `wheel` that ships it, whether
    openai-harmony's GPT-OSS encoding reads it (`harmony`), the tiktoken `encodings` built on it,
    and for a ``.tiktoken`` vocab its `ranks` and `byte_level_sha256` (see the manifest)."""

    __slots__ = ("name", "files", "wheel", "harmony", "encodings", "ranks", "byte_level_sha256",
                 "file", "sha256", "size", "urls")

    def __init__(self, name: str, files: "Tuple[File, ...]", wheel: str = "core", harmony: bool = False,
                 encodings: "Tuple[str, ...]" = (), ranks: int = 0,
                 byte_level_sha256: "Optional[str]" = None) -> None:
        self.name, self.files, self.wheel, self.harmony = name, tuple(files), wheel, harmony
        self.encodings = tuple(encodings) or (name,)
        self.ranks, self.byte_level_sha256 = ranks, byte_level_sha256
        # A vocab of one file (all but gpt2): that file's fields (`cache_key` below too).
        first = self.files[0]
        self.file, self.sha256, self.size, self.urls = first.name, first.sha256, first.size, first.urls

    def __repr__(self) -> str:
        return f"Pin({self.name!r}, files={[f.name for f in self.files]}, wheel={self.wheel!r})"

    cache_key = File.cache_key  # File's property, read on the first file's `urls` copied above


def pin_from_mapping(name: str, entry: "Mapping[str, Any]") -> Pin:
    """A `Pin` from a manifest entry (``[vocab.<name>]``)."""
    files = tuple(File(name, f["name"], f["sha256"], int(f["size"]), tuple(f["urls"])) for f in entry["files"])
    return Pin(name, files, entry.get("wheel", "core"), bool(entry.get("harmony", False)),
               tuple(entry.get("encodings", ())), int(entry.get("ranks", 0)), entry.get("byte_level_sha256"))


_ENTRIES: "Dict[str, Any]" = _RAW  # generated literals: mypy would infer object for mixed values
PINS: "Dict[str, Pin]" = {name: pin_from_mapping(name, entry) for name, entry in _ENTRIES.items()}
VOCABS: "Tuple[str, ...]" = tuple(PINS)
"""Every pinned vocab name, core and companion, in manifest order."""
WHEELS: "Dict[str, Dict[str, str]]" = {k: dict(v) for k, v in _RAW_WHEELS.items()}
"""Each wheel built from this repository: its ``distribution`` and ``package`` names."""


def harmony_cached() -> "Tuple[str, ...]":
    """The vocabs openai-harmony's Rust core knows, and so caches: the core wheel's."""
    return tuple(name for name, pin in PINS.items() if pin.wheel == "core")


def harmony_pin() -> Pin:
    """The pin of the vocab openai-harmony's GPT-OSS encoding reads (o200k_base)."""
    return next(pin for pin in PINS.values() if pin.harmony)


def get_pin(name: object) -> Pin:
    """The pin of a known vocab name; `UnknownVocabError` (listing the known ones) for anything
    else. Only exact names are accepted, so no name can reach outside a data directory; a
    ``.tiktoken`` suffix is tolerated (``o200k_base.tiktoken`` is ``o200k_base``)."""
    pin = PINS.get(name.removesuffix(".tiktoken")) if isinstance(name, str) else None
    if pin is None:
        raise UnknownVocabError(name, VOCABS)
    return pin


def file_for_url(url: str) -> "Optional[File]":
    """The pinned file whose URLs include `url`."""
    return _BY_URL.get(url)


_BY_URL = {url: f for pin in PINS.values() for f in pin.files for url in f.urls}
