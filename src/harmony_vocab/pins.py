"""The pins: what each known vocab file must be (name, size, sha256, ranks, URLs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from ._pins import PINS as _RAW_PINS
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
        )
        for name, entry in raw.items()
    }


PINS: Dict[str, Pin] = pins_from_mapping(_RAW_PINS)
VOCABS: Tuple[str, ...] = tuple(PINS)


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
