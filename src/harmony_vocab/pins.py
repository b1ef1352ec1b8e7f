"""The pins: what each known vocab file must be (name, size, sha256, ranks, URLs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from _harmony_vocab_lookup import PINS as _RAW_PINS

from .errors import UnknownVocabError


@dataclass(frozen=True)
class Pin:
    """One pinned vocab file."""

    name: str
    file: str
    sha256: str
    size: int
    ranks: int
    urls: Tuple[str, ...]
    byte_level_sha256: Optional[str] = None
    sample: str = ""
    """Bytes sampled at fixed offsets, hex: what the start-up registration compares."""
    cache_key: str = ""
    """The name openai-harmony and tiktoken give the file in their caches: sha1 of the URL."""

    def __post_init__(self) -> None:
        if not self.cache_key:
            object.__setattr__(self, "cache_key", url_cache_name(self.urls[0]))

    def as_dict(self) -> Dict[str, object]:
        """The pin as the start-up module's ``PINS`` entries are: field name -> value."""
        from dataclasses import asdict

        return asdict(self)

    @property
    def canonical_url(self) -> str:
        """The URL openai-harmony and tiktoken download from (and name their cache files after)."""
        return self.urls[0]


def pins_from_mapping(raw: Mapping[str, Mapping[str, object]]) -> Dict[str, Pin]:
    """Build `Pin` objects from manifest-shaped data (``{name: {file, sha256, ...}}``)."""
    return {
        name: Pin(
            name=name,
            file=str(entry["file"]),
            sha256=str(entry["sha256"]),
            size=int(str(entry["size"])),
            ranks=int(str(entry["ranks"])),
            urls=tuple(str(url) for url in entry["urls"]),  # type: ignore[attr-defined]
            byte_level_sha256=str(entry["byte_level_sha256"]) if "byte_level_sha256" in entry else None,
            sample=str(entry.get("sample", "")),
            cache_key=str(entry.get("cache_key", "")),
        )
        for name, entry in raw.items()
    }


PINS: Dict[str, Pin] = pins_from_mapping(_RAW_PINS)
VOCABS: Tuple[str, ...] = tuple(PINS)


def url_cache_name(url: str) -> str:
    """The file name openai-harmony and tiktoken give a download: the sha1 of its URL."""
    import hashlib

    return hashlib.sha1(url.encode()).hexdigest()


def get_pin(name: object) -> Pin:
    """Return the pin of a known vocab name; raise `UnknownVocabError` for anything else.

    Only exact known names are accepted, so no name can ever reach outside the data directory.
    A ``.tiktoken`` suffix is tolerated (``o200k_base.tiktoken`` is ``o200k_base``).
    """
    if isinstance(name, str):
        key = name[: -len(".tiktoken")] if name.endswith(".tiktoken") else name
        pin = PINS.get(key)
        if pin is not None:
            return pin
    raise UnknownVocabError(name, VOCABS)
